"""Usage coverage: for each resource and month, was usage reported, is it missing, or was none due?

The one rule for "missing usage reports", read by the API (`/api/marketplace-usage-coverage/`), the GUI
matrix, the provider dashboard and the resources list's "No usage reported for month" filter.

A month is **due** when all of these hold:
- the offering has a usage-billed component (`billing_type="usage"`); limit-billed ones are not reported
  monthly;
- the resource was live in the month: created before the month ended and not terminated (the move to
  Terminated in force) before the month began, nor terminated for the whole month and restored later
  (between its first move to Terminated and its last restore); a resource that never reached OK (still
  Creating, or failed) was never live. The start is `created`, not the move to OK: the same start the
  dashboard's and the notifications' "created before" always used, and the one the demo data can set;
- the month has closed: the current month is not due until it ends (a provider reports it up to its last
  day), and future months never are.

A due month is **reported** when a component usage of one of those usage components exists for it (any
value, zero included), else **missing**. Every other month is **not_due**.

The live window is stored on the resource (`live_from`, `live_until`), kept by the transitions
(`services/_transitions.py`) and backfilled from the events by migration 0016: from `created` once the
resource was first activated (moved to OK; a bulk-loaded row without events, unless still Creating), until
its move to Terminated (cleared by a restore, which stores the gap: `gap_from`, `gap_until`). Every
question is SQL over those columns and the index of the usage rows, so its cost does not grow with the
resources that do not answer it: `live_in_any` (a row of the matrix), `missing_in` (a missing report for a
month), `with_missing` (a row with a missing month), `missing_count` (the missing cells of every row;
`offerings_missing_count` for whole offerings, from the maintained counts of their live and reported
months, `CoverageMonth`, kept by `services/coverage_months`); `rows` then reads the months reported of
the rows shown.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from efp.marketplace.billing_months import (
    add_months,
    billing_period_of,
    current_month,
    month_key,
    month_start,
)
from efp.marketplace.models import ComponentUsage, CoverageMonth, OfferingComponent, Resource

REPORTED, MISSING, NOT_DUE = "reported", "missing", "not_due"
STATES = (REPORTED, MISSING, NOT_DUE)
LABELS = {REPORTED: "Reported", MISSING: "Missing", NOT_DUE: "Not due"}

USAGE = OfferingComponent.BillingType.USAGE


@dataclass
class CoverageRow:
    """One resource over a range of months (`months` keyed by the month's first day, oldest first)."""

    resource_id: int
    uuid: str
    name: str
    project_name: str
    customer_name: str
    offering_name: str
    live_from: datetime.datetime | None
    live_until: datetime.datetime | None
    metered: bool
    months: dict[datetime.date, str] = field(default_factory=dict)
    gap_from: datetime.datetime | None = None  # a restored resource: terminated from ...
    gap_until: datetime.datetime | None = None  # ... until restored

    def live_in(self, month: datetime.date) -> bool:
        return window_live_in(month, self.live_from, self.live_until, self.gap_from, self.gap_until)

    def due_in(self, month: datetime.date, current: datetime.date) -> bool:
        return self.metered and month < current and self.live_in(month)

    @property
    def missing(self) -> int:
        return sum(1 for state in self.months.values() if state == MISSING)

    def as_wire(self) -> dict[str, Any]:
        return {
            "resource_uuid": self.uuid,
            "resource_name": self.name,
            "project_name": self.project_name,
            "customer_name": self.customer_name,
            "offering_name": self.offering_name,
            "months": {month_key(month): state for month, state in self.months.items()},
        }


Moment = datetime.datetime | None


def window_live_in(
    month: datetime.date, live_from: Moment, live_until: Moment, gap_from: Moment, gap_until: Moment
) -> bool:
    """`live_in` of SQL, for one resource's window."""
    start, end = month_start(month), month_start(add_months(month, 1))
    if live_from is None or live_from >= end:
        return False
    if live_until is not None and live_until < start:
        return False
    return not (gap_from is not None and gap_until is not None and gap_from <= start and end <= gap_until)


def window_changes(
    live_from: Moment, live_until: Moment, gap_from: Moment, gap_until: Moment
) -> dict[datetime.date, int]:
    """The live months of one resource's window as changes: +1 at a month where a run of live months
    starts, -1 at the month after it ends; summed over the months up to `month`, 1 when `window_live_in`.
    Live months run from the month of `live_from` to that of `live_until` (or on), less the months wholly
    inside the gap: from the first starting at or after `gap_from` to the last ending at or before
    `gap_until`."""
    changes: dict[datetime.date, int] = {}

    def run(first: datetime.date, last: datetime.date | None) -> None:
        if last is not None and last < first:
            return
        changes[first] = changes.get(first, 0) + 1
        if last is not None:
            after = add_months(last, 1)
            changes[after] = changes.get(after, 0) - 1

    if live_from is None:
        return changes
    first = billing_period_of(live_from)
    last = None if live_until is None else billing_period_of(live_until)
    if gap_from is None or gap_until is None:
        run(first, last)
        return {month: change for month, change in changes.items() if change}
    gap_first = billing_period_of(gap_from)
    if month_start(gap_first) < gap_from:
        gap_first = add_months(gap_first, 1)
    gap_last = add_months(billing_period_of(gap_until), -1)
    if gap_last < gap_first:  # no month wholly inside the gap
        run(first, last)
    else:
        run(first, min(last, add_months(gap_first, -1)) if last is not None else add_months(gap_first, -1))
        run(max(first, add_months(gap_last, 1)), last)
    return {month: change for month, change in changes.items() if change}


def _month_end(month: datetime.date) -> datetime.datetime:
    return month_start(add_months(month, 1))


def live_in(month: datetime.date, *, via: str = "") -> Q:
    """Live at some time in `month` (`via`: the path to the resource, as "resource__"): in its window and
    not wholly inside a restored resource's gap."""
    start, end = month_start(month), _month_end(month)
    outside_gap = (
        Q(**{f"{via}gap_from__isnull": True})
        | Q(**{f"{via}gap_from__gt": start})
        | Q(**{f"{via}gap_until__lt": end})
    )
    return (
        Q(**{f"{via}live_from__lt": end})
        & (Q(**{f"{via}live_until__isnull": True}) | Q(**{f"{via}live_until__gte": start}))
        & outside_gap
    )


def live_in_any(months: list[datetime.date]) -> Q:
    """Live at some time in the range `months` (oldest first, consecutive)."""
    return Q(live_from__lt=_month_end(months[-1])) & (
        Q(live_until__isnull=True) | Q(live_until__gte=month_start(months[0]))
    )


@dataclass(frozen=True)
class _Metering:
    """The usage components of every offering (one query: there are few offerings), as literal keys the
    planner can estimate and match to the indexes."""

    offerings: frozenset[int]
    components: tuple[int, ...]

    @classmethod
    def read(cls) -> _Metering:
        pairs = list(OfferingComponent.objects.filter(billing_type=USAGE).values_list("offering_id", "pk"))
        return cls(frozenset(offering for offering, _ in pairs), tuple(component for _, component in pairs))

    def metered(self) -> Q:
        """The offering has a usage-billed component."""
        return Q(offering_id__in=sorted(self.offerings))

    def reported(self, month: datetime.date) -> Exists:
        """A usage of a usage component exists for `month` (a probe of the usage index)."""
        return Exists(
            ComponentUsage.objects.filter(
                resource_id=OuterRef("pk"), billing_period=month, component_id__in=self.components
            )
        )


def _missing(months: list[datetime.date]) -> Q | None:
    """Missing in one of `months` at least; None when none of them is closed (nothing can be missing)."""
    closed = [month for month in months if month < current_month()]
    if not closed:
        return None
    metering = _Metering.read()
    either = Q()
    for month in closed:
        either |= live_in(month) & Q(~metering.reported(month))
    return metering.metered() & either


def missing_in(resources: QuerySet[Resource], month: datetime.date) -> QuerySet[Resource, int]:
    """The keys of the resources whose report for `month` is missing (a query: count it, or filter by it)."""
    return with_missing(resources, [month]).values_list("pk", flat=True)


def with_missing(resources: QuerySet[Resource], months: list[datetime.date]) -> QuerySet[Resource]:
    """The resources with a missing report for one of `months` at least."""
    missing = _missing(months)
    return resources.none() if missing is None else resources.filter(missing)


def offerings_missing_count(offerings: list[int], months: list[datetime.date]) -> int:
    """The missing cells of every resource of `offerings` over `months`, from the maintained counts
    (`CoverageMonth`): the live resources of each closed month less those that reported it, one sum over a
    few rows per offering, the same cost at any number of resources."""
    closed = [month for month in months if month < current_month()]
    if not closed:
        return 0
    metering = _Metering.read()
    counts = CoverageMonth.objects.filter(
        offering_id__in=sorted(metering.offerings.intersection(offerings)), billing_period__lte=closed[-1]
    )
    sums = counts.aggregate(
        reported=Sum("reported", filter=Q(billing_period__gte=closed[0])),
        **{
            f"m{i}": Sum("live_change", filter=Q(billing_period__lte=month)) for i, month in enumerate(closed)
        },
    )
    reported = sums.pop("reported") or 0
    return sum(live or 0 for live in sums.values()) - reported


def missing_count(resources: QuerySet[Resource], months: list[datetime.date]) -> int:
    """The missing cells of `resources` over `months`: the due cells (a count of the live-window index)
    less the reported ones (a range of the usage index, each row's resource live in its month). Reads each
    due cell once, not one probe per cell; `offerings_missing_count` when they are whole offerings."""
    closed = [month for month in months if month < current_month()]
    if not closed:
        return 0
    metering = _Metering.read()
    due_in = resources.filter(metering.metered() & live_in_any(closed))
    due = due_in.aggregate(**{f"m{i}": Count("pk", filter=live_in(month)) for i, month in enumerate(closed)})
    live_then = Q()
    for month in closed:
        live_then |= Q(billing_period=month) & live_in(month, via="resource__")
    reported = (
        ComponentUsage.objects.filter(
            live_then,
            resource_id__in=due_in.values("pk"),
            component_id__in=metering.components,
            billing_period__gte=closed[0],
            billing_period__lte=closed[-1],
        )
        .order_by()
        .values("resource_id", "billing_period")
        .distinct()
        .count()
    )
    return sum(count or 0 for count in due.values()) - reported


ROW_FIELDS = (
    "pk",
    "uuid",
    "name",
    "project__name",
    "project__customer__name",
    "offering__name",
    "live_from",
    "live_until",
    "gap_from",
    "gap_until",
)


def row_values(resources: QuerySet[Resource]) -> QuerySet[Resource, dict[str, Any]]:
    """What `rows` needs of each resource, in the queryset's order (slice it for a page)."""
    usage_components = OfferingComponent.objects.filter(
        offering_id=OuterRef("offering_id"), billing_type=USAGE
    )
    return resources.annotate(metered=Exists(usage_components)).values(*ROW_FIELDS, "metered")


def rows(values: Any, months: list[datetime.date], *, reported_of: Any = None) -> list[CoverageRow]:
    """The coverage rows of `values` (from `row_values`, in their order) over `months`; one more query for
    the months reported of these resources (`reported_of`: a queryset of their keys, else the keys)."""
    current = current_month()
    result = [
        CoverageRow(
            resource_id=v["pk"],
            uuid=v["uuid"].hex,
            name=v["name"],
            project_name=v["project__name"],
            customer_name=v["project__customer__name"],
            offering_name=v["offering__name"],
            live_from=v["live_from"],
            live_until=v["live_until"],
            metered=v["metered"],
            gap_from=v["gap_from"],
            gap_until=v["gap_until"],
        )
        for v in values
    ]
    if not result or not months:
        return result
    usages = ComponentUsage.objects.filter(component__billing_type=USAGE)
    if reported_of is None:
        # The page's keys and months as literals, not parameters: PostgreSQL may switch a prepared
        # statement to its generic plan after five runs on a connection, and that plan, blind to the 25 keys
        # and the months, scans the months (0.2-1.3 s at 100,000 resources, docs/performance.md). The keys
        # are integers read from the database, the months dates.
        table = ComponentUsage._meta.db_table
        keys = ", ".join(str(int(row.resource_id)) for row in result)
        first, last = (month.isoformat() for month in (months[0], months[-1]))
        where = f"{table}.resource_id IN ({keys}) AND {table}.billing_period BETWEEN '{first}' AND '{last}'"
        usages = usages.extra(where=[where])  # noqa: S610
    else:
        usages = usages.filter(
            resource_id__in=reported_of, billing_period__gte=months[0], billing_period__lte=months[-1]
        )
    reported = set(usages.order_by().values_list("resource_id", "billing_period").distinct())
    for row in result:
        for month in months:
            if not row.due_in(month, current):
                row.months[month] = NOT_DUE
            elif (row.resource_id, month) in reported:
                row.months[month] = REPORTED
            else:
                row.months[month] = MISSING
    return result


ORDER = ("project__customer__name", "project__name", "name", "pk")


def coverage(
    resources: QuerySet[Resource], months: list[datetime.date], *, only_live: bool = True
) -> list[CoverageRow]:
    """The coverage of `resources` over `months` (oldest first), ordered by organisation, project and
    resource name. `only_live`: leave out resources live in none of the months."""
    if not months:
        return []
    if only_live:
        resources = resources.filter(live_in_any(months))
    return rows(row_values(resources.order_by(*ORDER)), months, reported_of=resources.values("pk"))
