"""The hooks' part of the demo (`efp demo`, through `marketplace.demo.built`): `provider` has a web hook
on the resources group whose receiver is not running, so its deliveries show attempts and retries.
Idempotent; skipped (with a word) where private destinations are refused (EFP_WEBHOOK_ALLOW_PRIVATE)."""

from __future__ import annotations

import logging
from typing import Any

from efp.errors import InvalidInput
from efp.hooks import services
from efp.hooks.models import WebHook

logger = logging.getLogger(__name__)
# Port 9 ("discard"): nothing listens there on a demo machine, so every attempt is refused and retried.
DEMO_DESTINATION = "http://127.0.0.1:9/efp-demo-receiver"


def add_demo_hook(sender: Any, users: dict[str, Any], **kwargs: Any) -> None:
    provider = users["provider"]
    if WebHook.objects.filter(user=provider, destination_url=DEMO_DESTINATION).exists():
        return
    try:
        services.create_web_hook(user=provider, destination_url=DEMO_DESTINATION, event_groups=["resources"])
    except InvalidInput:
        logger.warning("Demo web hook skipped: set EFP_WEBHOOK_ALLOW_PRIVATE=true to add it.")
