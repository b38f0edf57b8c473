"""Refreshes the `ResourceForecast` read model: after a usage report, a limits or an end-date change (the
events dispatcher `refresh_on_event`, registered in `apps.py`) and every day (`jobs.refresh_forecasts`).

Both are idempotent: a refresh recomputes from what is stored now. Resources are refreshed in chunks of
`CHUNK`, each in a fixed number of queries (usage against limits from `metering`, monthly totals, lowered
totals, one upsert) whatever the chunk's size.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from efp.events.models import Event
from efp.marketplace import event_types, forecasts, metering
from efp.marketplace.billing_months import month_start
from efp.marketplace.models import ComponentUsage, Resource, ResourceForecast, UsageRevision
from efp.marketplace.states import ResourceState

CHUNK = 500
REFRESHED_BY = frozenset({event_types.USAGE_REPORTED, event_types.LIMITS_SET, event_types.END_DATE_SET})


def refresh_forecasts(
    *, resource_ids: Iterable[int] | None = None, today: datetime.date | None = None
) -> int:
    """Recomputes the forecasts of the given resources (all but terminated ones when None); a terminated
    resource has none. Returns how many were stored."""
    day = today or timezone.localdate()
    live = Resource.objects.exclude(state=ResourceState.TERMINATED)
    if resource_ids is None:
        ResourceForecast.objects.filter(resource__state=ResourceState.TERMINATED).delete()
        ids = list(live.order_by("pk").values_list("pk", flat=True))
    else:
        wanted = set(resource_ids)
        ResourceForecast.objects.filter(
            resource_id__in=wanted, resource__state=ResourceState.TERMINATED
        ).delete()
        ids = list(live.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        _refresh_chunk(ids[start : start + CHUNK], day)
    return len(ids)


def _refresh_chunk(ids: list[int], day: datetime.date) -> None:
    with transaction.atomic():
        resources = list(
            Resource.objects.filter(pk__in=ids).only("pk", "offering_id", "limits", "end_date", "created")
        )
        statuses = metering.summarise(resources, today=day, with_last_report=False)
        monthly = _monthly_totals(ids, day)
        lowered = _lowered(ids, day)
        now = timezone.now()
        rows = []
        for resource in resources:
            result = forecasts.forecast(
                statuses=statuses.get(resource.pk, []),
                monthly=monthly.get(resource.pk, {}),
                lowered=resource.pk in lowered,
                today=day,
                created=timezone.localdate(resource.created),
                end_date=resource.end_date,
            )
            rows.append(
                ResourceForecast(
                    resource_id=resource.pk,
                    flags=ResourceForecast.stored_flags(result.flags),
                    components=result.limits_json(),
                    computed_at=now,
                )
            )
        ResourceForecast.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["resource"],
            update_fields=["flags", "components", "computed_at"],
        )


def _monthly_totals(ids: list[int], day: datetime.date) -> dict[int, dict[str, forecasts.Monthly]]:
    """{resource id: {component type: {month: total}}} over the months the forecast reads."""
    since = forecasts.window_start(day, forecasts.SPIKE_LOOKBACK + 1)
    rows = (
        ComponentUsage.objects.filter(resource_id__in=ids, billing_period__gte=since)
        .values("resource_id", "component__type", "billing_period")
        .annotate(total=Sum("usage"))
        .order_by()
    )
    result: dict[int, dict[str, forecasts.Monthly]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        result[row["resource_id"]][row["component__type"]][row["billing_period"]] = Decimal(row["total"])
    return result


def _lowered(ids: list[int], day: datetime.date) -> set[int]:
    """Resources with a month's total lowered (a revision of the total with new < old) in the window."""
    since = month_start(forecasts.window_start(day, forecasts.FELL_MONTHS))
    return set(
        UsageRevision.objects.filter(
            component_usage__resource_id__in=ids,
            username="",
            old_value__isnull=False,
            new_value__lt=F("old_value"),
            created__gte=since,
        )
        .values_list("component_usage__resource_id", flat=True)
        .distinct()
    )


def refreshed_by(event_type: str, context: dict[str, Any]) -> bool:
    """The events `refresh_on_event` acts on (`efp.events.recorder.on_event`)."""
    return event_type in REFRESHED_BY and not context.get("username")


def refresh_on_event(event: Event) -> None:
    """The events dispatcher: a month's total reported, limits or end date changed → that resource's
    forecast is refreshed (a per-user row is not the total: its month's total has its own event)."""
    if not refreshed_by(event.event_type, event.context) or event.resource_id is None:
        return
    refresh_forecasts(resource_ids=[event.resource_id])
