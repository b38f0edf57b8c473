"""Formatting for the GUI: numbers without noise, ages, user names."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from efp.marketplace.selectors import is_provider_user
from efp.web import charts

register = template.Library()


@register.filter
def num(value: Decimal | float | int | None) -> str:
    return charts.number(value)


@register.filter
def age(since: datetime.datetime | None) -> str:
    if since is None:
        return ""
    seconds = int((timezone.now() - since).total_seconds())
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@register.filter
def who(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


@register.filter
def state_class(state: str) -> str:
    return "state-" + str(state).lower().replace(" ", "-")


@register.filter
def get(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def provider_entry(context: template.Context) -> bool:
    """Whether the top bar shows "Service Provider": only for users with a provider role."""
    request = context.get("request")
    return bool(request is not None and is_provider_user(request.user))
