"""Keeping `ReportedMonthCount` true: the resources of each offering that reported usage for a month while
live in it (the coverage rule's reported cells, `coverage.py`), so the missing ones cost a subtraction.

A resource's month counts once it has a usage row of a usage-billed component for the month (any value, as
the coverage rule says) and its live window covers the month (`coverage.window_live_in`). Both change
only in a few writers, each of which wraps its write in `kept`: reads the counted cells of the resources
written before, writes, reads them again and adds the difference, in the writer's transaction:
- a first report of a month: `usage.set_usage`, per-user totals (`user_usage`), a correction of a month
  without a record (`corrections`), a CSV import's new records (`usage_imports`);
- a resource's reports gone: an unlink (`resources.unlink_resource`; its usage goes with it);
- a live window moved: the transitions (`_transitions`: an activation, a termination, a restore).
A usage value overwritten, a duplicate record merged into its twin, or a new component change nothing.
What goes around the services (the scale seed's bulk load, a database shell) is repaired by `recount`.
Writers of one resource hold its lock (`select_for_update` of the resource; `kept` takes it for a move
of the window), so two cannot count the same cell twice.
"""

# ruff: noqa: S608  (every name in this module's SQL is one of our tables; no value is inlined)

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from efp.marketplace import coverage
from efp.marketplace.models import ComponentUsage, OfferingComponent, ReportedMonthCount, Resource

COUNTS = ReportedMonthCount._meta.db_table
Cell = tuple[int, datetime.date]  # (offering, month)


def _reported(resource_ids: list[int] | None, months: list[datetime.date] | None) -> Any:
    """The reported months of these resources (None: every resource; in `months`, else every month), one
    row each: (offering, month, the resource's live window)."""
    rows = ComponentUsage.objects.filter(component__billing_type=OfferingComponent.BillingType.USAGE)
    if resource_ids is not None:
        rows = rows.filter(resource_id__in=resource_ids)
    if months is not None:
        rows = rows.filter(billing_period__in=months)
    return (
        rows.order_by()
        .values_list(
            "resource_id",
            "billing_period",
            "resource__offering_id",
            "resource__live_from",
            "resource__live_until",
            "resource__gap_from",
            "resource__gap_until",
        )
        .distinct()
    )


def _counted(resource_ids: list[int], months: list[datetime.date] | None) -> tuple[Counter[Cell], bool]:
    """The counted cells of these resources, by offering and month; and whether they have any report at
    all (counted or not). One query."""
    counted: Counter[Cell] = Counter()
    found = False
    for _, month, offering, *window in _reported(resource_ids, months):
        found = True
        if coverage.window_live_in(month, *window):
            counted[(offering, month)] += 1
    return counted, found


@contextmanager
def kept(
    resource_ids: Iterable[int], months: Iterable[datetime.date] | None = None, *, window_only: bool = False
) -> Iterator[None]:
    """Keeps the counts true across the write in the `with` block, which may touch the reports of
    `resource_ids` in `months` (None: any month), or only their live windows (`window_only`: a resource
    without reports then costs one query)."""
    ids = sorted(set(resource_ids))
    span = None if months is None else sorted(set(months))
    if not ids or span == []:
        yield
        return
    if window_only:  # the writers of usage hold the resource's lock; so does a window's move from here
        list(Resource.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
    before, found = _counted(ids, span)
    yield
    if window_only and not found:
        return
    after, _ = _counted(ids, span)
    _add(
        {
            cell: after[cell] - before[cell]
            for cell in after.keys() | before.keys()
            if after[cell] != before[cell]
        }
    )


def _add(changes: dict[Cell, int]) -> None:
    if not changes:
        return
    rows = sorted(changes.items())
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    params: list[Any] = []
    for (offering, month), change in rows:
        params += [offering, connection.ops.adapt_datefield_value(month), change]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {COUNTS} AS t (offering_id, billing_period, resources) VALUES {values} "
            "ON CONFLICT (offering_id, billing_period) "
            "DO UPDATE SET resources = t.resources + excluded.resources",
            params,
        )


@transaction.atomic
def recount() -> None:
    """Counts every offering's reported cells again from the usage rows and the live windows (reads every
    reported month of every resource once; writers of usage wait on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {ComponentUsage._meta.db_table} IN SHARE MODE")
    counted: Counter[Cell] = Counter()
    for _, month, offering, *window in _reported(None, None).iterator(chunk_size=10000):
        if coverage.window_live_in(month, *window):
            counted[(offering, month)] += 1
    ReportedMonthCount.objects.all().delete()
    ReportedMonthCount.objects.bulk_create(
        [ReportedMonthCount(offering_id=o, billing_period=m, resources=n) for (o, m), n in counted.items()],
        batch_size=1000,
    )
