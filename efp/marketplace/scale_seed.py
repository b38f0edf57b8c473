"""`efp seed-scale`: a database the size of a national allocation service, for `make bench`.

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

import datetime
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.accounts.services import get_or_create_token
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    Category,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    OfferingType,
    Order,
    OrderEvent,
    Plan,
    Resource,
    ResourceEvent,
    ResourcePlanPeriod,
    UsageRevision,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import Role
from efp.structure.services import create_customer, grant_customer_role

OS = OrderState
RS = ResourceState
BT = OfferingComponent.BillingType

DEFAULT_RESOURCES = 10_000
DEFAULT_MONTHS = 12
DEFAULT_USERS_PER_RESOURCE = 4
PROVIDERS = 4
SLURM_OFFERINGS_PER_PROVIDER = 2  # plus one Basic offering each
CONSUMERS = 50
PROJECTS_PER_CONSUMER = 4
FIRST_PROVIDER_SLUG = "scale-provider-1"
BATCH = 20_000
CENT = Decimal("0.01")
# Typical month of a project, per usage component type.
MONTHLY_SCALE = {"cpu": 20_000, "gpu": 400, "hours": 30, "sessions": 4}

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


# --- bulk writing -----------------------------------------------------------------------------------


def _defaults(model: type[models.Model], given: Sequence[str]) -> list[tuple[str, Callable[[], Any]]]:
    """(column, value maker) of every concrete column not given: the model's own defaults."""
    makers: list[tuple[str, Callable[[], Any]]] = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.attname in given:
            continue
        if isinstance(model_field, models.UUIDField) and model_field.has_default():
            makers.append((model_field.attname, uuid.uuid4))
            continue
        makers.append((model_field.attname, _constant(model_field.get_default())))
    return makers


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys for `count` new rows, taken from the table's sequence (PostgreSQL) or past the max."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - our own table name
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Writes rows (values in `columns` order, `id` among them) with the model's defaults for the rest."""
    makers = _defaults(model, columns)
    names = [*columns, *(name for name, _ in makers)]
    count = 0
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        json_at = [
            i
            for i, name in enumerate(names)
            if isinstance(model._meta.get_field(_field_name(model, name)), models.JSONField)
        ]
        quoted = ", ".join(connection.ops.quote_name(name) for name in names)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f'COPY "{model._meta.db_table}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    values = [*row, *(make() for _, make in makers)]
                    for i in json_at:
                        if values[i] is not None:
                            values[i] = Jsonb(values[i])
                    copy.write_row(values)
                    count += 1
        return count
    batch: list[models.Model] = []
    for row in rows:
        values = [*row, *(make() for _, make in makers)]
        batch.append(model(**dict(zip(names, values, strict=True))))
        count += 1
        if len(batch) >= BATCH:
            model._default_manager.bulk_create(batch)
            batch = []
    if batch:
        model._default_manager.bulk_create(batch)
    return count


def _field_name(model: type[models.Model], attname: str) -> str:
    for model_field in model._meta.concrete_fields:
        if model_field.attname == attname:
            return model_field.name
    raise LookupError(attname)


# --- the plan of the history -------------------------------------------------------------------------


@dataclass
class Catalogue:
    offerings: list[Offering]
    plans: dict[int, Plan]
    components: dict[int, list[OfferingComponent]]
    prices: dict[int, dict[str, Decimal]]
    provider_owner: dict[int, User]  # customer id → owner


@dataclass
class Consumers:
    projects: list[Project]
    owner_of: dict[int, int]  # customer id → owner user id
    members: dict[int, list[tuple[int, str]]]  # project id → [(user id, username)]
    future_projects: list[Project] = field(default_factory=list)


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


def provider_username(index: int) -> str:
    return f"scale-provider-{index}"


