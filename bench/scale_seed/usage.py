"""Usage: a month of component usage per usage component of every resource that came up, split among the
project's users, with the revisions the agent's reports leave and this month's `current_usages`.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

from bench.scale_seed.bulk import allocate_ids, insert
from bench.scale_seed.history import Plot
from bench.scale_seed.people import Catalogue, Consumers
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    OfferingComponent,
    Resource,
    UsageRevision,
)

BT = OfferingComponent.BillingType

CENT = Decimal("0.01")
# Typical month of a project, per usage component type.
MONTHLY_SCALE = {"cpu": 20_000, "gpu": 400, "hours": 30, "sessions": 4}


class Record(NamedTuple):
    """A month's component usage record, in the order of its first columns as `write_usage` inserts them."""

    resource_id: int
    component_id: int
    plan_period_id: int
    usage: Decimal
    date: datetime.datetime
    billing_period: datetime.date
    modified_by_id: int
    component_type: str


def write_usage(
    plots: list[Plot],
    periods: dict[int, int],
    catalogue: Catalogue,
    consumers: Consumers,
    months: int,
    users_per_resource: int,
    now: datetime.datetime,
    rng: random.Random,
    progress: Callable[[str], None],
) -> tuple[int, int, dict[int, dict[str, float]]]:
    """Component usage per month of every resource that came up, split among its project's users."""
    current = billing_period_of(now)
    month_list = [add_months(current, -k) for k in range(months - 1, -1, -1)]
    up = [p for p in plots if p.up_at is not None]
    current_usages: dict[int, dict[str, float]] = {}
    parents: list[Record] = []
    children: list[tuple[Any, ...]] = []
    revisions: list[tuple[Any, ...]] = []
    for plot in up:
        provider_id = catalogue.provider_owner[plot.offering.customer_id].pk
        team = consumers.members[plot.project.pk][:users_per_resource]
        usage_components = [c for c in catalogue.components[plot.offering.pk] if c.billing_type == BT.USAGE]
        last = billing_period_of(plot.ended_at) if plot.ended_at else current
        for month in month_list:
            if month > last:
                break
            date = now if month == current else month_start(month) + datetime.timedelta(days=27, hours=12)
            share = now.day / 30 if month == current else 1.0
            for component in usage_components:
                shares = [
                    (Decimal(MONTHLY_SCALE[component.type] * share * rng.uniform(0.05, 0.5))).quantize(CENT)
                    for _ in team
                ]
                total = sum(shares, Decimal(0))
                parents.append(
                    Record(
                        plot.resource_id,
                        component.pk,
                        periods[plot.resource_id],
                        total,
                        date,
                        month,
                        provider_id,
                        component.type,
                    )
                )
                children.append((team, shares))
                if month == current:
                    current_usages.setdefault(plot.resource_id, {})[component.type] = float(total)
    usage_ids = allocate_ids(ComponentUsage, len(parents))
    insert(
        ComponentUsage,
        [
            "id", "resource_id", "component_id", "plan_period_id", "usage", "date", "billing_period",
            "modified_by_id", "component_type", "created", "modified",
        ],
        ((uid, *record, record.date, record.date) for uid, record in zip(usage_ids, parents, strict=True)),
    )  # fmt: skip
    progress(f"{len(parents):,} component usages")
    user_rows = 0

    def per_user() -> Iterator[tuple[Any, ...]]:
        nonlocal user_rows
        for usage_id, parent, (team, shares) in zip(usage_ids, parents, children, strict=True):
            for (user_id, username), value in zip(team, shares, strict=True):
                user_rows += 1
                revisions.append((usage_id, username, None, value, parent.modified_by_id, parent.date))
                yield usage_id, username, user_id, value, parent.date, parent.date

    insert(
        ComponentUserUsage,
        ["component_usage_id", "username", "user_id", "usage", "created", "modified"],
        per_user(),
    )
    progress(f"{user_rows:,} per-user usages")
    # The agent reports the total, then the per-user values: a revision for each value written.
    totals = (
        (uid, "", None, p.usage, p.modified_by_id, p.date) for uid, p in zip(usage_ids, parents, strict=True)
    )
    columns = ["component_usage_id", "username", "old_value", "new_value", "actor_id", "created"]
    insert(UsageRevision, columns, (row for rows in (totals, iter(revisions)) for row in rows))
    return len(parents), user_rows, current_usages


def set_current_usages(current: dict[int, dict[str, float]]) -> None:
    """This month's values per resource, as set_usage leaves them, in one statement per batch."""
    items = list(current.items())
    for start in range(0, len(items), 2000):
        chunk = items[start : start + 2000]
        objects = [Resource(pk=resource_id, current_usages=values) for resource_id, values in chunk]
        Resource.objects.bulk_update(objects, ["current_usages"])
