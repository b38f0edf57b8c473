"""Keeping `ResourceLimitUsage` true: `refresh` stores what `metering.summarise` computes for the limits of
the given resources today, in the caller's transaction. Every writer of what it reads calls it: usage
(`set_usage`, per-user totals, corrections, CSV imports; `refresh_after_usage` only when a component
written may have a limit), limits (`set_resource_limits`, a completed limits update, a new resource) and
components (`add_component`). `recount` rebuilds it for every resource (the migration that added it, the
scale seed). test_limit_usage.py compares it with `summarise` after
every kind of write, on a frozen clock across period boundaries.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from efp.marketplace import metering
from efp.marketplace.models import OfferingComponent, Resource, ResourceLimitUsage

CHUNK = 2000


def refresh(resource_ids: Iterable[int], *, today: datetime.date | None = None) -> None:
    """Recomputes the rows of these resources: one per component with a limit, none for the others.
    A fixed number of queries per `CHUNK` resources (metering's two, a delete, an upsert)."""
    day = today or timezone.localdate()
    ids = sorted(set(resource_ids))
    for start in range(0, len(ids), CHUNK):
        _refresh_chunk(ids[start : start + CHUNK], day)


def refresh_after_usage(resource_id: int, components: Iterable[OfferingComponent]) -> None:
    """After usage of `components` was written for a resource: its rows, if one of them may have a limit
    (a site agent's hourly report of unlimited components costs nothing more)."""
    if any(metering.may_be_limited(component) for component in components):
        refresh([resource_id])


def refresh_offering(offering_id: int, *, today: datetime.date | None = None) -> None:
    """After a change of the offering's components: every resource of the offering."""
    refresh(Resource.objects.filter(offering_id=offering_id).values_list("pk", flat=True), today=today)


@transaction.atomic
def recount(*, today: datetime.date | None = None) -> None:
    """Rebuilds every row from the usage and limits stored now."""
    ResourceLimitUsage.objects.all().delete()
    refresh(Resource.objects.order_by("pk").values_list("pk", flat=True), today=today)


def _refresh_chunk(ids: list[int], day: datetime.date) -> None:
    resources = list(Resource.objects.filter(pk__in=ids).only("pk", "offering_id", "limits"))
    statuses = metering.summarise(resources, today=day, with_last_report=False)
    rows = []
    for resource_id, components in statuses.items():
        for status in components:
            percent = status.percent
            if percent is None:
                continue
            period = metering.counted_period(status.limit_period)
            rows.append(
                ResourceLimitUsage(
                    resource_id=resource_id,
                    component_id=status.component_id,
                    period=period,
                    period_start=metering.period_start(period, day),
                    used=status.used,
                    percent=percent,
                )
            )
    kept = {(row.resource_id, row.component_id) for row in rows}
    existing = ResourceLimitUsage.objects.filter(resource_id__in=ids).values_list(
        "pk", "resource_id", "component_id"
    )
    stale = [pk for pk, *key in existing if tuple(key) not in kept]
    if stale:
        ResourceLimitUsage.objects.filter(pk__in=stale).delete()
    ResourceLimitUsage.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["resource", "component"],
        update_fields=["period", "period_start", "used", "percent"],
    )
