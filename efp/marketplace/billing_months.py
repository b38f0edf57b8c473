"""Billing months: the one place that says which month a moment belongs to and how months are counted.

A billing month is named by its first day (a `date`) and computed in `settings.TIME_ZONE`
(docs/contract.md §7.3). The usage service, the API, the GUI, the demo data and the scale seed all read
months from here.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def billing_period_of(moment: datetime.datetime) -> datetime.date:
    """The first day of the month of `moment` in settings.TIME_ZONE."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zone())
    return moment.astimezone(zone()).date().replace(day=1)


def current_month() -> datetime.date:
    """The billing month of now."""
    return billing_period_of(timezone.now())


def first_day(day: datetime.date) -> datetime.date:
    """The billing month of a calendar day."""
    return day.replace(day=1)


def month_start(period: datetime.date) -> datetime.datetime:
    """The instant a billing month starts, in settings.TIME_ZONE."""
    return datetime.datetime(period.year, period.month, 1, tzinfo=zone())


def add_months(period: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months` after (or before, when negative) the month of `period`."""
    index = period.year * 12 + period.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_range(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """The months from `start` to `end`, both included, oldest first."""
    months, month = [], first_day(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def year_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 1, 1)


def month_key(period: datetime.date) -> str:
    """A month as "YYYY-MM" (what `parse_month` reads back): the GUI's month fields and selectors."""
    return f"{period:%Y-%m}"


def parse_month(value: str | None) -> datetime.date | None:
    """ "YYYY-MM" as the month's first day; None for anything else."""
    match = MONTH_RE.match(value or "")
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        return None
    return datetime.date(year, month, 1)


# A range of months asked for by a report (usage coverage, usage reports): closed months by default.
DEFAULT_SPAN_MONTHS = 6
MAX_SPAN_MONTHS = 36


def parse_span(raw_from: str | None, raw_to: str | None) -> tuple[list[datetime.date], dict[str, list[str]]]:
    """`from` and `to` as "YYYY-MM" (both included) → the months, oldest first, or the errors per field.

    Absent: `to` is last month and `from` the month `DEFAULT_SPAN_MONTHS - 1` before `to`. At most
    `MAX_SPAN_MONTHS` months; `from` after `to` is an error of `to`."""
    errors: dict[str, list[str]] = {}
    last = add_months(current_month(), -1)
    end = parse_month(raw_to) if raw_to else last
    if end is None:
        errors["to"] = ["Enter a month as YYYY-MM."]
    start = parse_month(raw_from) if raw_from else add_months(end or last, 1 - DEFAULT_SPAN_MONTHS)
    if start is None:
        errors["from"] = ["Enter a month as YYYY-MM."]
    if errors or start is None or end is None:
        return [], errors
    if start > end:
        return [], {"to": ["Must not be before from."]}
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_SPAN_MONTHS:
        return [], {"to": [f"At most {MAX_SPAN_MONTHS} months at a time."]}
    return month_range(start, end), {}
