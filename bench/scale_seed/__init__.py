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

The volume is planned and written in rounds of CHUNK resources (memory stays flat at any size), inside
`bulk.bulk_load`, the one place the bulk tables are loaded (on PostgreSQL their indexes are built after
the load). A seed is recognised by its first provider organisation: a second run reports what is there
and writes nothing. Everything is written in one transaction, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from bench.scale_seed.bulk import allocate_ids, bulk_load, insert, skip_deferred_foreign_key_checks
from bench.scale_seed.history import (
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    Plot,
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
from bench.scale_seed.usage import Shape, plan_usage, write_usage
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
from efp.marketplace.services import coverage_months, limit_usage, month_totals
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


# Resources written per round: each round plans and writes its resources' orders, events, plan periods,
# usage and revisions, so that memory stays the same at any size.
CHUNK = 2_000
# The tables the seed fills in bulk (bulk.bulk_load: their indexes are built after the load).
BULK_TABLES = (
    Resource, ResourceEvent, ResourcePlanPeriod, Order, OrderEvent, ComponentUsage, ComponentUserUsage,
    UsageRevision,
)  # fmt: skip


@dataclass
class Progress:
    write: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    step: int = 0
    steps: int = 7

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.1f} s"

    def __call__(self, text: str) -> None:
        self.step += 1
        self.write(f"[{self.step}/{self.steps}] {text} ({self.elapsed()})")

    def note(self, text: str) -> None:
        """A line within a step."""
        self.write(f"      {text} ({self.elapsed()})")


@dataclass
class Written:
    resources: int = 0
    resource_events: int = 0
    orders: int = 0
    order_events: int = 0
    component_usages: int = 0
    user_usages: int = 0


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
    written = Written()
    with transaction.atomic():
        skip_deferred_foreign_key_checks()
        catalogue = build_catalogue()
        consumers = build_consumers(max(users_per_resource, 2) + 1, now)
        progress(f"catalogue: {PROVIDERS} providers, {len(catalogue.offerings)} offerings, "
                 f"{len(consumers.projects) + len(consumers.future_projects)} projects")  # fmt: skip
        plots = plan_resources(resources, months, catalogue, consumers, now, rng)
        orders = len(plots) + sum(len(p.later) for p in plots)
        progress(f"planned {len(plots):,} resources and {orders:,} orders")
        shape = Shape(catalogue, consumers, months, users_per_resource, now, rng)
        with bulk_load(BULK_TABLES):
            for start in range(0, len(plots), CHUNK):
                _write_chunk(plots[start : start + CHUNK], shape, written)
                progress.note(
                    f"{written.resources:,} of {len(plots):,} resources: {written.orders:,} orders, "
                    f"{written.component_usages:,} component usages, {written.user_usages:,} per-user usages"
                )
            progress(
                f"{written.resources:,} resources ({written.resource_events:,} events), {written.orders:,} "
                f"orders ({written.order_events:,} events), {written.component_usages:,} component usages, "
                f"{written.user_usages:,} per-user usages and their revisions"
            )
        progress("indexes built")
        # The bulk writes above ran without the triggers of the list tally and of the monthly usage totals
        # on PostgreSQL (`session_replication_role`, bulk.skip_deferred_foreign_key_checks): one recount
        # each instead of a trigger call per row.
        recount_tallies()
        month_totals.recount()
        limit_usage.recount()  # written by the services, which the bulk load goes around
        coverage_months.recount()  # likewise
        progress("list tallies, monthly usage totals, usage against limits and reported months recounted")
    progress("committed")
    if connection.vendor == "postgresql":
        # Fresh statistics (or the planner guesses about the new millions of rows) and a visibility map
        # (index-only scans), as autovacuum would leave them a little later.
        # VACUUM cannot run inside a transaction (a caller's, such as a test's): then statistics only.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (*BULK_TABLES, ListTally):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    progress("vacuumed and analyzed")
    return {
        "resources": written.resources,
        "orders": written.orders,
        "component_usages": written.component_usages,
        "user_usages": written.user_usages,
        "created": 1,
    }


def _write_chunk(plots: list[Plot], shape: Shape, written: Written) -> None:
    """The orders (which settle each plot's outcome), resources, events, plan periods and usage of `plots`."""
    catalogue, consumers = shape.catalogue, shape.consumers
    trail = order_trail(plots, catalogue, consumers, shape.now)
    up = [p for p in plots if p.up_at]
    periods = dict(zip([p.resource_id for p in up], allocate_ids(ResourcePlanPeriod, len(up)), strict=True))
    usage = plan_usage(plots, periods, shape)
    write_resources(plots, usage.current_usages)
    written.resources += len(plots)
    written.resource_events += insert(
        ResourceEvent,
        ["resource_id", "old_state", "new_state", "actor_id", "reason", "created"],
        resource_events(plots, catalogue, consumers),
    )
    insert(
        ResourcePlanPeriod,
        ["id", "resource_id", "plan_id", "start", "end"],
        (
            (periods[p.resource_id], p.resource_id, catalogue.plans[p.offering.pk].pk, p.up_at, p.ended_at)
            for p in up
        ),
    )
    written.orders += insert(Order, ORDER_COLUMNS, trail.rows)
    written.order_events += insert(OrderEvent, EVENT_COLUMNS, trail.events)
    records, user_rows = write_usage(usage)
    written.component_usages += records
    written.user_usages += user_rows
