"""What a customer owes for one month: the lines of its invoice, computed and not written (services.py
writes them). Exact `Decimal` arithmetic; a line's price is `unit_price x quantity` rounded half up to
cents (Waldur's `quantize_price`), an invoice's price the sum of its lines' prices.

For each resource of the customer's projects, over the part of the month it was live (the coverage's
rule: the window stored on the resource, `live_from` and `live_until`; from `created` if it reached OK,
until it was first terminated),
split by the plan in force (its plan periods; without any, the resource's plan):
- **plan**: the plan's `unit_price` for that time, in the plan's unit: a month, half a month or a quarter
  as the fraction of its days that were live (whole local days, settings.TIME_ZONE), days, or started
  hours; a plan priced per `quantity` is billed once, in the month the resource went live;
- **fixed** components: the plan component's price x its amount, for that time as the plan;
- **limit** components: the price x the resource's limit, for that time as the plan;
- **usage** components: the price x the month's reported usage (each ComponentUsage row, priced by the plan
  in force as the usage report prices it, `efp.marketplace.usage_reports`), whether or not the resource was
  live;
- **one-time** components: the price x the limit (else the plan's amount, else 1), once, in the month the
  resource went live;
- **prepaid** components (`is_prepaid`, whatever their billing type but usage): paid in advance for the
  resource's term, once, in the month it went live: the price x the limit (else the amount) x the months
  from then to its end date (one month without an end date).
- **plan-switch** components (`few`, Waldur's "one-time on plan switch"): the new plan's price x the limit
  (else the plan's amount, else 1), once, in the month the resource moved to that plan from another (a
  plan period that starts where one on another plan ended; a restore after termination is no switch);
Lines with a zero price are left out.

Five queries per customer and month, whatever the number of resources.
"""

from __future__ import annotations

import datetime
import math
from calendar import monthrange
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from efp.marketplace.billing_months import add_months, billing_period_of, month_start, zone
from efp.marketplace.models import (
    ComponentUsage,
    OfferingComponent,
    Plan,
    PlanComponent,
    Resource,
    ResourcePlanPeriod,
)
from efp.marketplace.usage_reports import plan_in_month

# Columns the lines never read (large JSON and text): left out of the resources' query.
UNREAD = (
    "attributes", "current_usages", "options", "backend_metadata", "report", "error_traceback", "description",
    "offering__attributes", "offering__options", "offering__plugin_options", "offering__description",
    "offering__terms_of_service", "project__description",
)  # fmt: skip
CENT = Decimal("0.01")
QUANTUM = Decimal("0.0000000001")  # a quantity's precision (Waldur 8's DecimalField(22, 10))
BT = OfferingComponent.BillingType
UNIT = Plan.Unit


