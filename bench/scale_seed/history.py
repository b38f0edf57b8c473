"""Resources and orders: the plot of each resource's history, and the order rows and events the services
would have written for it.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.scale_seed.bulk import allocate_ids, insert
from bench.scale_seed.people import Catalogue, Consumers
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    Offering,
    OfferingType,
    Order,
    Resource,
)
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.structure.models import Project

OS = OrderState
RS = ResourceState

# What became of each resource's creation order (fractions of all resources; the rest is done).
CREATION_OUTCOMES: tuple[tuple[str, float], ...] = (
    (OS.PENDING_CONSUMER, 0.01),
    (OS.PENDING_PROJECT, 0.005),
    (OS.PENDING_PROVIDER, 0.03),
    (OS.EXECUTING, 0.015),
    (OS.ERRED, 0.005),
    (OS.REJECTED, 0.01),
    (OS.CANCELED, 0.005),  # Basic offerings only (SLURM orders cannot be canceled)
)
# Second orders of resources that came up: (type, state, share).
LATER_ORDERS: tuple[tuple[str, str, float], ...] = (
    (OrderType.UPDATE, OS.DONE, 0.50),
    (OrderType.UPDATE, OS.PENDING_PROVIDER, 0.14),
    (OrderType.UPDATE, OS.EXECUTING, 0.05),
    (OrderType.UPDATE, OS.ERRED, 0.03),
    (OrderType.UPDATE, OS.REJECTED, 0.04),
    (OrderType.TERMINATE, OS.DONE, 0.12),
    (OrderType.TERMINATE, OS.EXECUTING, 0.04),
    (OrderType.TERMINATE, OS.PENDING_PROVIDER, 0.05),
    (OrderType.TERMINATE, OS.PENDING_CONSUMER, 0.03),
)


# Resources that came up and had an earlier limit change, so that there are about two orders per resource.
EARLIER_UPDATE_SHARE = 0.15


@dataclass
class Trail:
    """What the services would have written for one order: the order row and its events."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


ORDER_COLUMNS = [
    "id", "type", "state", "offering_id", "project_id", "resource_id", "plan_id", "old_plan_id", "attributes",
    "limits", "cost", "old_cost", "created_by_id", "consumer_reviewed_by_id", "consumer_reviewed_at",
    "provider_reviewed_by_id", "provider_reviewed_at", "provider_rejection_comment", "error_message",
    "completed_at", "error_updated_at", "created", "modified",
]  # fmt: skip
EVENT_COLUMNS = ["order_id", "old_state", "new_state", "actor_id", "reason", "created"]


def _order_path(offering_type: str, order_type: str, state: str) -> list[tuple[str, str, str]]:
    """(old, new, reason) of each event, in the order the services write them; actor roles by reason."""
    path: list[tuple[str, str, str]] = [("", OS.PENDING_CONSUMER, "created")]
    if state == OS.PENDING_CONSUMER:
        return path
    if state == OS.PENDING_PROJECT:
        return [*path, (OS.PENDING_CONSUMER, OS.PENDING_PROJECT, "auto-approved for the consumer")]
    path.append((OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, "auto-approved for the consumer"))
    if state == OS.PENDING_PROVIDER:
        return path
    if state == OS.REJECTED:
        return [*path, (OS.PENDING_PROVIDER, OS.REJECTED, "rejected by provider")]
    if state == OS.CANCELED:
        return [*path, (OS.PENDING_PROVIDER, OS.CANCELED, "canceled")]
    path.append((OS.PENDING_PROVIDER, OS.EXECUTING, "approved by provider"))
    if state == OS.EXECUTING:
        return path
    if state == OS.ERRED:
        return [*path, (OS.EXECUTING, OS.ERRED, "backend failure")]
    processed_at_once = offering_type in OfferingType.PROCESSED_AT_ONCE
    return [
        *path,
        (OS.EXECUTING, OS.DONE, "processed at once" if processed_at_once else "completed by provider"),
    ]


