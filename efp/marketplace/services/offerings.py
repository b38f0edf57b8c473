"""Provider-side catalogue changes: service providers, categories, offerings, components, plans, offering
managers. An offering with its components and plans is one verb (`create_offering`): nothing of it is
written unless all of it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from efp.errors import Forbidden, InvalidInput
from efp.marketplace import events
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    OfferingRole,
    Plan,
    PlanComponent,
    ServiceProvider,
)
from efp.marketplace.services import limit_usage
from efp.structure.events import record_team_role_event
from efp.structure.models import Customer, CustomerRole
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission, Role
from efp.structure.services import grant_customer_role, unique_slug


@dataclass(frozen=True)
class ComponentSpec:
    """A component of a new offering; `fields` are the optional OfferingComponent fields (unit, limits...)."""

    type: str
    name: str
    billing_type: str = OfferingComponent.BillingType.FIXED
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanSpec:
    """A plan of a new offering; `prices` and `quotas` are keyed by component type."""

    name: str
    description: str = ""
    unit: str = Plan.Unit.MONTH
    unit_price: Decimal = Decimal(0)
    prices: dict[str, Decimal] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=dict)
    max_amount: int | None = None


def may_edit_catalogue(user: Any) -> bool:
    """Categories, offerings, components and plans are created by staff (docs/contract.md)."""
    return bool(getattr(user, "is_staff", False))


def _guard_catalogue(user: Any) -> None:
    if user is not None and not may_edit_catalogue(user):
        raise Forbidden()


def check_components(components: Sequence[ComponentSpec]) -> None:
    """Refuses a component type named twice (what `add_component` would refuse for the second one)."""
    seen: set[str] = set()
    for component in components:
        if component.type in seen:
            raise InvalidInput({"type": [f"The offering already has a component of type {component.type}."]})
        seen.add(component.type)


@transaction.atomic
def create_category(*, user: Any, title: str, description: str = "") -> Category:
    _guard_catalogue(user)
    return Category.objects.create(title=title, description=description)


def register_service_provider(*, customer: Customer, description: str = "") -> ServiceProvider:
    provider, _ = ServiceProvider.objects.get_or_create(
        customer=customer, defaults={"description": description}
    )
    return provider


@transaction.atomic
def create_offering(
    *,
    user: Any = None,
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
    components: Sequence[ComponentSpec] = (),
    plans: Sequence[PlanSpec] = (),
) -> Offering:
    """The offering with its components and then its plans (whose prices and quotas name the components),
    in one transaction. `user` None: the system (demo data, tests' factories)."""
    _guard_catalogue(user)
    check_components(components)
    register_service_provider(customer=customer)
    offering = Offering.objects.create(
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
    events.offering_created("marketplace_offering_created", offering, actor=user)
    for component in components:
        add_component(
            offering=offering,
            component_type=component.type,
            name=component.name,
            billing_type=component.billing_type,
            user=user,
            **component.fields,
        )
    for plan in plans:
        create_plan(offering=offering, user=user, **asdict(plan))
    return offering


@transaction.atomic
def add_component(
    *,
    user: Any = None,
    offering: Offering,
    component_type: str,
    name: str,
    billing_type: str,
    **fields: Any,
) -> OfferingComponent:
    _guard_catalogue(user)
    if OfferingComponent.objects.filter(offering=offering, type=component_type).exists():
        raise InvalidInput({"type": [f"The offering already has a component of type {component_type}."]})
    component = OfferingComponent.objects.create(
        offering=offering, type=component_type, name=name, billing_type=billing_type, **fields
    )
    limit_usage.refresh_offering(offering.pk)  # its resources may have a limit now
    events.offering_created(
        "marketplace_offering_component_created",
        offering,
        actor=user,
        component_type=component_type,
        component_name=name,
    )
    return component


@transaction.atomic
def create_plan(
    *,
    user: Any = None,
    offering: Offering,
    name: str,
    unit: str = Plan.Unit.MONTH,
    unit_price: Decimal = Decimal(0),
    prices: dict[str, Decimal] | None = None,
    quotas: dict[str, int] | None = None,
    description: str = "",
    max_amount: int | None = None,
) -> Plan:
    _guard_catalogue(user)
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
    events.offering_created(
        "marketplace_plan_created", offering, actor=user, plan_uuid=plan.uuid.hex, plan_name=plan.name
    )
    return plan


@transaction.atomic
def grant_offering_manager(*, offering: Offering, user: Any, actor: Any = None) -> OfferingRole:
    """OFFERING.MANAGER also makes the user a service manager of the offering's organisation (Waldur)."""
    grant, created = OfferingRole.objects.get_or_create(
        offering=offering, user=user, role=Role.OFFERING_MANAGER
    )
    if created:
        events.offering_role("role_granted", offering, holder=user, actor=actor)
    grant_customer_role(customer=offering.customer, user=user, role=Role.CUSTOMER_MANAGER, actor=actor)
    return grant


@transaction.atomic
def revoke_offering_manager(*, offering: Offering, user: Any, actor: Any = None) -> None:
    deleted, _ = OfferingRole.objects.filter(
        offering=offering, user=user, role=Role.OFFERING_MANAGER
    ).delete()
    if deleted:
        events.offering_role("role_revoked", offering, holder=user, actor=actor)
    still_manages = OfferingRole.objects.filter(user=user, offering__customer=offering.customer).exists()
    if not still_manages:
        revoked, _ = CustomerRole.objects.filter(
            user=user, customer=offering.customer, role=Role.CUSTOMER_MANAGER
        ).delete()
        if revoked:
            record_team_role_event(
                "role_revoked", scope=offering.customer, holder=user, role=Role.CUSTOMER_MANAGER, actor=actor
            )


# --- the correction policy of an offering (services/corrections.py reads it) --------------------------

MAX_CORRECTION_MONTHS = 120


def may_set_correction_policy(user: Any, offering: Offering) -> bool:
    """Staff and the provider's owners, who run its team (CUSTOMER.MANAGE_TEAM): the policy says which of
    the team may correct, so the managers it may exclude cannot widen it again."""
    return has_permission(user, Permission.CUSTOMER_MANAGE_TEAM, customers=[offering.customer_id])


def set_correction_policy(
    *, user: Any, offering: Offering, corrected_by: str | None = None, months: Any = None
) -> Offering:
    """Who may correct closed months of the offering's usage, and how many months back (None: unchanged)."""
    if not may_set_correction_policy(user, offering):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    if corrected_by is not None and corrected_by not in Offering.CorrectedBy.values:
        errors["usage_corrected_by"] = [f'"{corrected_by}" is not a valid choice.']
    if months is not None and (
        isinstance(months, bool) or not isinstance(months, int) or not 0 <= months <= MAX_CORRECTION_MONTHS
    ):
        errors["usage_correction_months"] = [
            f"Ensure this is a whole number from 0 to {MAX_CORRECTION_MONTHS}."
        ]
    if errors:
        raise InvalidInput(errors)
    changes: dict[str, Any] = {}
    if corrected_by is not None and corrected_by != offering.usage_corrected_by:
        changes["usage_corrected_by"] = corrected_by
    if months is not None and months != offering.usage_correction_months:
        changes["usage_correction_months"] = months
    if not changes:
        return offering
    with transaction.atomic():
        Offering.objects.filter(pk=offering.pk).update(**changes)
        for name, value in changes.items():
            setattr(offering, name, value)
        events.offering_created("marketplace_offering_updated", offering, actor=user, **changes)
    return offering
