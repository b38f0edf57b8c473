"""Usage against limits: the read model the API (`limit_usage` of a resource) and the GUI (lists, tiles,
the dashboard, Show usage and Report usage) both read.

A fixed number of queries whatever the number of resources. "Used" follows the contract's
`limit_usage` (docs/contract.md §6.2): the month's value for a monthly (or unset) limit period, the sum
over the quarter, year or whole life of the resource otherwise (`used_in_period`).

Which resources are at or above a percentage of a limit (the dashboard's tile, the GUI's `min_percent`) is
read from `ResourceLimitUsage` (`at_or_above`), which `services/limit_usage.py` stores from `summarise`:
the same computation, kept per resource and component, one index range per limit period.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import RowNumber

from efp.marketplace.billing_months import add_months, current_month, first_day, quarter_start, year_start
from efp.marketplace.models import (
    ComponentUsage,
    OfferingComponent,
    Resource,
    ResourceLimitUsage,
    UsageRevision,
)

BT = OfferingComponent.BillingType
LP = OfferingComponent.LimitPeriod
METERED = (BT.USAGE, BT.LIMIT)
HIGH_PERCENT = 90


# Limit periods whose usage is the sum of the period's monthly records (docs/contract.md §6.2).
SUMMED_PERIODS = (LP.QUARTERLY, LP.ANNUAL, LP.TOTAL)

PERIOD_LABELS: dict[str | None, str] = {
    None: "this month",
    LP.MONTH: "this month",
    LP.QUARTERLY: "this quarter",
    LP.ANNUAL: "this year",
    LP.TOTAL: "in total",
}


@dataclass
class ComponentStatus:
    type: str
    name: str
    unit: str
    billing_type: str
    limit_period: str | None
    limit: Decimal | None
    used: Decimal
    this_month: Decimal | None  # None: nothing reported this month
    last_month: Decimal | None
    reported: bool = False  # anything ever reported for this component
    last_reported_at: datetime.datetime | None = None
    last_reported_period: datetime.date | None = None
    last_reported_by: str = ""
    last_reported_via: str = ""
    component_id: int = 0

    @property
    def used_label(self) -> str:
        return PERIOD_LABELS.get(self.limit_period, "this month")

    @property
    def percent(self) -> int | None:
        if self.limit is None:
            return None
        if self.limit <= 0:
            return 100 if self.used > 0 else 0
        return int((self.used * 100 / self.limit).to_integral_value(rounding="ROUND_FLOOR"))

    @property
    def bar_percent(self) -> int:
        return max(0, min(100, self.percent or 0))

    @property
    def level(self) -> str:
        percent = self.percent
        if percent is None:
            return "none"
        if percent > 100:
            return "over"
        if percent >= HIGH_PERCENT:
            return "high"
        return "ok"

    @property
    def level_text(self) -> str:
        return {
            "none": "no limit",
            "over": "over the limit",
            "high": f"at or above {HIGH_PERCENT} %",
            "ok": "within the limit",
        }[self.level]


def period_sums(today: datetime.date) -> dict[str, Sum]:
    """Aggregates of a usage queryset: the sum over each of SUMMED_PERIODS up to `today`'s month."""
    return {
        LP.QUARTERLY: Sum("usage", filter=Q(billing_period__gte=quarter_start(today))),
        LP.ANNUAL: Sum("usage", filter=Q(billing_period__gte=year_start(today))),
        LP.TOTAL: Sum("usage"),
    }


TOTAL_START = datetime.date(1, 1, 1)  # the one period of a total limit: the resource's whole life


def counted_period(limit_period: str | None) -> str:
    """The period whose usage counts against a limit: the limit's own, or the month (monthly, unset)."""
    return str(limit_period) if limit_period in SUMMED_PERIODS else LP.MONTH


def period_start(period: str, today: datetime.date) -> datetime.date:
    """When the `counted_period` that holds `today` began."""
    starts: dict[str, datetime.date] = {
        LP.MONTH: first_day(today),
        LP.QUARTERLY: quarter_start(today),
        LP.ANNUAL: year_start(today),
    }
    return starts.get(period, TOTAL_START)


def current_periods(today: datetime.date) -> Q:
    """`ResourceLimitUsage` rows computed in the periods that hold `today` (the others are over)."""
    current = Q()
    for period in (LP.MONTH, *SUMMED_PERIODS):
        current |= Q(period=period, period_start=period_start(period, today))
    return current


def at_or_above(resources: QuerySet[Resource], percent: int, today: datetime.date) -> QuerySet[Resource]:
    """`resources` with a limit used at or above `percent` % (`highest_percent(summarise(...)) >= percent`),
    from the maintained `ResourceLimitUsage`: a row of a period that is over stands for 0 used now (0 %),
    so above 0 % only the current periods' rows count; at 0 %, every resource with a limit."""
    rows = ResourceLimitUsage.objects.all()
    if percent > 0:
        rows = rows.filter(current_periods(today), percent__gte=percent)
    return resources.filter(pk__in=rows.values("resource_id"))


def used_in_period(limit_period: str | None, sums: dict[str, Any], this_month: Decimal | float | None) -> Any:
    """What counts against a limit: the period's sum (`sums`, keyed by limit period) for the summed
    periods, this month's value for a monthly or unset one."""
    if limit_period in SUMMED_PERIODS:
        return sums.get(str(limit_period))
    return this_month