def quantize_price(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quantize_quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    """One invoice item before it is written. `key` names it across refreshes (its uuid then stays)."""

    resource: Resource
    billing_type: str
    plan: Plan | None
    component: OfferingComponent | None
    name: str
    unit: str
    unit_price: Decimal
    quantity: Decimal
    start: datetime.datetime
    end: datetime.datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def price(self) -> Decimal:
        return quantize_price(self.unit_price * self.quantity)

    @property
    def key(self) -> tuple[Any, ...]:
        return (
            self.resource.pk,
            self.billing_type,
            self.plan.pk if self.plan else None,
            self.component.pk if self.component else None,
            self.start,
        )


def live_days(start: datetime.datetime, end: datetime.datetime) -> int:
    """The local calendar days touched by [start, end)."""
    first = start.astimezone(zone()).date()
    last = (end - datetime.timedelta(microseconds=1)).astimezone(zone()).date()
    return (last - first).days + 1


def time_quantity(
    unit: str, start: datetime.datetime, end: datetime.datetime, month: datetime.date
) -> Decimal:
    """How many `unit`s [start, end) (within `month`) is."""
    month_days = Decimal(monthrange(month.year, month.month)[1])
    days = Decimal(live_days(start, end))
    if unit == UNIT.HOUR:
        return Decimal(math.ceil((end - start).total_seconds() / 3600))
    if unit == UNIT.DAY:
        return days
    if unit == UNIT.HALF_MONTH:
        return quantize_quantity(days * 2 / month_days)
    if unit == UNIT.QUARTER:
        return quantize_quantity(days / (month_days * 3))
    return quantize_quantity(days / month_days)  # a month


@dataclass
class _Segment:
    plan: Plan
    start: datetime.datetime
    end: datetime.datetime
    switched: bool = False  # it begins where the resource moved to `plan` from another plan


def _switched(period: ResourcePlanPeriod, periods: list[ResourcePlanPeriod]) -> bool:
    return any(other.end == period.start and other.plan_id != period.plan_id for other in periods)


def _clip(
    start: datetime.datetime,
    end: datetime.datetime | None,
    lower: datetime.datetime,
    upper: datetime.datetime,
) -> tuple[datetime.datetime, datetime.datetime] | None:
    low, high = max(start, lower), min(end or upper, upper)
    return (low, high) if low < high else None


def _term_months(resource: Resource, first: datetime.date) -> int:
    if resource.end_date is None:
        return 1
    last = resource.end_date.replace(day=1)
    return max(1, (last.year - first.year) * 12 + last.month - first.month + 1)


class _Month:
    """The lines of one customer's month; reads everything it needs in five queries."""

    def __init__(self, customer: Any, month: datetime.date) -> None:
        self.month = month
        self.lower, self.upper = month_start(month), month_start(add_months(month, 1))
        resources = Resource.objects.filter(project__customer=customer, created__lt=self.upper)
        self.resources = list(
            resources.select_related("project", "plan", "offering__customer__service_provider")
            .defer(*UNREAD)
            .order_by("created", "pk")
        )
        ids = [resource.pk for resource in self.resources]
        self.periods: dict[int, list[ResourcePlanPeriod]] = defaultdict(list)
        for period in ResourcePlanPeriod.objects.filter(resource_id__in=ids).select_related("plan"):
            self.periods[period.resource_id].append(period)
        self.usages = list(
            ComponentUsage.objects.filter(resource_id__in=ids, billing_period=month)
            .only("resource_id", "component_id", "plan_period_id", "usage")
            .order_by("resource_id", "component_id", "pk")
        )
        plan_ids = {r.plan_id for r in self.resources if r.plan_id is not None} | {
            p.plan_id for periods in self.periods.values() for p in periods if p.plan_id is not None
        }
        self.prices: dict[int, list[PlanComponent]] = defaultdict(list)
        for component in (
            PlanComponent.objects.filter(plan_id__in=plan_ids).select_related("component").order_by("pk")
        ):
            self.prices[component.plan_id].append(component)
        self.by_period = {p.pk: p for periods in self.periods.values() for p in periods}
        self.components = {p.component_id: p.component for prices in self.prices.values() for p in prices}

    def lines(self) -> list[Line]:
        by_id = {resource.pk: resource for resource in self.resources}
        lines: list[Line] = []
        for resource in self.resources:
            lines.extend(self._time_lines(resource))
        for usage in self.usages:
            line = self._usage_line(by_id[usage.resource_id], usage)
            if line is not None:
                lines.append(line)
        return [line for line in lines if line.price != 0]

    def _segments(self, resource: Any) -> list[_Segment]:
        if resource.live_from is None:
            return []
        live = _clip(resource.live_from, resource.live_until, self.lower, self.upper)
        if live is None:
            return []
        periods = self.periods.get(resource.pk)
        if not periods:
            return [_Segment(resource.plan, *live)] if resource.plan else []
        segments = []
        for period in periods:
            clipped = _clip(period.start, period.end, *live)
            if clipped is not None:
                switched = clipped[0] == period.start and _switched(period, periods)
                segments.append(_Segment(period.plan, *clipped, switched=switched))
        return segments

    def _time_lines(self, resource: Any) -> list[Line]:
        segments = self._segments(resource)
        first_month = resource.live_from is not None and billing_period_of(resource.live_from) == self.month
        lines = []
        for index, segment in enumerate(segments):
            plan, start, end = segment.plan, segment.start, segment.end
            opening = first_month and index == 0
            if plan.unit == UNIT.QUANTITY:
                if opening:
                    lines.append(
                        self._line(
                            resource,
                            "plan",
                            plan,
                            None,
                            UNIT.QUANTITY,
                            plan.unit_price,
                            Decimal(1),
                            start,
                            end,
                        )
                    )
            else:
                quantity = time_quantity(plan.unit, start, end, self.month)
                lines.append(
                    self._line(resource, "plan", plan, None, plan.unit, plan.unit_price, quantity, start, end)
                )
            for price in self.prices.get(plan.pk, []):
                lines.extend(self._component_lines(resource, segment, price, opening))
        return lines

    def _component_lines(
        self, resource: Any, segment: _Segment, price: PlanComponent, opening: bool
    ) -> list[Line]:
        component, plan = price.component, segment.plan
        limit = Decimal(str((resource.limits or {}).get(component.type, 0) or 0))
        amount = limit or Decimal(price.amount)
        if component.billing_type == BT.USAGE:
            return []
        if component.is_prepaid:
            if not opening:
                return []
            months = _term_months(resource, self.month)
            return [
                self._line(
                    resource,
                    "prepaid",
                    plan,
                    component,
                    UNIT.QUANTITY,
                    price.price,
                    amount * months,
                    segment.start,
                    segment.end,
                )
            ]
        if component.billing_type in (BT.ONE, BT.FEW):
            once = opening if component.billing_type == BT.ONE else segment.switched
            if not once:
                return []
            return [
                self._line(
                    resource,
                    component.billing_type,
                    plan,
                    component,
                    UNIT.QUANTITY,
                    price.price,
                    amount or Decimal(1),
                    segment.start,
                    segment.end,
                )
            ]
        if component.billing_type in (BT.FIXED, BT.LIMIT):
            base = Decimal(price.amount) if component.billing_type == BT.FIXED else limit
            quantity = quantize_quantity(
                base * time_quantity(plan.unit, segment.start, segment.end, self.month)
            )
            return [
                self._line(
                    resource,
                    component.billing_type,
                    plan,
                    component,
                    plan.unit,
                    price.price,
                    quantity,
                    segment.start,
                    segment.end,
                )
            ]
        return []

    def _usage_line(self, resource: Any, usage: ComponentUsage) -> Line | None:
        component = self.components.get(usage.component_id)  # None: priced on none of the plans
        if component is None or component.billing_type != BT.USAGE or usage.usage == 0:
            return None
        period = self.by_period.get(usage.plan_period_id) if usage.plan_period_id else None
        if period is not None:
            plan: Plan | None = period.plan
        else:  # the usage report's rule for a record without a plan period
            plan_id = plan_in_month(self.periods.get(resource.pk, []), self.month) or resource.plan_id
            plans = {p.plan_id: p.plan for p in self.periods.get(resource.pk, [])}
            plan = plans.get(plan_id) or (resource.plan if resource.plan_id == plan_id else None)
        if plan is None:
            return None
        price = next((p.price for p in self.prices.get(plan.pk, []) if p.component_id == component.pk), None)
        if price is None:
            return None
        start, end = self.lower, self.upper
        if period is not None:
            clipped = _clip(period.start, period.end, self.lower, self.upper)
            if clipped is not None:
                start, end = clipped
        return self._line(resource, "usage", plan, component, UNIT.QUANTITY, price, usage.usage, start, end)

    def _line(
        self,
        resource: Any,
        billing_type: str,
        plan: Plan | None,
        component: OfferingComponent | None,
        unit: str,
        unit_price: Decimal,
        quantity: Decimal,
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> Line:
        offering = resource.offering
        provider = getattr(offering.customer, "service_provider", None)
        label = resource.name or resource.uuid.hex
        details: dict[str, Any] = {
            "resource_name": resource.name,
            "resource_uuid": resource.uuid.hex,
            "offering_type": offering.type,
            "offering_name": offering.name,
            "offering_uuid": offering.uuid.hex,
            "service_provider_name": offering.customer.name,
            "service_provider_uuid": provider.uuid.hex if provider else "",
        }
        if plan is not None:
            details.update(plan_name=plan.name, plan_uuid=plan.uuid.hex)
        if component is not None:
            details.update(offering_component_type=component.type, offering_component_name=component.name)
        what = component.name if component is not None else (plan.name if plan is not None else "")
        return Line(
            resource=resource,
            billing_type=billing_type,
            plan=plan,
            component=component,
            name=f"{label} / {what}",
            unit=unit,
            unit_price=unit_price,
            quantity=quantity,
            start=start,
            end=end,
            details=details,
        )


def month_lines(*, customer: Any, month: datetime.date) -> list[Line]:
    """The lines of `customer`'s invoice for `month` (its first day), resources in creation order."""
    return _Month(customer, month).lines()
