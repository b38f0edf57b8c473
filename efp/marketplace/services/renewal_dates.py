"""Renewals' dates: what a renew order says and when the extended allocation ends (no database writes).

A renew order is an Update whose `attributes` carry `action: "renew"`, `old_end_date`, `new_end_date`
and `extension_months` (Waldur's wire). The new end counts the months from the current end date, or
from today when there is none or it has passed (docs/compatibility.md "Renewals and end dates").
"""

from __future__ import annotations

import calendar
import datetime

from django.utils.dateparse import parse_date

from efp.marketplace.models import Order

RENEW = "renew"
MAX_EXTENSION_MONTHS = 60


def plus_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def new_end_date(old: datetime.date | None, months: int, *, today: datetime.date) -> datetime.date:
    start = old if old is not None and old >= today else today
    return plus_months(start, months)


def is_renewal(order: Order) -> bool:
    return isinstance(order.attributes, dict) and order.attributes.get("action") == RENEW


def renewed_end_date(order: Order) -> datetime.date | None:
    raw = order.attributes.get("new_end_date")
    return parse_date(str(raw)) if raw else None