def limit_usage_sums(resources: list[Resource]) -> dict[int, dict[str, dict[str, Decimal]]]:
    """{resource id: {component type: {limit period: sum}}} of limit components, one query: what the
    API's `limit_usage` reads for the summed periods of a page of resources."""
    if not resources:
        return {}
    rows = (
        ComponentUsage.objects.filter(
            resource_id__in=[r.pk for r in resources], component__billing_type=BT.LIMIT
        )
        .values("resource_id", "component__type")
        .annotate(**period_sums(current_month()))
        .order_by()
    )
    sums: dict[int, dict[str, dict[str, Decimal]]] = defaultdict(dict)
    for row in rows:
        values: dict[str, Any] = dict(row)
        sums[row["resource_id"]][row["component__type"]] = {
            period: values[period] for period in SUMMED_PERIODS
        }
    return sums


def limit_usage(
    resource: Resource, components: Iterable[OfferingComponent], sums: dict[int, dict[str, dict[str, Any]]]
) -> dict[str, float | None]:
    """The wire's `limit_usage` (§6.2): per limit component, this month's usage as last reported
    (`current_usages`) or the summed period's total from `limit_usage_sums`."""
    current = resource.current_usages or {}
    result: dict[str, float | None] = {}
    for component in components:
        if component.billing_type != BT.LIMIT:
            continue
        value = used_in_period(
            component.limit_period,
            sums.get(resource.pk, {}).get(component.type, {}),
            current.get(component.type),
        )
        result[component.type] = float(value) if value is not None else None
    return result


def metered_components(offering_ids: Iterable[int]) -> dict[int, list[OfferingComponent]]:
    by_offering: dict[int, list[OfferingComponent]] = defaultdict(list)
    for component in OfferingComponent.objects.filter(
        offering_id__in=set(offering_ids), billing_type__in=METERED
    ).order_by("offering_id", "pk"):
        by_offering[component.offering_id].append(component)
    return by_offering


def may_be_limited(component: OfferingComponent) -> bool:
    """Can `_limit_of` give this component a limit (for some resource)? Usage of the others moves no
    limit (`services/limit_usage.refresh_after_usage`)."""
    if component.billing_type == BT.LIMIT:
        return True
    return component.billing_type in METERED and component.limit_amount is not None


def _limit_of(resource: Resource, component: OfferingComponent) -> Decimal | None:
    if component.billing_type == BT.LIMIT:
        raw = (resource.limits or {}).get(component.type)
        return None if raw is None else Decimal(str(raw))
    if component.limit_amount is not None:
        return Decimal(component.limit_amount)
    return None


def summarise(
    resources: list[Resource], *, today: datetime.date, with_last_report: bool = True
) -> dict[int, list[ComponentStatus]]:
    """{resource pk: one ComponentStatus per usage- or limit-billed component}; 2-3 queries."""
    if not resources:
        return {}
    ids = [r.pk for r in resources]
    return _summarise(resources, ComponentUsage.objects.filter(resource_id__in=ids), today, with_last_report)


def _summarise(
    resources: list[Resource],
    usages: QuerySet[ComponentUsage],
    today: datetime.date,
    with_last_report: bool,
) -> dict[int, list[ComponentStatus]]:
    this_month = first_day(today)
    last_month = add_months(this_month, -1)
    components = metered_components(r.offering_id for r in resources)
    totals: dict[tuple[int, int], Any] = {}
    for totals_row in usages.values("resource_id", "component_id").annotate(
        month=Sum("usage", filter=Q(billing_period=this_month)),
        months=Count("pk", filter=Q(billing_period=this_month)),
        previous=Sum("usage", filter=Q(billing_period=last_month)),
        previous_count=Count("pk", filter=Q(billing_period=last_month)),
        **period_sums(today),
    ):
        totals[(totals_row["resource_id"], totals_row["component_id"])] = totals_row
    last = _last_reports(usages) if with_last_report else {}

    result: dict[int, list[ComponentStatus]] = {}
    for resource in resources:
        statuses = []
        for component in components.get(resource.offering_id, []):
            row: dict[str, Any] = totals.get((resource.pk, component.pk), {})
            zero = Decimal(0)
            used = used_in_period(component.limit_period, row, row.get("month"))
            status = ComponentStatus(
                type=component.type,
                name=component.name,
                unit=component.measured_unit,
                billing_type=component.billing_type,
                limit_period=component.limit_period,
                limit=_limit_of(resource, component),
                used=used or zero,
                this_month=row.get("month") if row.get("months") else None,
                last_month=row.get("previous") if row.get("previous_count") else None,
                reported=bool(row),
                component_id=component.pk,
            )
            report = last.get((resource.pk, component.pk))
            if report is not None:
                status.last_reported_at = report["modified"]
                status.last_reported_period = report["billing_period"]
                status.last_reported_by = report["last_actor"] or ""
                status.last_reported_via = (
                    UsageRevision.Source(report["last_source"]).label
                    if report["last_source"] in UsageRevision.Source.values
                    else (report["last_source"] or "")
                )
            statuses.append(status)
        result[resource.pk] = statuses
    return result


def _last_reports(usages: QuerySet[ComponentUsage]) -> dict[tuple[int, int], Any]:
    """The most recently written ComponentUsage per (resource, component), with who wrote it and how."""
    revisions = UsageRevision.objects.filter(component_usage=OuterRef("pk"), username="").order_by(
        "-created", "-pk"
    )
    latest = (
        usages.order_by()
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("resource_id"), F("component_id")],
                order_by=[F("modified").desc(), F("pk").desc()],
            ),
            last_source=Subquery(revisions.values("source")[:1]),
            last_actor=Subquery(revisions.values("actor__username")[:1]),
        )
        .filter(rank=1)
        .values("resource_id", "component_id", "modified", "billing_period", "last_source", "last_actor")
    )
    return {(row["resource_id"], row["component_id"]): row for row in latest}


def highest_percent(statuses: list[ComponentStatus]) -> int | None:
    percents = [s.percent for s in statuses if s.percent is not None]
    return max(percents) if percents else None