@dataclass
class Plot:
    """One resource's history as the seed writes it."""

    resource_id: int
    offering: Offering
    project: Project
    created: datetime.datetime
    creation_state: str
    later: list[tuple[str, str]] = field(default_factory=list)  # (order type, state) of later orders
    outcome: str = RS.CREATING  # the state the resource is left in
    up_at: datetime.datetime | None = None  # when it came up (creation order done)
    ended_at: datetime.datetime | None = None  # when it was terminated
    later_at: list[datetime.datetime] = field(default_factory=list)  # when each was decided
    limit: int = 10
    plan_id: int = 0
    storage_price: Decimal = Decimal(0)
    provider_id: int = 0


def _pick(rng: random.Random, shares: Sequence[tuple[Any, float]], default: Any) -> Any:
    roll = rng.random()
    for value, share in shares:
        if roll < share:
            return value
        roll -= share
    return default


def _possible(offering: Offering, state: str) -> str:
    """Basic orders complete as soon as they execute and cannot fail; SLURM orders cannot be canceled."""
    if offering.type == OfferingType.BASIC:
        return {OS.EXECUTING: OS.DONE, OS.ERRED: OS.REJECTED}.get(OrderState(state), state)
    return OS.REJECTED if state == OS.CANCELED else state


def plan_resources(
    count: int,
    months: int,
    catalogue: Catalogue,
    consumers: Consumers,
    now: datetime.datetime,
    rng: random.Random,
) -> list[Plot]:
    first_month = add_months(billing_period_of(now), -(months - 1))
    slurm = [o for o in catalogue.offerings if o.type == OfferingType.SLURM]
    basic = [o for o in catalogue.offerings if o.type == OfferingType.BASIC]
    plots = []
    up_count = 0
    for i, resource_id in enumerate(allocate_ids(Resource, count)):
        # The first resources take every outcome once, so that even a small seed has each state.
        state = (
            CREATION_OUTCOMES[i][0] if i < len(CREATION_OUTCOMES) else _pick(rng, CREATION_OUTCOMES, OS.DONE)
        )
        is_basic = i % 10 == 9 or (state == OS.CANCELED and i < len(CREATION_OUTCOMES))
        offering = basic[i % len(basic)] if is_basic else slurm[i % len(slurm)]
        state = _possible(offering, state)
        project = (
            consumers.future_projects[i % len(consumers.future_projects)]
            if state == OS.PENDING_PROJECT
            else consumers.projects[(i * 7) % len(consumers.projects)]
        )
        if state == OS.DONE:
            # Up before the first month of usage, so it reports every month.
            created = month_start(first_month) - datetime.timedelta(days=rng.randint(3, 60), minutes=i % 1440)
        else:
            created = now - datetime.timedelta(days=rng.randint(1, 30), minutes=i % 1440)
        plot = Plot(
            resource_id,
            offering,
            project,
            created,
            state,
            limit=rng.choice((5, 10, 20, 50, 100)),
            plan_id=catalogue.plans[offering.pk].pk,
            storage_price=catalogue.prices[offering.pk]["storage"],
            provider_id=catalogue.provider_owner[offering.customer_id].pk,
        )
        if state == OS.DONE:
            plot.up_at = created + datetime.timedelta(hours=rng.randint(1, 48))
            plot.outcome = RS.OK
            if rng.random() < EARLIER_UPDATE_SHARE:
                plot.later.append((OrderType.UPDATE, OS.DONE))
            if up_count < len(LATER_ORDERS):
                order_type, state, _ = LATER_ORDERS[up_count]
            else:
                order_type, state = _pick(rng, [((t, s), share) for t, s, share in LATER_ORDERS], None)
            up_count += 1
            plot.later.append((order_type, _possible(offering, state)))
        elif state == OS.ERRED:
            plot.outcome = RS.ERRED  # a failed creation keeps its resource Erred, as Waldur does
        elif state in (OS.REJECTED, OS.CANCELED):
            plot.outcome = RS.TERMINATED
        plots.append(plot)
    return plots


