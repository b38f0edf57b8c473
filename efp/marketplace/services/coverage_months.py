"""Keeping `CoverageMonth` true: per offering and month, the resources that reported usage for the month
while live in it (`reported`, the coverage rule's reported cells) and the changes of the number of live
resources (`live_change`, summed up to a month: its due cells), so the missing cells cost a subtraction.

A resource's month is reported once it has a usage row of a usage-billed component for the month (any
value, as the coverage rule says) and its live window covers the month (`coverage.window_live_in`); its
live months are `coverage.window_changes` of its window. They change only in a few writers, each of which
wraps its write in `kept`: reads what the resources written count for before, writes, reads it again and
adds the difference, in the writer's transaction:
- a first report of a month: `usage.set_usage`, per-user totals (`user_usage`), a correction of a month
  without a record (`corrections`), a CSV import's new records (`usage_imports`);
- a window moved: the transitions (`_transitions`: a resource born live, an activation, a termination, a
  restore);
- a resource gone with its reports: an unlink (`resources.unlink_resource`).
A usage value overwritten, a duplicate record merged into its twin, or a new component change nothing.
What goes around the services (the scale seed's bulk load, a database shell) is repaired by `recount`.
Writers of one resource hold its lock (`select_for_update` of the resource; `kept` takes it for a window),
so two cannot count the same cell twice.
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
from efp.marketplace.models import ComponentUsage, CoverageMonth, OfferingComponent, Resource

COUNTS = CoverageMonth._meta.db_table
Cell = tuple[int, datetime.date]  # (offering, month)
WINDOW = ("live_from", "live_until", "gap_from", "gap_until")


def _reported(resource_ids: list[int] | None, months: list[datetime.date] | None) -> Any:
    """The reported months of these resources (None: every resource; in `months`, else every month), one
    row each: (resource, month, offering, the resource's live window)."""
    rows = ComponentUsage.objects.filter(component__billing_type=OfferingComponent.BillingType.USAGE)
    if resource_ids is not None:
        rows = rows.filter(resource_id__in=resource_ids)
    if months is not None:
        rows = rows.filter(billing_period__in=months)
    window = [f"resource__{name}" for name in WINDOW]
    return (
        rows.order_by()
        .values_list("resource_id", "billing_period", "resource__offering_id", *window)
        .distinct()
    )


def _counted(resource_ids: list[int], months: list[datetime.date] | None) -> tuple[Counter[Cell], bool]:
    """The reported cells of these resources, by offering and month; and whether they have any report at
    all (a reported cell or not). One query."""
    counted: Counter[Cell] = Counter()
    found = False
    for _, month, offering, *window in _reported(resource_ids, months):
        found = True
        if coverage.window_live_in(month, *window):
            counted[(offering, month)] += 1
    return counted, found


def _live(resource_ids: list[int], *, lock: bool = False) -> Counter[Cell]:
    """The live months of these resources as changes, by offering and month. One query."""
    resources = Resource.objects.filter(pk__in=resource_ids).order_by("pk")
    if lock:
        resources = resources.select_for_update()
    changes: Counter[Cell] = Counter()
    for offering, *window in resources.values_list("offering_id", *WINDOW):
        for month, change in coverage.window_changes(*window).items():
            changes[(offering, month)] += change
    return changes


@contextmanager
def kept(
    resource_ids: Iterable[int], months: Iterable[datetime.date] | None = None, *, window: bool = False
) -> Iterator[None]:
    """Keeps the counts true across the write in the `with` block, which may touch the reports of
    `resource_ids` in `months` (None: any month); `window`: it may move their live windows or delete them
    (a resource without reports then costs two queries, its lock with its window and its reports)."""
    ids = sorted(set(resource_ids))
    span = None if months is None else sorted(set(months))
    if not ids or span == []:
        yield
        return
    live_before = _live(ids, lock=True) if window else Counter()
    before, found = _counted(ids, span)
    yield
    live_after = _live(ids) if window else Counter()
    # A move of windows adds no report: without reports before, none after.
    after = _counted(ids, span)[0] if found or not window else Counter()
    _add(_difference(after, before), _difference(live_after, live_before))


def _difference(after: Counter[Cell], before: Counter[Cell]) -> dict[Cell, int]:
    return {
        cell: after[cell] - before[cell]
        for cell in after.keys() | before.keys()
        if after[cell] != before[cell]
    }


def _add(reported: dict[Cell, int], live: dict[Cell, int]) -> None:
    cells = sorted(reported.keys() | live.keys())
    if not cells:
        return
    values = ", ".join(["(%s, %s, %s, %s)"] * len(cells))
    params: list[Any] = []
    for offering, month in cells:
        params += [
            offering,
            connection.ops.adapt_datefield_value(month),
            reported.get((offering, month), 0),
            live.get((offering, month), 0),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {COUNTS} AS t (offering_id, billing_period, reported, live_change) VALUES {values} "
            "ON CONFLICT (offering_id, billing_period) DO UPDATE SET "
            "reported = t.reported + excluded.reported, live_change = t.live_change + excluded.live_change",
            params,
        )


@transaction.atomic
def recount() -> None:
    """Counts every offering's months again from the usage rows and the live windows (reads every reported
    month of every resource once, and every window; writers of usage and of windows wait on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            tables = f"{ComponentUsage._meta.db_table}, {Resource._meta.db_table}"
            cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE")
    reported: Counter[Cell] = Counter()
    for _, month, offering, *window in _reported(None, None).iterator(chunk_size=10000):
        if coverage.window_live_in(month, *window):
            reported[(offering, month)] += 1
    live: Counter[Cell] = Counter()
    windows = Resource.objects.filter(live_from__isnull=False).order_by().values_list("offering_id", *WINDOW)
    for offering, *window in windows.iterator(chunk_size=10000):
        for month, change in coverage.window_changes(*window).items():
            live[(offering, month)] += change
    CoverageMonth.objects.all().delete()
    CoverageMonth.objects.bulk_create(
        [
            CoverageMonth(
                offering_id=o, billing_period=m, reported=reported[(o, m)], live_change=live[(o, m)]
            )
            for o, m in sorted(reported.keys() | live.keys())
        ],
        batch_size=1000,
    )
