"""Forecasts and flags of a resource's usage (issue 16, point 7): pure computation, no database code.

`services/forecasts.py` reads what this needs (usage against limits from `metering`, monthly totals,
lowered totals) and stores the result in `ResourceForecast`, which the API, the GUI and the filters read.

- **Rate**: the month-to-date usage plus the last `RATE_MONTHS` whole months, per day, counted from the
  resource's creation (or its first month with usage, if earlier) at the earliest.
- **Runs out**: per limited component (a limit from the resource's limits or the component's
  `limit_amount`, as `metering` reads it), the day "used" (`metering`'s, per limit period) reaches the limit
  at that rate: today if it already has, none if the rate is zero or the day falls after the end of the
  limit period (the limit starts over; a `total` limit never does).
- **Flags** (`FLAGS`, one list read by the API, the GUI and the filters):
  `runs_out_before_end`: a component not over its limit runs out before the resource's end date (any day
  when there is none); `over_limit`: a component is over its limit (`metering`'s "over");
  `usage_fell`: a month's total was lowered (a revision with new < old) since the first day of the month
  `FELL_MONTHS` months back; `spike`: this or last month is over `SPIKE_FACTOR` times the median of the months
  before it (from the first reported month, at most `SPIKE_LOOKBACK`, months without a report as 0), with at
  least `SPIKE_HISTORY` such months and a median above 0.
"""

from __future__ import annotations

import datetime
import math
import statistics
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from efp.marketplace.billing_months import add_months, first_day, quarter_start, year_start
from efp.marketplace.metering import LP, ComponentStatus

RATE_MONTHS = 3
FELL_MONTHS = 3
SPIKE_FACTOR = 3
SPIKE_HISTORY = 3
SPIKE_LOOKBACK = 12
MAX_DAYS = 100 * 366  # a forecast further out than this is no forecast
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Flag:
    name: str
    label: str
    description: str


FLAGS: tuple[Flag, ...] = (
    Flag(
        "runs_out_before_end",
        "Runs out before its end",
        "At its current rate a limit runs out before the resource's end date.",
    ),
    Flag("over_limit", "Over a limit", "Usage is over a limit."),
    Flag("usage_fell", "Usage lowered", f"A month's total was lowered in the last {FELL_MONTHS} months."),
    Flag(
        "spike",
        "Usage spike",
        f"This or last month is over {SPIKE_FACTOR} times the median of the months before.",
    ),
)
FLAG_NAMES: tuple[str, ...] = tuple(flag.name for flag in FLAGS)
FLAG_LABELS: dict[str, str] = {flag.name: flag.label for flag in FLAGS}
FLAG_CHOICES: list[tuple[str, str]] = [(flag.name, flag.label) for flag in FLAGS]

Monthly = dict[datetime.date, Decimal]  # first day of a month → that month's total


@dataclass
class LimitForecast:
    used: Decimal
    limit: Decimal
    rate_per_day: Decimal
    runs_out: datetime.date | None
    over: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "runs_out": self.runs_out.isoformat() if self.runs_out else None,
            "rate_per_day": _text(self.rate_per_day),
            "used": _text(self.used),
            "limit": _text(self.limit),
        }


@dataclass
class Forecast:
    flags: list[str] = field(default_factory=list)
    limits: dict[str, LimitForecast] = field(default_factory=dict)

    def limits_json(self) -> dict[str, dict[str, Any]]:
        return {component: forecast.as_json() for component, forecast in self.limits.items()}


def _text(value: Decimal) -> str:
    """8.00 → "8", 0.2500 → "0.25": the same text on every database."""
    text = f"{value.normalize():f}"
    return text


def window_start(today: datetime.date, months: int) -> datetime.date:
    return add_months(first_day(today), -months)


def daily_rate(monthly: Monthly, *, today: datetime.date, since: datetime.date) -> Decimal:
    """Month-to-date plus the last RATE_MONTHS whole months, per day (from `since` at the earliest)."""
    start = max(window_start(today, RATE_MONTHS), since)
    if start > today:
        return Decimal(0)
    days = (today - start).days + 1
    total = sum(
        (value for month, value in monthly.items() if first_day(start) <= month <= first_day(today)),
        Decimal(0),
    )
    return (Decimal(total) / days).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def period_end(limit_period: str | None, today: datetime.date) -> datetime.date | None:
    """The last day of the limit period `today` is in; None for a limit over the resource's whole life."""
    if limit_period == LP.TOTAL:
        return None
    if limit_period == LP.QUARTERLY:
        start, months = quarter_start(today), 3
    elif limit_period == LP.ANNUAL:
        start, months = year_start(today), 12
    else:
        start, months = first_day(today), 1
    return add_months(start, months) - datetime.timedelta(days=1)


def runs_out(
    *, used: Decimal, limit: Decimal, rate: Decimal, today: datetime.date, end: datetime.date | None
) -> datetime.date | None:
    if limit <= 0:
        return None  # nothing to run out of
    remaining = limit - used
    if remaining <= 0:
        return today
    if rate <= 0:
        return None
    days = math.ceil(remaining / rate)
    if days > MAX_DAYS:
        return None
    day = today + datetime.timedelta(days=days)
    return None if end is not None and day > end else day


def spikes(monthly: Monthly, *, today: datetime.date) -> bool:
    """This or last month over SPIKE_FACTOR times the median of the months before it (see the module)."""
    if not monthly:
        return False
    first = min(monthly)
    current = first_day(today)
    for month in (current, add_months(current, -1)):
        start = max(first, add_months(month, -SPIKE_LOOKBACK))
        previous = []
        day = start
        while day < month:
            previous.append(monthly.get(day, Decimal(0)))
            day = add_months(day, 1)
        if len(previous) < SPIKE_HISTORY:
            continue
        median = Decimal(statistics.median(previous))
        if median > 0 and monthly.get(month, Decimal(0)) > SPIKE_FACTOR * median:
            return True
    return False


def forecast(
    *,
    statuses: list[ComponentStatus],
    monthly: dict[str, Monthly],
    lowered: bool,
    today: datetime.date,
    created: datetime.date,
    end_date: datetime.date | None,
) -> Forecast:
    """The forecast of one resource: `statuses` from `metering.summarise`, `monthly` totals per component
    type, `lowered` whether a month's total was lowered since `window_start(today, FELL_MONTHS)`."""
    result = Forecast()
    flags: set[str] = set()
    for status in statuses:
        history = monthly.get(status.type, {})
        if spikes(history, today=today):
            flags.add("spike")
        if status.limit is None:
            continue
        first = min(history) if history else created
        since = first if first < first_day(created) else created  # usage back-filled before creation
        rate = daily_rate(history, today=today, since=since)
        over = status.level == "over"
        day = runs_out(
            used=status.used,
            limit=status.limit,
            rate=rate,
            today=today,
            end=period_end(status.limit_period, today),
        )
        result.limits[status.type] = LimitForecast(
            used=status.used, limit=status.limit, rate_per_day=rate, runs_out=day, over=over
        )
        if over:
            flags.add("over_limit")
        elif day is not None and (end_date is None or day < end_date):
            flags.add("runs_out_before_end")
    if lowered:
        flags.add("usage_fell")
    result.flags = [name for name in FLAG_NAMES if name in flags]
    return result
