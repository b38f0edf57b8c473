"""`efp seed-scale`: a database the size of a national allocation service, for `make bench`.

It lives beside the benchmark, outside the product package (`efp`): it is a second writer of the
lifecycle, in bulk, and test_scale_seed.py checks every event pair it writes against the transition
tables (efp/marketplace/states.py).

The catalogue (providers, offerings, components, plans) is built through the services. The volume
(resources, orders, their events, plan periods, usage and usage revisions) is written in bulk (COPY on
PostgreSQL, bulk_create elsewhere), row for row what the services would have written for the same
history: every order carries the event trail of the verbs that brought it to its state, every resource
that came up has a plan period and a backend id, usage sits in the billing month of its date, the
per-user rows add up to their total, and this month's usage is the resource's `current_usages`.

A seed is recognised by its first provider organisation: a second run reports what is there and writes
nothing. Everything is written in one transaction, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from bench.scale_seed.bulk import allocate_ids, insert, skip_deferred_foreign_key_checks
from bench.scale_seed.history import (
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    order_trail,
    plan_resources,
    resource_events,
    write_resources,
)
from bench.scale_seed.people import (
    FIRST_PROVIDER_SLUG,
    PROVIDERS,
    build_catalogue,
    build_consumers,
    provider_token,
    provider_username,
)
from bench.scale_seed.supply import (
    SUPPLY_OFFERING,
    pending_order_supply,
    remove_order_supply,
    supply_offering,
)
from bench.scale_seed.usage import set_current_usages, write_usage
from efp.accounts.services import get_or_create_token
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    ListTally,
    Order,
    OrderEvent,
    Resource,
    ResourceEvent,
    ResourcePlanPeriod,
    UsageRevision,
)
from efp.marketplace.services.tallies import recount as recount_tallies
from efp.structure.models import Customer

# What the command, the benchmark and the tests use.
__all__ = [
    "DEFAULT_MONTHS", "DEFAULT_RESOURCES", "DEFAULT_USERS_PER_RESOURCE", "FIRST_PROVIDER_SLUG",
    "SUPPLY_OFFERING", "existing_summary", "pending_order_supply", "provider_token", "provider_username",
    "remove_order_supply", "seed", "supply_offering",
]  # fmt: skip

DEFAULT_RESOURCES = 10_000
DEFAULT_MONTHS = 12
DEFAULT_USERS_PER_RESOURCE = 4


@dataclass
class Progress:
    write: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    step: int = 0
    steps: int = 8

    def __call__(self, text: str) -> None:
        self.step += 1
        self.write(f"[{self.step}/{self.steps}] {text} ({time.monotonic() - self.started:.1f} s)")


def existing_summary() -> dict[str, int] | None:
    provider = Customer.objects.filter(slug=FIRST_PROVIDER_SLUG).first()
    if provider is None:
        return None
    scale = {"offering__customer__slug__startswith": "scale-provider-"}
    return {
        "resources": Resource.objects.filter(**scale).count(),
        "orders": Order.objects.filter(**scale).count(),
        "component_usages": ComponentUsage.objects.filter(
            **{f"resource__{k}": v for k, v in scale.items()}
        ).count(),
    }


def seed(
    *,
    resources: int = DEFAULT_RESOURCES,
    months: int = DEFAULT_MONTHS,
    users_per_resource: int = DEFAULT_USERS_PER_RESOURCE,
    write: Callable[[str], None] = print,
    random_seed: int = 7,
) -> dict[str, int]:
    """Seeds once; returns the counts written (or, when already seeded, those found, with `created` 0)."""
    found = existing_summary()
    if found is not None:
        return {**found, "created": 0}
    now = timezone.now()
    rng = random.Random(random_seed)  # noqa: S311 - synthetic figures, not secrets
    progress = Progress(write)
    with transaction.atomic():
        skip_deferred_foreign_key_checks()
        catalogue = build_catalogue()
        consumers = build_consumers(max(users_per_resource, 2) + 1, now)
        progress(f"catalogue: {PROVIDERS} providers, {len(catalogue.offerings)} offerings, "
                 f"{len(consumers.projects) + len(consumers.future_projects)} projects")  # fmt: skip
        plots = plan_resources(resources, months, catalogue, consumers, now, rng)
        trail = order_trail(plots, catalogue, consumers, now)
        periods = dict(zip([p.resource_id for p in plots if p.up_at], allocate_ids(
            ResourcePlanPeriod, sum(1 for p in plots if p.up_at)), strict=True))  # fmt: skip
        progress(f"planned {len(plots):,} resources and {len(trail.rows):,} orders")
        write_resources(plots)
        insert(ResourceEvent, ["resource_id", "old_state", "new_state", "actor_id", "reason", "created"],
               resource_events(plots, catalogue, consumers))  # fmt: skip
        insert(
            ResourcePlanPeriod,
            ["id", "resource_id", "plan_id", "start", "end"],
            (
                (
                    periods[p.resource_id],
                    p.resource_id,
                    catalogue.plans[p.offering.pk].pk,
                    p.up_at,
                    p.ended_at,
                )
                for p in plots
                if p.up_at
            ),
        )
        progress(f"{len(plots):,} resources with their events and plan periods")
        insert(Order, ORDER_COLUMNS, trail.rows)
        insert(OrderEvent, EVENT_COLUMNS, trail.events)
        progress(f"{len(trail.rows):,} orders with {len(trail.events):,} events")
        usages, user_usages, current = write_usage(
            plots, periods, catalogue, consumers, months, users_per_resource, now, rng, progress
        )
        set_current_usages(current)
        # The bulk writes above ran without the tally's triggers on PostgreSQL (`session_replication_role`,
        # bulk.skip_deferred_foreign_key_checks): one recount instead of a trigger call per row.
        recount_tallies()
        progress("usage revisions, current usages and list tallies")
        for owner in catalogue.provider_owner.values():
            get_or_create_token(user=owner)
    if connection.vendor == "postgresql":
        # Fresh statistics (or the planner guesses about the new millions of rows) and a visibility map
        # (index-only scans), as autovacuum would leave them a little later.
        # VACUUM cannot run inside a transaction (a caller's, such as a test's): then statistics only.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (
                Resource, Order, ComponentUsage, ComponentUserUsage, UsageRevision, OrderEvent, ListTally
            ):  # fmt: skip
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    progress("committed, vacuumed and analyzed")
    return {
        "resources": len(plots),
        "orders": len(trail.rows),
        "component_usages": usages,
        "user_usages": user_usages,
        "created": 1,
    }
