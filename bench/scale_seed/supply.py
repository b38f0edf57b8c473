"""A supply of orders for the provider to approve (`make bench`), and its removal after the run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from bench.scale_seed.bulk import allocate_ids, insert
from bench.scale_seed.history import EVENT_COLUMNS, ORDER_COLUMNS
from bench.scale_seed.people import FIRST_PROVIDER_SLUG
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    OfferingType,
    Order,
    OrderEvent,
    Resource,
    ResourceEvent,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.structure.models import Customer, CustomerRole, Project
from efp.structure.roles import Role

OS = OrderState
RS = ResourceState
BT = OfferingComponent.BillingType

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
