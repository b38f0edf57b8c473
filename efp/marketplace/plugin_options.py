"""The offering `plugin_options` that order creation computes with, read and checked in one place.

Readers are tolerant: a value that is missing or malformed counts as unset, so a bad option saved
through the admin can never break ordering. Writers (API, admin) refuse such values with `errors()`.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.dateparse import parse_date

# Whole numbers of days or resources, with their largest sensible value (a century still fits a date).
WHOLE_NUMBER_RANGES = {
    "default_resource_termination_offset_in_days": 36500,
    "max_resource_termination_offset_in_days": 36500,
    "maximal_resource_count_per_project": 1_000_000,
}
DATE_KEYS = ("latest_date_for_resource_termination",)
# The site agent's per-member sync report is taken (`set_membership_sync_statuses`) and shown.
MEMBERSHIP_SYNC_STATUS = "enable_membership_sync_status"
FLAG_KEYS = (MEMBERSHIP_SYNC_STATUS,)


def _number(raw: Any, maximum: int) -> int | None:
    if isinstance(raw, bool) or raw in (None, ""):
        return None
    try:
        number = int(str(raw))
    except ValueError:
        return None
    return number if 0 <= number <= maximum else None


def _date(raw: Any) -> datetime.date | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError:  # well formed but impossible, e.g. 2030-02-31
        return None


def whole_number(options: dict[str, Any] | None, key: str) -> int | None:
    return _number((options or {}).get(key), WHOLE_NUMBER_RANGES[key])


def iso_date(options: dict[str, Any] | None, key: str) -> datetime.date | None:
    return _date((options or {}).get(key))


def flag(options: dict[str, Any] | None, key: str) -> bool:
    """A yes/no option: only `true` counts as set."""
    assert key in FLAG_KEYS, key
    return (options or {}).get(key) is True


def reports_membership_sync(options: dict[str, Any] | None) -> bool:
    return flag(options, MEMBERSHIP_SYNC_STATUS)


def errors(options: dict[str, Any]) -> list[str]:
    problems = []
    for key, maximum in WHOLE_NUMBER_RANGES.items():
        if options.get(key) not in (None, "") and _number(options.get(key), maximum) is None:
            problems.append(f"{key} must be a whole number from 0 to {maximum}.")
    for key in DATE_KEYS:
        if options.get(key) not in (None, "") and _date(options.get(key)) is None:
            problems.append(f"{key} must be a date (YYYY-MM-DD).")
    for key in FLAG_KEYS:
        if key in options and not isinstance(options[key], bool):
            problems.append(f"{key} must be true or false.")
    return problems