def order_trail(
    plots: list[Plot], catalogue: Catalogue, consumers: Consumers, now: datetime.datetime
) -> Trail:
    trail = Trail()
    order_ids = iter(allocate_ids(Order, len(plots) + sum(len(p.later) for p in plots)))
    for plot in plots:
        owner_id = consumers.owner_of[plot.project.customer_id]
        member_id = consumers.members[plot.project.pk][-1][0]
        provider_id = catalogue.provider_owner[plot.offering.customer_id].pk
        plan = catalogue.plans[plot.offering.pk]
        price = catalogue.prices[plot.offering.pk]["storage"]
        name = f"scale-{plot.resource_id}"
        # Creation order.
        creator = member_id if plot.creation_state == OS.PENDING_CONSUMER else owner_id
        finished = plot.up_at or (plot.created + datetime.timedelta(hours=6))
        _add_order(
            trail,
            next(order_ids),
            plot,
            OrderType.CREATE,
            plot.creation_state,
            {"name": name},
            {"storage": plot.limit},
            Decimal(plot.limit) * price,
            None,
            plan.pk,
            None,
            creator,
            provider_id,
            plot.created,
            finished,
        )
        for number, (order_type, state) in enumerate(plot.later):
            _add_later_order(trail, next(order_ids), plot, order_type, state, number, consumers, now)
    return trail


def _add_later_order(
    trail: Trail,
    order_id: int,
    plot: Plot,
    order_type: str,
    state: str,
    number: int,
    consumers: Consumers,
    now: datetime.datetime,
) -> None:
    assert plot.up_at is not None
    plan_id = plot.plan_id
    price = plot.storage_price
    name = f"scale-{plot.resource_id}"
    last = number == len(plot.later) - 1
    at = plot.up_at + datetime.timedelta(days=30)
    if last:
        at = max(at + datetime.timedelta(days=30), now - datetime.timedelta(days=20))
    at -= datetime.timedelta(minutes=plot.resource_id % 600)
    done_at = at + datetime.timedelta(hours=2)
    plot.later_at.append(done_at)
    # A project admin may ask for termination but not approve it: such an order waits for the consumer.
    owner_id = consumers.owner_of[plot.project.customer_id]
    creator = consumers.members[plot.project.pk][0][0] if state == OS.PENDING_CONSUMER else owner_id
    new_limit = plot.limit
    if order_type == OrderType.UPDATE:
        new_limit = plot.limit * 2
        attributes: dict[str, Any] = {"old_limits": {"storage": plot.limit}, "name": name}
        limits = {"storage": new_limit}
    else:
        attributes, limits = {"name": name}, {}
    _add_order(
        trail,
        order_id,
        plot,
        order_type,
        state,
        attributes,
        limits,
        Decimal(new_limit) * price,
        Decimal(plot.limit) * price,
        plan_id,
        plan_id if order_type == OrderType.UPDATE else None,
        creator,
        plot.provider_id,
        at,
        done_at,
    )
    if state == OS.EXECUTING:
        plot.outcome = RS.UPDATING if order_type == OrderType.UPDATE else RS.TERMINATING
    elif state == OS.ERRED and order_type == OrderType.UPDATE:
        plot.outcome = RS.ERRED
    elif state == OS.DONE and order_type == OrderType.TERMINATE:
        plot.outcome, plot.ended_at = RS.TERMINATED, done_at
    elif state == OS.DONE:
        plot.limit = new_limit


def _add_order(
    trail: Trail,
    order_id: int,
    plot: Plot,
    order_type: str,
    state: str,
    attributes: dict[str, Any],
    limits: dict[str, int],
    cost: Decimal,
    old_cost: Decimal | None,
    plan_id: int,
    old_plan_id: int | None,
    creator_id: int,
    provider_id: int,
    created: datetime.datetime,
    finished: datetime.datetime,
) -> None:
    path = _order_path(plot.offering.type, order_type, state)
    step = (finished - created) / max(len(path), 1)
    times = [created + step * k for k in range(len(path))]
    reviewed_by = reviewed_at = None
    consumer_by = consumer_at = None
    for (old, new, reason), at in zip(path, times, strict=True):
        by_provider = old == OS.PENDING_PROVIDER or old == OS.EXECUTING
        actor = provider_id if by_provider else creator_id
        if old == OS.PENDING_PROVIDER and new in (OS.EXECUTING, OS.REJECTED):
            reviewed_by, reviewed_at = provider_id, at
        if old == OS.PENDING_CONSUMER:
            consumer_by, consumer_at = creator_id, at
        if new == OS.CANCELED:
            actor = creator_id
        trail.events.append((order_id, old, new, actor, reason, at))
    end = times[-1]
    erred = state == OS.ERRED
    trail.rows.append(
        (
            order_id, order_type, state, plot.offering.pk, plot.project.pk, plot.resource_id, plan_id,
            old_plan_id, attributes, limits, cost, old_cost, creator_id, consumer_by, consumer_at,
            reviewed_by, reviewed_at, "", "backend failure" if erred else "",
            end if state in (OS.DONE, OS.ERRED) else None, end if erred else None, created, end,
        )
    )  # fmt: skip


