"""A month's usage records and the plan period that takes a report (one place for usage, per-user usage,
corrections and imports)."""

from __future__ import annotations

import datetime

from django.db import connection
from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource, ResourcePlanPeriod
from efp.rawsql import table_name


def plan_period_for(resource: Resource, date: datetime.datetime) -> ResourcePlanPeriod | None:
    """The plan period covering `date`; else one overlapping its month (a period starting later that month
    still takes month-start dated usage); else, for the current month of a resource that has none at all,
    a period created now. Back-filled months without a period stay without one.

    A resource read by `_lock(at=date)` for this very date knows the covering period already (its key is
    enough here)."""
    covering = getattr(resource, "covering_plan_period_id", None)
    if covering is not None and getattr(resource, "covering_at", None) == date:
        return ResourcePlanPeriod.from_db(resource._state.db, ["id"], [covering])
    start = connection.ops.quote_name("start")
    sql = f"SELECT * FROM {table_name(ResourcePlanPeriod)} WHERE resource_id = %s"  # noqa: S608
    periods = list(ResourcePlanPeriod.objects.raw(f"{sql} ORDER BY {start} DESC, id DESC", [resource.pk]))
    picked = pick_plan_period(periods, date)
    if picked is not None:
        return picked
    period_month = billing_period_of(date)
    begins = month_start(period_month)
    if not periods and resource.plan_id is not None and period_month == billing_period_of(timezone.now()):
        return ResourcePlanPeriod.objects.create(resource=resource, plan_id=resource.plan_id, start=begins)
    return None


def pick_plan_period(periods: list[ResourcePlanPeriod], date: datetime.datetime) -> ResourcePlanPeriod | None:
    """`plan_period_for`'s choice among a resource's periods (newest start first), without creating one."""
    for period in periods:
        if period.start <= date and (period.end is None or period.end > date):
            return period
    period_month = billing_period_of(date)
    begins, ends = month_start(period_month), month_start(add_months(period_month, 1))
    for period in periods:
        if period.start < ends and (period.end is None or period.end > begins):
            return period
    return None


def month_record(rows: list[ComponentUsage], plan_period: ResourcePlanPeriod | None) -> ComponentUsage | None:
    """Which of a component's records of a month (`month_rows`) a report for `plan_period` writes to:
    the plan period's own, else the one without a plan period (`find_usage` merges the two)."""
    wanted = {plan_period.pk, None} if plan_period is not None else {None}
    rows = [row for row in rows if row.plan_period_id in wanted]
    if not rows:
        return None
    return next((row for row in rows if row.plan_period_id is not None), rows[0])


def month_rows(
    resource: Resource, component: OfferingComponent, period: datetime.date
) -> list[ComponentUsage]:
    """Every record of the component for the month, whatever its plan period (one query)."""
    sql = (
        f"SELECT * FROM {table_name(ComponentUsage)} WHERE resource_id = %s AND component_id = %s"  # noqa: S608
        " AND billing_period = %s ORDER BY plan_period_id, id"
    )
    params = [resource.pk, component.pk, connection.ops.adapt_datefield_value(period)]
    return list(ComponentUsage.objects.raw(sql, params))


def find_usage(
    resource: Resource,
    component: OfferingComponent,
    period: datetime.date,
    plan_period: ResourcePlanPeriod | None,
    month: list[ComponentUsage] | None = None,
) -> ComponentUsage | None:
    """The month's record, consolidating a plan_period=null record with the plan period's one.

    `month` is `month_rows(...)` when the caller has it already; consolidated duplicates leave it."""
    if month is None:
        month = month_rows(resource, component, period)
    wanted = {plan_period.pk, None} if plan_period is not None else {None}
    rows = [row for row in month if row.plan_period_id in wanted]
    keep = month_record(rows, plan_period)
    if keep is None:
        return None
    for duplicate in rows:
        if duplicate.pk == keep.pk:
            continue
        taken = set(keep.user_usages.values_list("username", flat=True))
        duplicate.user_usages.exclude(username__in=taken).update(component_usage=keep)
        duplicate.delete()
        month.remove(duplicate)
    if plan_period is not None and keep.plan_period_id is None:
        keep.plan_period = plan_period
    return keep
