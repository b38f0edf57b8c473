"""EFP_PASSWORD_LOGIN=false switches usernames and passwords off everywhere they are checked (the GUI's
and the admin's login, `/api-auth/password/`): every password check goes through this backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


def password_login() -> bool:
    return bool(settings.PASSWORD_LOGIN)


class PasswordSwitch(ModelBackend):
    """Django's ModelBackend while password login is on; it recognises no password while it is off."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:  # fmt: skip
        if not password_login():
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
