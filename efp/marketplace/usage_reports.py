"""The monthly usage report across allocations: per organisation, project, offering, usage component and
month, the usage reported and its cost at the plan's prices. Read by `/api/marketplace-usage-reports/`
and the GUI pages `/provider/usage-report/` and `/my/usage-report/` (table, chart and CSV).

- Only usage-billed components (`billing_type="usage"`): their cost is usage times price. Limit-billed ones
  are charged on their limit, fixed ones per plan, so neither is a cost of the usage.
- The price is the `PlanComponent.price` of the plan in force for the record: the plan of the record's
  plan period; a record without one (a back-filled month) takes the plan period overlapping its month
  (the latest to start), for a month before every period the first period's plan, after every period the
  last one's, and without any period the resource's plan. A resource that switched plan mid-month has
  one record per plan period, each priced at its own plan. A component without a price on that plan
  costs 0.
- Costs are exact decimals, rounded to cents per row.

Three queries whatever the number of rows: the month's records summed per resource, component and plan;
the plan periods of records without one; the prices of the plans involved.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum

from efp.marketplace.billing_months import add_months, month_key, month_start
from efp.marketplace.models import (
    ComponentUsage,
    OfferingComponent,
    PlanComponent,
    Resource,
    ResourcePlanPeriod,
)

CENT = Decimal("0.01")


@dataclass
class ReportRow:
    customer_uuid: str
    customer_name: str
    project_uuid: str
    project_name: str
    offering_uuid: str
    offering_name: str
    component_type: str
    component_name: str
    measured_unit: str
    month: datetime.date
    usage: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    def as_wire(self) -> dict[str, Any]:
        return {
            "customer_uuid": self.customer_uuid,
            "customer_name": self.customer_name,
            "project_uuid": self.project_uuid,
            "project_name": self.project_name,
            "offering_uuid": self.offering_uuid,
            "offering_name": self.offering_name,
            "component_type": self.component_type,
            "component_name": self.component_name,
            "measured_unit": self.measured_unit,
            "billing_period": month_key(self.month),
            "usage": f"{self.usage:.2f}",
            "cost": f"{self.cost:.2f}",
        }


CSV_HEADER = [
    "customer_uuid",
    "customer_name",
    "project_uuid",
    "project_name",
    "offering_uuid",
    "offering_name",
    "component_type",
    "component_name",
    "measured_unit",
    "billing_period",
    "usage",
    "cost",
]

_FIELDS = (
    "resource_id",
    "resource__plan_id",
    "plan_period__plan_id",
    "component_id",
    "billing_period",
    "resource__project__customer__uuid",
    "resource__project__customer__name",
    "resource__project__uuid",
    "resource__project__name",
    "resource__offering__uuid",
    "resource__offering__name",
    "component__type",
    "component__name",
    "component__measured_unit",
)


def plan_in_month(periods: list[ResourcePlanPeriod], month: datetime.date) -> int | None:
    """The plan of the period overlapping the month (the latest to start); for a month before every
    period, the first period's plan; after every period, the last one's."""
    begins, ends = month_start(month), month_start(add_months(month, 1))
    overlapping = [p for p in periods if p.start < ends and (p.end is None or p.end > begins)]
    if overlapping:
        return max(overlapping, key=lambda p: (p.start, p.pk)).plan_id
    later = [p for p in periods if p.start >= ends]
    if later:
        return min(later, key=lambda p: (p.start, p.pk)).plan_id
    return max(periods, key=lambda p: (p.start, p.pk)).plan_id if periods else None


def report(resources: QuerySet[Resource], months: list[datetime.date]) -> list[ReportRow]:
    """The rows for `resources` over `months` (oldest first), ordered by organisation, project, offering,
    component and month."""
    if not months:
        return []
    records = list(
        ComponentUsage.objects.filter(
            resource_id__in=resources.values("pk"),
            component__billing_type=OfferingComponent.BillingType.USAGE,
            billing_period__gte=months[0],
            billing_period__lte=months[-1],
        )
        .order_by()
        .values(*_FIELDS)
        .annotate(total=Sum("usage"))
    )
    without_period = {r["resource_id"] for r in records if r["plan_period__plan_id"] is None}
    periods: dict[int, list[ResourcePlanPeriod]] = defaultdict(list)
    if without_period:
        for period in ResourcePlanPeriod.objects.filter(resource_id__in=without_period).only(
            "resource_id", "plan_id", "start", "end"
        ):
            periods[period.resource_id].append(period)
    for record in records:
        plan = record["plan_period__plan_id"]
        if plan is None:
            plan = plan_in_month(periods[record["resource_id"]], record["billing_period"])
        record["plan"] = plan if plan is not None else record["resource__plan_id"]
    plans = {r["plan"] for r in records if r["plan"] is not None}
    prices = {
        (plan, component): price
        for plan, component, price in PlanComponent.objects.filter(
            Q(plan_id__in=plans), component__billing_type=OfferingComponent.BillingType.USAGE
        ).values_list("plan_id", "component_id", "price")
    }
    rows: dict[tuple[Any, ...], ReportRow] = {}
    for record in records:
        key = (
            record["resource__project__customer__name"],
            record["resource__project__customer__uuid"],
            record["resource__project__name"],
            record["resource__project__uuid"],
            record["resource__offering__name"],
            record["resource__offering__uuid"],
            record["component__type"],
            record["billing_period"],
        )
        row = rows.get(key)
        if row is None:
            row = rows[key] = ReportRow(
                customer_uuid=record["resource__project__customer__uuid"].hex,
                customer_name=record["resource__project__customer__name"],
                project_uuid=record["resource__project__uuid"].hex,
                project_name=record["resource__project__name"],
                offering_uuid=record["resource__offering__uuid"].hex,
                offering_name=record["resource__offering__name"],
                component_type=record["component__type"],
                component_name=record["component__name"],
                measured_unit=record["component__measured_unit"],
                month=record["billing_period"],
            )
        usage = Decimal(record["total"] or 0)
        row.usage += usage
        row.cost += usage * prices.get((record["plan"], record["component_id"]), Decimal(0))
    for row in rows.values():
        row.usage = row.usage.quantize(CENT)
        row.cost = row.cost.quantize(CENT)
    return [rows[key] for key in sorted(rows, key=lambda k: (*k[:6], k[6], k[7]))]


@dataclass
class Total:
    """A sum of rows: usage per component (types differ in unit, so never summed across) and cost."""

    label: str
    usage: dict[tuple[str, str], Decimal]
    cost: Decimal

    @property
    def parts(self) -> list[tuple[str, Decimal, str]]:
        """(component name, usage, unit) in the order first met."""
        return [(name, value, unit) for (name, unit), value in self.usage.items()]


def totals(rows: list[ReportRow], key: Any) -> list[Total]:
    """Rows summed by `key(row)` (a label), in the order the labels first appear."""
    grouped: dict[str, Total] = {}
    for row in rows:
        label = key(row)
        total = grouped.setdefault(label, Total(label, defaultdict(Decimal), Decimal(0)))
        total.usage[(row.component_name, row.measured_unit)] += row.usage
        total.cost += row.cost
    return list(grouped.values())
