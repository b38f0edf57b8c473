"""Formatting for the GUI: numbers without noise, ages, user names."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.text import capfirst

from efp.marketplace.forecasts import FLAGS, Flag
from efp.marketplace.models import ResourceForecast
from efp.marketplace.selectors import is_provider_user
from efp.marketplace.state_words import order_state_words, resource_state_words
from efp.notifications.services import unread_count
from efp.web import charts

register = template.Library()


@register.filter
def num(value: Decimal | float | int | None) -> str:
    """Limits: whole numbers without decimals."""
    return charts.number(value)


@register.filter
def amount(value: Decimal | float | int | None) -> str:
    """Usage amounts: always two decimals, so that a column of them lines up."""
    return charts.amount(value)


@register.filter
def age(since: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """How long ago: "5 min", "3 h", "2 days"."""
    if since is None:
        return ""
    seconds = int(((now or timezone.now()) - since).total_seconds())
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''}"


@register.filter
def order_state(value: str) -> str:
    """An order state in words ("pending-provider" → "Waiting for the provider"; `state_words`)."""
    return capfirst(order_state_words(value))


@register.filter
def resource_state(resource: Any) -> str:
    """A resource's state in words ("Being set up", "Awaiting approval" while its create order waits)."""
    return capfirst(resource_state_words(resource))


@register.filter
def who(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


@register.filter
def usage_flags(resource: Any) -> list[Flag]:
    """The flags of a resource's stored forecast (the list's queryset joins `forecast`), in FLAGS order."""
    try:
        forecast = resource.forecast
    except ResourceForecast.DoesNotExist:
        return []
    names = set(forecast.flag_list)
    return [flag for flag in FLAGS if flag.name in names]


@register.filter
def state_class(state: str) -> str:
    return "state-" + str(state).lower().replace(" ", "-")


@register.filter
def equals(value: Any, other: Any) -> bool:
    """For `include ... with waiting=order.state|equals:pending` (include cannot take an expression)."""
    return bool(value == other)


@register.simple_tag(takes_context=True)
def provider_entry(context: template.Context) -> bool:
    """Whether the top bar shows "Service Provider": only for users with a provider role."""
    request = context.get("request")
    if request is None:
        return False
    known = getattr(request, "provider_user", None)  # a workspace page has asked (web/access.py)
    return bool(known if known is not None else is_provider_user(request.user))


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """`prices|get:component.type`: a dict item by a key from the template."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.inclusion_tag("web/_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    """The bell of the top bar: my unread notifications, as a number in words (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"unread": unread_count(user) if user is not None else 0}


@register.inclusion_tag("web/_sort_header.html")
def sort_header(sorting: Any, column: str, css_class: str = "") -> dict[str, Any]:
    """A sortable column header (`efp.web.sorting.Sorting`); `css_class` such as "num" for figures."""
    return {**sorting.header(column), "css_class": css_class}


@register.inclusion_tag("web/_sort_link.html")
def sort_link(sorting: Any, column: str) -> dict[str, Any]:
    """A sort choice of a list without column headers (a list of cards): `aria-current` when chosen."""
    return sorting.header(column)
