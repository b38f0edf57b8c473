"""A usage-billed component's `limit_amount` per `limit_period`, enforced on `set_usage` (docs/contract.md
§7.3 rule 9, Waldur's `OfferingComponent.validate_amount`).

What counts is the period's total once the report is written: the component's records of the months of
the period (the month itself for `month`, its quarter, its year, or the whole life of the resource for
`total`), the record this report overwrites left out, plus the reported amount. Waldur adds the amount
to the records without leaving the overwritten one out (docs/compatibility.md).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from efp.errors import InvalidInput
from efp.marketplace.billing_months import add_months, quarter_start, year_start
from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource, ResourcePlanPeriod

BT, LP = OfferingComponent.BillingType, OfferingComponent.LimitPeriod
MESSAGE = "Total amount exceeds limit. Total amount: {total}, limit: {limit}."


def limited(component: OfferingComponent) -> bool:
    """Whether reports of the component are held to a limit (Waldur: both set, neither zero)."""
    return (
        component.billing_type == BT.USAGE and bool(component.limit_period) and bool(component.limit_amount)
    )


def period_months(
    limit_period: str, month: datetime.date
) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last billing month of the limit period around `month` (None: unbounded)."""
    if limit_period == LP.TOTAL:
        return None, None
    if limit_period == LP.QUARTERLY:
        first = quarter_start(month)
        return first, add_months(first, 2)
    if limit_period == LP.ANNUAL:
        first = year_start(month)
        return first, add_months(first, 11)
    return month, month


def check_limits(
    *,
    resource: Resource,
    reports: Iterable[tuple[OfferingComponent, Decimal]],
    period: datetime.date,
    plan_period: ResourcePlanPeriod | None,
    month_rows: dict[int, list[ComponentUsage]],
) -> None:
    """400 if a report would take a limited component past its limit; one query, and only when a reported
    component is limited. `month_rows`: each component's records of `period` (those the report replaces
    are those of its plan period or of none, as `usage_periods.find_usage` consolidates them)."""
    checked = [(component, amount) for component, amount in reports if limited(component)]
    if not checked:
        return
    rows = list(
        ComponentUsage.objects.filter(
            resource_id=resource.pk, component_id__in=[component.pk for component, _ in checked]
        ).values_list("pk", "component_id", "billing_period", "usage")
    )
    replaced_plan_periods = {None, plan_period.pk if plan_period is not None else None}
    for component, amount in checked:
        first, last = period_months(str(component.limit_period), period)
        replaced = {
            row.pk for row in month_rows.get(component.pk, []) if row.plan_period_id in replaced_plan_periods
        }
        others = sum(
            (
                usage
                for pk, component_id, month, usage in rows
                if component_id == component.pk
                and pk not in replaced
                and (first is None or first <= month)
                and (last is None or month <= last)
            ),
            Decimal(0),
        )
        total = (others + amount).quantize(Decimal("0.01"))
        limit = component.limit_amount
        assert limit is not None
        if total > limit:
            raise InvalidInput(MESSAGE.format(total=total, limit=limit))