def resource_events(
    plots: list[Plot], catalogue: Catalogue, consumers: Consumers
) -> Iterator[tuple[Any, ...]]:
    for plot in plots:
        owner_id = consumers.owner_of[plot.project.customer_id]
        provider_id = catalogue.provider_owner[plot.offering.customer_id].pk
        yield plot.resource_id, "", RS.CREATING, owner_id, "created", plot.created
        if plot.creation_state in (OS.REJECTED, OS.CANCELED, OS.ERRED):
            reasons: dict[str, str] = {
                OS.REJECTED: "order rejected by provider",
                OS.CANCELED: "order canceled",
            }
            reason = reasons.get(plot.creation_state, "creation failed")
            ended = RS.ERRED if plot.creation_state == OS.ERRED else RS.TERMINATED
            yield plot.resource_id, RS.CREATING, ended, provider_id, reason, plot.created
        if plot.up_at is None:
            continue
        yield plot.resource_id, RS.CREATING, RS.OK, provider_id, "created", plot.up_at
        for number, ((order_type, state), at) in enumerate(zip(plot.later, plot.later_at, strict=True)):
            final = plot.outcome if number == len(plot.later) - 1 else RS.OK
            yield from _later_resource_events(plot.resource_id, order_type, state, final, provider_id, at)


def _later_resource_events(
    resource_id: int, order_type: str, state: str, final: str, provider_id: int, at: datetime.datetime
) -> Iterator[tuple[Any, ...]]:
    if final == RS.UPDATING:
        yield resource_id, RS.OK, RS.UPDATING, provider_id, "update order executing", at
    elif final == RS.TERMINATING:
        yield resource_id, RS.OK, RS.TERMINATING, provider_id, "terminate order executing", at
    elif final == RS.ERRED:
        yield resource_id, RS.OK, RS.UPDATING, provider_id, "update order executing", at
        yield resource_id, RS.UPDATING, RS.ERRED, provider_id, "update failed", at
    elif final == RS.TERMINATED:
        yield resource_id, RS.OK, RS.TERMINATING, provider_id, "terminate order executing", at
        yield resource_id, RS.TERMINATING, RS.TERMINATED, provider_id, "terminated", at
    elif order_type == OrderType.UPDATE and state == OS.DONE:
        yield resource_id, RS.OK, RS.UPDATING, provider_id, "update order executing", at
        yield resource_id, RS.UPDATING, RS.OK, provider_id, "updated", at


def write_resources(plots: list[Plot], current_usages: dict[int, dict[str, float]]) -> None:
    """The resources in the state their history left them, with this month's usage as set_usage leaves it."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for p in plots:
            name = f"scale-{p.resource_id}"
            backend = name if p.up_at is not None else ""  # the site agent set it when it created the account
            # The live window as the transitions keep it (coverage.py): activated when it came up, ended
            # by its first move to Terminated (a failed creation's at once, see `resource_events`).
            live_from = p.created if p.up_at is not None else None
            live_until = (p.ended_at or p.created) if p.outcome == RS.TERMINATED else None
            yield (
                p.resource_id, name, name, p.outcome, p.project.pk, p.offering.pk, p.plan_id, {"name": name},
                {"storage": p.limit}, backend, Decimal(p.limit) * p.storage_price,
                current_usages.get(p.resource_id, {}), p.created, p.ended_at or p.up_at or p.created,
                live_from, live_until, p.project.customer.name, p.project.name,
            )  # fmt: skip

    insert(
        Resource,
        ["id", "name", "slug", "state", "project_id", "offering_id", "plan_id", "attributes", "limits",
         "backend_id", "cost", "current_usages", "created", "modified", "live_from", "live_until",
         "sort_customer_name", "sort_project_name"],
        rows(),
    )  # fmt: skip
