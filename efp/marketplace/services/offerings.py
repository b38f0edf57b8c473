"""Provider-side catalogue changes: service providers, offerings, components, plans, offering managers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from efp.errors import InvalidInput
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    OfferingRole,
    Plan,
    PlanComponent,
    ServiceProvider,
)
from efp.structure.models import Customer, CustomerRole
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role, unique_slug


def register_service_provider(*, customer: Customer, description: str = "") -> ServiceProvider:
    provider, _ = ServiceProvider.objects.get_or_create(
        customer=customer, defaults={"description": description}
    )
    return provider


@transaction.atomic
def create_offering(
    *,
    customer: Customer,
    category: Category,
    name: str,
    offering_type: str,
    shared: bool = True,
    billable: bool = True,
    description: str = "",
    plugin_options: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    state: str = Offering.State.ACTIVE,
    backend_id: str = "",
) -> Offering:
    register_service_provider(customer=customer)
    return Offering.objects.create(
        customer=customer,
        category=category,
        name=name,
        slug=unique_slug(Offering, name),
        type=offering_type,
        shared=shared,
        billable=billable,
        description=description,
        plugin_options=plugin_options or {},
        options=options or {},
        state=state,
        backend_id=backend_id,
    )


def add_component(
    *, offering: Offering, component_type: str, name: str, billing_type: str, **fields: Any
) -> OfferingComponent:
    if OfferingComponent.objects.filter(offering=offering, type=component_type).exists():
        raise InvalidInput({"type": [f"The offering already has a component of type {component_type}."]})
    return OfferingComponent.objects.create(
        offering=offering, type=component_type, name=name, billing_type=billing_type, **fields
    )


@transaction.atomic
def create_plan(
    *,
    offering: Offering,
    name: str,
    unit: str = Plan.Unit.MONTH,
    unit_price: Decimal = Decimal(0),
    prices: dict[str, Decimal] | None = None,
    quotas: dict[str, int] | None = None,
    description: str = "",
    max_amount: int | None = None,
) -> Plan:
    plan = Plan.objects.create(
        offering=offering,
        name=name,
        unit=unit,
        unit_price=unit_price,
        description=description,
        max_amount=max_amount,
    )
    prices, quotas = prices or {}, quotas or {}
    for component in offering.components.all():
        PlanComponent.objects.create(
            plan=plan,
            component=component,
            price=Decimal(prices.get(component.type, 0)),
            amount=int(quotas.get(component.type, 0)),
        )
    return plan


@transaction.atomic
def grant_offering_manager(*, offering: Offering, user: Any) -> OfferingRole:
    """OFFERING.MANAGER also makes the user a service manager of the offering's organisation (Waldur)."""
    grant, _ = OfferingRole.objects.get_or_create(offering=offering, user=user, role=Role.OFFERING_MANAGER)
    grant_customer_role(customer=offering.customer, user=user, role=Role.CUSTOMER_MANAGER)
    return grant


@transaction.atomic
def revoke_offering_manager(*, offering: Offering, user: Any) -> None:
    OfferingRole.objects.filter(offering=offering, user=user, role=Role.OFFERING_MANAGER).delete()
    still_manages = OfferingRole.objects.filter(user=user, offering__customer=offering.customer).exists()
    if not still_manages:
        CustomerRole.objects.filter(
            user=user, customer=offering.customer, role=Role.CUSTOMER_MANAGER
        ).delete()
