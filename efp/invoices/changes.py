"""Which organisations' invoices a refresh must recompute. A pending invoice's lines are computed from the
organisation's resources, their usage and orders, and the catalogue (plans, prices); time alone does not
change them within a month (a line covers the live window to the month's end). So a refresh recomputes:
- every organisation with resources ("full") on the first run, in a month other than the last run's, when
  the last full refresh is more than `FULL_EVERY` old (catalogue edits, which leave no `modified`, reach
  the pending invoices by then), or when asked;
- otherwise ("incremental") the organisations with a resource, usage row or order modified since the last
  refresh started, less `SLACK` (a transaction open when the last refresh read may commit after it).

The no-change path is three scans of `modified` (resources, usage, orders); those columns carry no index.
"""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from efp.invoices.models import RefreshMark
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import ComponentUsage, Order, Resource
from efp.structure.models import Customer

NAME = "invoices.refresh"
FULL_EVERY = datetime.timedelta(days=1)
SLACK = datetime.timedelta(minutes=10)
FULL, INCREMENTAL = "full", "incremental"


def last_mark() -> RefreshMark | None:
    return RefreshMark.objects.filter(name=NAME).first()


def mode_for(mark: RefreshMark | None, now: datetime.datetime, *, full: bool = False) -> str:
    if full or mark is None or now - mark.full_at > FULL_EVERY:
        return FULL
    return FULL if billing_period_of(mark.refreshed_at) != billing_period_of(now) else INCREMENTAL


def customers_to_refresh(mode: str, mark: RefreshMark | None) -> QuerySet[Customer]:
    """Every organisation with resources, or those whose resources, usage or orders changed since `mark`."""
    with_resources = Customer.objects.filter(projects__resources__isnull=False).distinct()
    if mode == FULL or mark is None:
        return with_resources.order_by("pk")
    since = mark.refreshed_at - SLACK
    changed = (
        set(Resource.objects.filter(modified__gte=since).values_list("project__customer_id", flat=True))
        | set(
            ComponentUsage.objects.filter(modified__gte=since).values_list(
                "resource__project__customer_id", flat=True
            )
        )
        | set(Order.objects.filter(modified__gte=since).values_list("project__customer_id", flat=True))
    )
    if not changed:
        return Customer.objects.none()
    return with_resources.filter(pk__in=changed).order_by("pk")


def record_refresh(mark: RefreshMark | None, *, started: datetime.datetime, mode: str) -> None:
    """The refresh that started at `started` is done: the next one reads changes from then."""
    if mark is None:
        RefreshMark.objects.create(name=NAME, refreshed_at=started, full_at=started)
        return
    full_at = started if mode == FULL else mark.full_at
    RefreshMark.objects.filter(pk=mark.pk).update(refreshed_at=started, full_at=full_at)
