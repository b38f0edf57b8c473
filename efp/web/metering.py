"""Usage against limits per resource and component, for lists, tiles and the dashboard.

A fixed number of queries whatever the number of resources. "Used" follows the contract's
`limit_usage` (§6.2): the month's value for a monthly (or unset) limit period, the sum over the
quarter, year or whole life of the resource otherwise.
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

from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource, UsageRevision

BT = OfferingComponent.BillingType
LP = OfferingComponent.LimitPeriod
METERED = (BT.USAGE, BT.LIMIT)
HIGH_PERCENT = 90


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + (day.month - 1) + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


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


def metered_components(offering_ids: Iterable[int]) -> dict[int, list[OfferingComponent]]:
    by_offering: dict[int, list[OfferingComponent]] = defaultdict(list)
    for component in OfferingComponent.objects.filter(
        offering_id__in=set(offering_ids), billing_type__in=METERED
    ).order_by("offering_id", "pk"):
        by_offering[component.offering_id].append(component)
    return by_offering


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


def summarise_queryset(
    resources: QuerySet[Resource], *, today: datetime.date
) -> dict[int, list[ComponentStatus]]:
    """Same as `summarise` for a whole queryset (filters and dashboard), without last-report details."""
    rows = list(resources.only("pk", "offering_id", "limits"))
    usages = ComponentUsage.objects.filter(resource__in=resources.values("pk"))
    return _summarise(rows, usages, today, with_last_report=False)


def _summarise(
    resources: list[Resource],
    usages: QuerySet[ComponentUsage],
    today: datetime.date,
    with_last_report: bool,
) -> dict[int, list[ComponentStatus]]:
    this_month = month_start(today)
    last_month = add_months(this_month, -1)
    components = metered_components(r.offering_id for r in resources)
    totals: dict[tuple[int, int], Any] = {}
    for totals_row in usages.values("resource_id", "component_id").annotate(
        total=Sum("usage"),
        month=Sum("usage", filter=Q(billing_period=this_month)),
        months=Count("pk", filter=Q(billing_period=this_month)),
        previous=Sum("usage", filter=Q(billing_period=last_month)),
        previous_count=Count("pk", filter=Q(billing_period=last_month)),
        quarter=Sum("usage", filter=Q(billing_period__gte=quarter_start(today))),
        year=Sum("usage", filter=Q(billing_period__gte=datetime.date(today.year, 1, 1))),
    ):
        totals[(totals_row["resource_id"], totals_row["component_id"])] = totals_row
    last = _last_reports(usages) if with_last_report else {}

    result: dict[int, list[ComponentStatus]] = {}
    for resource in resources:
        statuses = []
        for component in components.get(resource.offering_id, []):
            row: dict[str, Any] = totals.get((resource.pk, component.pk), {})
            zero = Decimal(0)
            by_period: dict[str, Decimal | None] = {
                LP.QUARTERLY: row.get("quarter"),
                LP.ANNUAL: row.get("year"),
                LP.TOTAL: row.get("total"),
            }
            used = by_period.get(component.limit_period or "", row.get("month"))
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
