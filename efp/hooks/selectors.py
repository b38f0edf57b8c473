"""What a user may see of hooks: their own (staff: everybody's)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from efp.hooks.models import EmailHook, WebHook, WebhookDelivery


def visible_web_hooks(user: Any) -> QuerySet[WebHook]:
    hooks = WebHook.objects.select_related("user")
    if not getattr(user, "is_authenticated", False):
        return hooks.none()
    return hooks if user.is_staff else hooks.filter(user=user)


def visible_email_hooks(user: Any) -> QuerySet[EmailHook]:
    hooks = EmailHook.objects.select_related("user")
    if not getattr(user, "is_authenticated", False):
        return hooks.none()
    return hooks if user.is_staff else hooks.filter(user=user)


def hook_deliveries(hook: WebHook) -> QuerySet[WebhookDelivery]:
    """A hook's deliveries, newest first, with their event and attempts (two queries per page)."""
    return (
        WebhookDelivery.objects.filter(hook=hook)
        .select_related("event", "resend_of")
        .prefetch_related("attempts")
        .order_by("-created", "-pk")
    )
