"""Usage: a month of component usage per usage component of every resource that came up, split among the
project's users, with the revisions the agent's reports leave and this month's `current_usages`.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from bench.scale_seed.bulk import allocate_ids, insert
from bench.scale_seed.history import Plot
from bench.scale_seed.people import Catalogue, Consumers
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    OfferingComponent,
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
    offering_id: int  # the resource's, as `scope_of` copies them
    project_id: int


@dataclass
class UsagePlan:
    """The usage of a chunk of resources, before it is written."""

    records: list[Record] = field(default_factory=list)
    splits: list[tuple[list[tuple[int, str]], list[Decimal]]] = field(default_factory=list)  # (team, shares)
    current_usages: dict[int, dict[str, float]] = field(default_factory=dict)  # resource id → this month


@dataclass
class Shape:
    """What every round of the seed reads: the catalogue, the consumers and the size of the history."""

    catalogue: Catalogue
    consumers: Consumers
    months: int
    users_per_resource: int
    now: datetime.datetime
    rng: random.Random


def plan_usage(plots: list[Plot], periods: dict[int, int], shape: Shape) -> UsagePlan:
    """Component usage per month of every resource that came up, split among its project's users."""
    catalogue, consumers, now, rng = shape.catalogue, shape.consumers, shape.now, shape.rng
    users_per_resource = shape.users_per_resource
    current = billing_period_of(now)
    month_list = [add_months(current, -k) for k in range(shape.months - 1, -1, -1)]
    plan = UsagePlan()
    for plot in plots:
        if plot.up_at is None:
            continue
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
                plan.records.append(
                    Record(
                        plot.resource_id,
                        component.pk,
                        periods[plot.resource_id],
                        total,
                        date,
                        month,
                        provider_id,
                        component.type,
                        plot.offering.pk,
                        plot.project.pk,
                    )
                )
                plan.splits.append((team, shares))
                if month == current:
                    plan.current_usages.setdefault(plot.resource_id, {})[component.type] = float(total)
    return plan


def write_usage(plan: UsagePlan) -> tuple[int, int]:
    """Writes the planned records, their per-user rows and the revisions the agent's reports leave: the
    total, then each user's value. Returns (records, per-user rows)."""
    usage_ids = allocate_ids(ComponentUsage, len(plan.records))
    pairs = list(zip(usage_ids, plan.records, plan.splits, strict=True))
    insert(
        ComponentUsage,
        [
            "id", "resource_id", "component_id", "plan_period_id", "usage", "date", "billing_period",
            "modified_by_id", "component_type", "offering_id", "project_id", "created", "modified",
        ],
        ((uid, *record, record.date, record.date) for uid, record, _ in pairs),
    )  # fmt: skip
    user_rows = insert(
        ComponentUserUsage,
        ["component_usage_id", "username", "user_id", "usage", "created", "modified"],
        (
            (usage_id, username, user_id, value, record.date, record.date)
            for usage_id, record, (team, shares) in pairs
            for (user_id, username), value in zip(team, shares, strict=True)
        ),
    )
    totals = ((uid, "", None, record.usage, record.modified_by_id, record.date) for uid, record, _ in pairs)
    per_user = (
        (usage_id, username, None, value, record.modified_by_id, record.date)
        for usage_id, record, (team, shares) in pairs
        for (_, username), value in zip(team, shares, strict=True)
    )
    columns = ["component_usage_id", "username", "old_value", "new_value", "actor_id", "created"]
    insert(UsageRevision, columns, (row for rows in (totals, per_user) for row in rows))
    return len(plan.records), user_rows
