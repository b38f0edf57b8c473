"""Small typed factories that build test data through the real services."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.utils import timezone

from efp.accounts.models import ApiToken, User
from efp.accounts.services import KEY_BYTES, digest_of
from efp.marketplace.models import Category, Offering, OfferingComponent, OfferingType, Order, Plan, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.structure.models import Customer, Project
from efp.structure.roles import Role
from efp.structure.services import create_customer, create_project, grant_customer_role, grant_project_role

BW = OfferingComponent.BillingType


def make_user(username: str, **fields: Any) -> User:
    user = User.objects.create_user(
        username=username, password=username, email=f"{username}@example.org", **fields
    )
    return user


def make_token(user: User, *, name: str = "test", offering: Offering | None = None) -> str:
    """A key for a test client, stored as `issue_token` stores one but recording no event, and noted as
    just used from the test client's address, so the requests of a story write nothing for it (query
    counts stay the story's own). The stories about tokens go through the service (test_api_tokens.py)."""
    key = secrets.token_hex(KEY_BYTES)
    ApiToken.objects.create(
        user=user,
        name=name,
        digest=digest_of(key),
        prefix=key[:8],
        offering=offering,
        last_used=timezone.now(),
        last_used_from="127.0.0.1",
    )
    return key


def make_customer(name: str, *, owner: User | None = None) -> Customer:
    customer = create_customer(name=name)
    if owner is not None:
        grant_customer_role(customer=customer, user=owner, role=Role.CUSTOMER_OWNER)
    return customer


def make_project(customer: Customer, name: str, **roles: list[User]) -> Project:
    project = create_project(customer=customer, name=name)
    for role_name, members in roles.items():
        role = {
            "admins": Role.PROJECT_ADMIN,
            "managers": Role.PROJECT_MANAGER,
            "members": Role.PROJECT_MEMBER,
        }[role_name]
        for user in members:
            grant_project_role(project=project, user=user, role=role)
    return project


def make_offering(
    customer: Customer, *, name: str = "Aurora", offering_type: str = OfferingType.SLURM, **fields: Any
) -> Offering:
    category, _ = Category.objects.get_or_create(title="HPC")
    offering = offering_services.create_offering(
        customer=customer, category=category, name=name, offering_type=offering_type, **fields
    )
    offering_services.add_component(
        offering=offering, component_type="cpu", name="CPU", billing_type=BW.USAGE, measured_unit="core-hours"
    )
    offering_services.add_component(
        offering=offering, component_type="gpu", name="GPU", billing_type=BW.USAGE, measured_unit="GPU-hours"
    )
    offering_services.add_component(
        offering=offering,
        component_type="storage",
        name="Storage",
        billing_type=BW.LIMIT,
        measured_unit="TB",
        max_value=1000,
    )
    offering_services.add_component(
        offering=offering, component_type="support", name="Support", billing_type=BW.FIXED
    )
    offering_services.create_plan(
        offering=offering, name="Standard", prices={"cpu": Decimal("0.02"), "storage": Decimal("8")}
    )
    return offering


def plan_of(offering: Offering) -> Plan:
    return offering.plans.order_by("pk").first()  # type: ignore[return-value]


def make_order(
    user: User,
    project: Project,
    offering: Offering,
    *,
    name: str = "alloc",
    limits: dict[str, int] | None = None,
) -> Order:
    return order_services.create_order(
        user=user,
        project=project,
        offering=offering,
        plan=plan_of(offering),
        attributes={"name": name},
        limits={"storage": 10} if limits is None else limits,
    )


def make_resource(
    owner: User, provider: User, project: Project, offering: Offering, *, name: str = "alloc"
) -> Resource:
    """An OK resource: created by a consumer owner, approved and completed by the provider."""
    order = make_order(owner, project, offering, name=name)
    order_services.approve_order_by_provider(order=order, user=provider)
    order.refresh_from_db()
    if order.state != "done":
        order_services.complete_order(order=order, user=provider)
    resource = order.resource
    assert resource is not None
    resource.refresh_from_db()
    return resource


def terminate_now(resource: Resource, provider: User) -> Resource:
    """`resource` terminated through a Terminate order its provider places, approves and completes."""
    order = order_services.terminate_resource(resource=resource, user=provider)
    if order.state == "pending-provider":
        order = order_services.approve_order_by_provider(order=order, user=provider)
    if order.state != "done":
        order_services.complete_order(order=order, user=provider)
    resource.refresh_from_db()
    assert resource.state == "Terminated"
    return resource