def _catalogue() -> Catalogue:
    category, _ = Category.objects.get_or_create(title="HPC", defaults={"description": "Compute and storage"})
    offerings: list[Offering] = []
    owners: dict[int, User] = {}
    for p in range(1, PROVIDERS + 1):
        owner = User.objects.create_user(
            username=provider_username(p), email=f"{provider_username(p)}@example.org", password=None
        )
        customer = create_customer(name=f"Scale provider {p}", abbreviation=f"SP{p}")
        customer.slug = f"scale-provider-{p}"
        customer.save(update_fields=["slug"])
        grant_customer_role(customer=customer, user=owner, role=Role.CUSTOMER_OWNER)
        offering_services.register_service_provider(customer=customer, description=f"Scale provider {p}")
        owners[customer.pk] = owner
        for o in range(1, SLURM_OFFERINGS_PER_PROVIDER + 2):
            basic = o > SLURM_OFFERINGS_PER_PROVIDER
            offering = offering_services.create_offering(
                customer=customer,
                category=category,
                name=f"Scale {'consulting' if basic else 'cluster'} {p}.{o}",
                offering_type=OfferingType.BASIC if basic else OfferingType.SLURM,
                description="Seeded by efp seed-scale.",
                backend_id="" if basic else f"cluster-{p}-{o}",
            )
            usage_types = ("hours", "sessions") if basic else ("cpu", "gpu")
            for component_type in usage_types:
                offering_services.add_component(
                    offering=offering,
                    component_type=component_type,
                    name=component_type.title(),
                    billing_type=BT.USAGE,
                    measured_unit="hours",
                )
            offering_services.add_component(
                offering=offering,
                component_type="storage",
                name="Storage",
                billing_type=BT.LIMIT,
                measured_unit="TB",
                limit_period=OfferingComponent.LimitPeriod.TOTAL,
                min_value=0,
                max_value=1000,
            )
            offering_services.create_plan(
                offering=offering,
                name="Standard",
                prices={
                    usage_types[0]: Decimal("0.02"),
                    usage_types[1]: Decimal("0.9"),
                    "storage": Decimal(8),
                },
            )
            offerings.append(offering)
    plans = {o.pk: o.plans.get() for o in offerings}
    return Catalogue(
        offerings=offerings,
        plans=plans,
        components={o.pk: list(o.components.order_by("pk")) for o in offerings},
        prices={
            o.pk: {pc.component.type: pc.price for pc in plans[o.pk].components.all()} for o in offerings
        },
        provider_owner=owners,
    )


