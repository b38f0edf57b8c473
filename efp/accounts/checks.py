"""`efp check --deploy`: the development secret key is public, so production must not run with it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SECRET_KEY != settings.DEVELOPMENT_SECRET_KEY:
        return []
    return [
        Warning(
            "EFP_SECRET_KEY is not set: the development key in efp/settings.py is public, so anyone can "
            "forge sessions and password-reset links.",
            hint="Set EFP_SECRET_KEY to a long random value, e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'.",
            id="efp.W001",
        )
    ]