def _consumers(members_per_project: int, now: datetime.datetime) -> Consumers:
    customer_ids = allocate_ids(Customer, CONSUMERS)
    insert(
        Customer,
        ["id", "name", "slug", "abbreviation"],
        (
            (cid, f"Scale university {i}", f"scale-university-{i}", f"SU{i}")
            for i, cid in enumerate(customer_ids)
        ),
    )
    projects_count = CONSUMERS * PROJECTS_PER_CONSUMER
    project_ids = allocate_ids(Project, projects_count)
    future = now.date() + datetime.timedelta(days=40)
    project_rows = [
        (
            pid,
            customer_ids[i // PROJECTS_PER_CONSUMER],
            f"Scale project {i}",
            f"scale-project-{i}",
            future if i % 50 == 49 else None,  # a few projects start later: their orders wait
        )
        for i, pid in enumerate(project_ids)
    ]
    insert(Project, ["id", "customer_id", "name", "slug", "start_date"], project_rows)
    people = CONSUMERS + projects_count * members_per_project
    user_ids = allocate_ids(User, people)
    names = [f"scale-owner-{i}" for i in range(CONSUMERS)] + [
        f"scale-user-{i}" for i in range(projects_count * members_per_project)
    ]
    insert(
        User,
        ["id", "username", "email", "password", "is_active", "date_joined"],
        (
            (uid, name, f"{name}@example.org", "!", True, now)
            for uid, name in zip(user_ids, names, strict=True)
        ),
    )
    owner_of = {cid: user_ids[i] for i, cid in enumerate(customer_ids)}
    insert(
        CustomerRole,
        ["id", "user_id", "customer_id", "role"],
        (
            (rid, owner_of[cid], cid, Role.CUSTOMER_OWNER.value)
            for rid, cid in zip(allocate_ids(CustomerRole, CONSUMERS), customer_ids, strict=True)
        ),
    )
    members: dict[int, list[tuple[int, str]]] = {}
    role_rows = []
    offset = CONSUMERS
    for pid in project_ids:
        team = [(user_ids[offset + k], names[offset + k]) for k in range(members_per_project)]
        offset += members_per_project
        members[pid] = team
        role_rows += [
            (pid, uid, Role.PROJECT_ADMIN.value if k == 0 else Role.PROJECT_MEMBER.value)
            for k, (uid, _) in enumerate(team)
        ]
    insert(
        ProjectRole,
        ["id", "project_id", "user_id", "role"],
        ((rid, *row) for rid, row in zip(allocate_ids(ProjectRole, len(role_rows)), role_rows, strict=True)),
    )
    projects = list(Project.objects.filter(pk__in=project_ids).order_by("pk"))
    return Consumers(
        projects=[p for p in projects if p.start_date is None],
        owner_of=owner_of,
        members=members,
        future_projects=[p for p in projects if p.start_date is not None],
    )


# --- resources and orders -------------------------------------------------------------------------


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


def _plots(
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
        elif state in (OS.ERRED, OS.REJECTED, OS.CANCELED):
            plot.outcome = RS.TERMINATED
        plots.append(plot)
    return plots


def _orders(plots: list[Plot], catalogue: Catalogue, consumers: Consumers, now: datetime.datetime) -> Trail:
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


def _resource_events(
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
            yield plot.resource_id, RS.CREATING, RS.TERMINATED, provider_id, reason, plot.created
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


# --- usage -----------------------------------------------------------------------------------------


def _usage(
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
    parents: list[tuple[Any, ...]] = []
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
                    (
                        plot.resource_id,
                        component.pk,
                        periods[plot.resource_id],
                        total,
                        date,
                        month,
                        provider_id,
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
            "modified_by_id", "created", "modified",
        ],
        ((uid, *row[:6], row[6], row[4], row[4]) for uid, row in zip(usage_ids, parents, strict=True)),
    )  # fmt: skip
    progress(f"{len(parents):,} component usages")
    user_rows = 0

    def per_user() -> Iterator[tuple[Any, ...]]:
        nonlocal user_rows
        for usage_id, parent, (team, shares) in zip(usage_ids, parents, children, strict=True):
            for (user_id, username), value in zip(team, shares, strict=True):
                user_rows += 1
                revisions.append((usage_id, username, None, value, parent[6], parent[4]))
                yield usage_id, username, user_id, value, parent[4], parent[4]

    insert(
        ComponentUserUsage,
        ["component_usage_id", "username", "user_id", "usage", "created", "modified"],
        per_user(),
    )
    progress(f"{user_rows:,} per-user usages")
    # The agent reports the total, then the per-user values: a revision for each value written.
    totals = ((uid, "", None, p[3], p[6], p[4]) for uid, p in zip(usage_ids, parents, strict=True))
    columns = ["component_usage_id", "username", "old_value", "new_value", "actor_id", "created"]
    insert(UsageRevision, columns, (row for rows in (totals, iter(revisions)) for row in rows))
    return len(parents), user_rows, current_usages


# --- the whole seed --------------------------------------------------------------------------------


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
        _skip_deferred_foreign_key_checks()
        catalogue = _catalogue()
        consumers = _consumers(max(users_per_resource, 2) + 1, now)
        progress(f"catalogue: {PROVIDERS} providers, {len(catalogue.offerings)} offerings, "
                 f"{len(consumers.projects) + len(consumers.future_projects)} projects")  # fmt: skip
        plots = _plots(resources, months, catalogue, consumers, now, rng)
        trail = _orders(plots, catalogue, consumers, now)
        periods = dict(zip([p.resource_id for p in plots if p.up_at], allocate_ids(
            ResourcePlanPeriod, sum(1 for p in plots if p.up_at)), strict=True))  # fmt: skip
        progress(f"planned {len(plots):,} resources and {len(trail.rows):,} orders")
        _write_resources(plots)
        insert(ResourceEvent, ["resource_id", "old_state", "new_state", "actor_id", "reason", "created"],
               _resource_events(plots, catalogue, consumers))  # fmt: skip
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
        usages, user_usages, current = _usage(
            plots, periods, catalogue, consumers, months, users_per_resource, now, rng, progress
        )
        _set_current_usages(current)
        progress("usage revisions and current usages")
        for owner in catalogue.provider_owner.values():
            get_or_create_token(user=owner)
    if connection.vendor == "postgresql":
        # Fresh statistics (or the planner guesses about the new millions of rows) and a visibility map
        # (index-only scans), as autovacuum would leave them a little later.
        # VACUUM cannot run inside a transaction (a caller's, such as a test's): then statistics only.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (Resource, Order, ComponentUsage, ComponentUserUsage, UsageRevision, OrderEvent):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    progress("committed, vacuumed and analyzed")
    return {
        "resources": len(plots),
        "orders": len(trail.rows),
        "component_usages": usages,
        "user_usages": user_usages,
        "created": 1,
    }


def _skip_deferred_foreign_key_checks() -> None:
    """Every key the seed writes comes from the rows it wrote just before (the SQLite run of the tests
    checks them at commit). On PostgreSQL, re-checking millions of them one by one at commit takes longer
    than writing them, so a superuser skips the check for this transaction; anyone else just waits."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _write_resources(plots: list[Plot]) -> None:
    def rows() -> Iterator[tuple[Any, ...]]:
        for p in plots:
            name = f"scale-{p.resource_id}"
            backend = name if p.up_at is not None else ""  # the site agent set it when it created the account
            yield (
                p.resource_id, name, name, p.outcome, p.project.pk, p.offering.pk, p.plan_id, {"name": name},
                {"storage": p.limit}, backend, Decimal(p.limit) * p.storage_price, p.created,
                p.ended_at or p.up_at or p.created,
            )  # fmt: skip

    insert(
        Resource,
        ["id", "name", "slug", "state", "project_id", "offering_id", "plan_id", "attributes", "limits",
         "backend_id", "cost", "created", "modified"],
        rows(),
    )  # fmt: skip


def _set_current_usages(current: dict[int, dict[str, float]]) -> None:
    """This month's values per resource, as set_usage leaves them, in one statement per batch."""
    items = list(current.items())
    for start in range(0, len(items), 2000):
        chunk = items[start : start + 2000]
        objects = [Resource(pk=resource_id, current_usages=values) for resource_id, values in chunk]
        Resource.objects.bulk_update(objects, ["current_usages"])


def provider_token(index: int = 1) -> str:
    return get_or_create_token(user=User.objects.get(username=provider_username(index)))


# --- a supply of orders for the provider to approve (make bench) -------------------------------------

SUPPLY_OFFERING = "Scale bench supply"


def supply_offering() -> Offering:
    """A SLURM offering of the first provider whose only resources are the bench's supply."""
    found = Offering.objects.filter(name=SUPPLY_OFFERING).first()
    if found is not None:
        return found
    provider = Customer.objects.get(slug=FIRST_PROVIDER_SLUG)
    offering = offering_services.create_offering(
        customer=provider,
        category=Category.objects.get(title="HPC"),
        name=SUPPLY_OFFERING,
        offering_type=OfferingType.SLURM,
        backend_id="bench-supply",
    )
    offering_services.add_component(
        offering=offering, component_type="cpu", name="CPU", billing_type=BT.USAGE
    )
    offering_services.create_plan(offering=offering, name="Standard", prices={"cpu": Decimal("0.02")})
    return offering


@transaction.atomic
def pending_order_supply(count: int) -> list[str]:
    """`count` creation orders waiting for the first provider, as create_order leaves them; their uuids."""
    offering = supply_offering()
    plan = offering.plans.get()
    provider = Customer.objects.get(slug=FIRST_PROVIDER_SLUG)
    owner_by_customer = dict(
        CustomerRole.objects.filter(customer__slug__startswith="scale-university-", role=Role.CUSTOMER_OWNER)
        .values_list("customer_id", "user_id")
        .order_by("customer_id")
    )
    projects = list(
        Project.objects.filter(customer_id__in=owner_by_customer, start_date__isnull=True).order_by("pk")
    )
    now = timezone.now()
    resource_ids = allocate_ids(Resource, count)
    order_ids = allocate_ids(Order, count)
    project_of = [projects[i % len(projects)] for i in range(count)]
    insert(
        Resource,
        ["id", "name", "slug", "project_id", "offering_id", "plan_id", "attributes", "created", "modified"],
        (
            (
                rid,
                f"bench-{rid}",
                f"bench-{rid}",
                p.pk,
                offering.pk,
                plan.pk,
                {"name": f"bench-{rid}"},
                now,
                now,
            )
            for rid, p in zip(resource_ids, project_of, strict=True)
        ),
    )
    insert(
        ResourceEvent,
        ["resource_id", "old_state", "new_state", "actor_id", "reason", "created"],
        (
            (rid, "", RS.CREATING, owner_by_customer[p.customer_id], "created", now)
            for rid, p in zip(resource_ids, project_of, strict=True)
        ),
    )
    rows: list[tuple[Any, ...]] = []
    for oid, rid, p in zip(order_ids, resource_ids, project_of, strict=True):
        owner = owner_by_customer[p.customer_id]
        rows.append(
            (
                oid,
                OrderType.CREATE,
                OS.PENDING_PROVIDER,
                offering.pk,
                p.pk,
                rid,
                plan.pk,
                None,
                {"name": f"bench-{rid}"},
                {},
                Decimal(0),
                None,
                owner,
                owner,
                now,
                None,
                None,
                "",
                "",
                None,
                None,
                now,
                now,
            )
        )
    insert(Order, ORDER_COLUMNS, rows)
    events = []
    for oid, p in zip(order_ids, project_of, strict=True):
        owner = owner_by_customer[p.customer_id]
        events.append((oid, "", OS.PENDING_CONSUMER, owner, "created", now))
        events.append(
            (oid, OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, owner, "auto-approved for the consumer", now)
        )
    insert(OrderEvent, EVENT_COLUMNS, events)
    assert provider.pk == offering.customer_id
    return [
        u.hex for u in Order.objects.filter(pk__in=order_ids).order_by("pk").values_list("uuid", flat=True)
    ]


@transaction.atomic
def remove_order_supply() -> int:
    """Deletes what `pending_order_supply` made (and what approving it changed), so runs stay comparable."""
    offering = Offering.objects.filter(name=SUPPLY_OFFERING).first()
    if offering is None:
        return 0
    deleted, _ = Resource.objects.filter(offering=offering).delete()
    return deleted
