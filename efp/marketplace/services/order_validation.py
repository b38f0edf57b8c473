"""Checks of a new order and its price (docs/contract.md §4, §5.7): no writes, only answers or 400s."""

from __future__ import annotations

import datetime
from decimal import Decimal, localcontext
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date

from efp.accounts.models import User
from efp.errors import InvalidInput
from efp.marketplace import plugin_options
from efp.marketplace.models import Offering, OfferingComponent, Order, Plan, Resource
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderType, ResourceState
from efp.structure.models import Project
from efp.structure.names import NAME_MESSAGE, has_control_characters

LIMIT = OfferingComponent.BillingType.LIMIT
# Order.cost and Resource.cost hold 22 digits, 10 of them after the point.
MAX_COST = Decimal(10) ** 12
# One-time prices: `one` components are charged on creation, `few` on a plan switch.
ONE_TIME_PRICES = {
    (OfferingComponent.BillingType.ONE, OrderType.CREATE),
    (OfferingComponent.BillingType.FEW, OrderType.UPDATE),
}


# --- shared checks ------------------------------------------------------------------------------


def check_customer_available(project: Project) -> None:
    if project.customer.blocked:
        raise InvalidInput("Blocked organization is not available.")
    if project.customer.archived:
        raise InvalidInput("Archived organization is not available.")


def check_project_not_expired(project: Project) -> None:
    if project.is_expired():
        raise InvalidInput(f"Project '{project.name}' is expired.")


def compute_cost(*, plan: Plan | None, limits: dict[str, int], order_type: str) -> Decimal | None:
    """plan unit price + sum of (limit-component price * limit / factor) + one-time prices
    (docs/contract.md §4)."""
    if plan is None:
        return None
    with localcontext() as context:
        context.prec = 60  # room for a huge limit: the check below answers 400, not InvalidOperation
        cost = Decimal(plan.unit_price)
        for plan_component in plan.components.all():
            component = plan_component.component
            if component.billing_type == LIMIT:
                amount = Decimal(limits.get(component.type, 0) or 0)
                cost += Decimal(plan_component.price) * amount / Decimal(component.factor or 1)
            elif (component.billing_type, order_type) in ONE_TIME_PRICES:
                cost += Decimal(plan_component.price)
        if cost >= MAX_COST:
            raise InvalidInput({"limits": ["The cost of these limits is too large."]})
        return cost.quantize(Decimal("0.0000000001"))


# --- validation of a new order (docs/contract.md §5.7) --------------------------------------------------


def validate_plan(offering: Offering, plan: Plan | None, order_type: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if plan is None:
        if order_type == OrderType.CREATE and offering.plans.exists():
            errors["plan"] = ["Plan is required when creating resources for this offering."]
        return errors
    if plan.offering_id != offering.pk:
        errors["plan"] = ["This plan is not available for selected offering."]
    elif plan.archived:
        errors["plan"] = ["Plan is archived."]
    elif plan.max_amount is not None:
        used = Resource.objects.filter(plan=plan).exclude(state=ResourceState.TERMINATED).count()
        if used >= plan.max_amount:
            errors["plan"] = ["The plan has reached its maximum number of resources."]
    return errors


def validate_limits(offering: Offering, limits: Any) -> dict[str, int]:
    """Every key must be a limit-billed component; values are whole numbers within the component's bounds."""
    if limits in (None, ""):
        return {}
    if not isinstance(limits, dict):
        raise InvalidInput({"limits": ["Expected a dictionary of items."]})
    components = {c.type: c for c in offering.components.all()}
    invalid = sorted(key for key in limits if key not in components or components[key].billing_type != LIMIT)
    if invalid:
        raise InvalidInput({"limits": [f"Invalid types: {', '.join(invalid)}"]})
    clean: dict[str, int] = {}
    problems: list[str] = []
    for key, raw in limits.items():
        component = components[key]
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            problems.append(f"The limit of {key} must be a whole number.")
            continue
        try:
            value = int(str(raw))
        except ValueError:
            problems.append(f"The limit of {key} must be a whole number.")
            continue
        if value < 0:
            problems.append(f"The limit of {key} must not be negative.")
        elif component.min_value is not None and value < component.min_value:
            problems.append(f"The limit of {key} must be at least {component.min_value}.")
        elif component.max_value is not None and value > component.max_value:
            problems.append(f"The limit of {key} must be at most {component.max_value}.")
        elif component.max_available_limit is not None and value > component.max_available_limit:
            problems.append(
                f"The limit of {key} exceeds the available maximum {component.max_available_limit}."
            )
        elif component.limit_amount is not None and value > component.limit_amount:
            problems.append(f"The limit of {key} exceeds the limit amount {component.limit_amount}.")
        clean[key] = value
    if problems:
        raise InvalidInput({"limits": problems})
    return clean


def resource_end_date(offering: Offering, attributes: dict[str, Any]) -> datetime.date | None:
    options = offering.plugin_options or {}
    raw = attributes.get("end_date")
    today = timezone.localdate()
    if raw in (None, ""):
        if options.get("is_resource_termination_date_required"):
            offset = plugin_options.whole_number(options, "default_resource_termination_offset_in_days")
            if offset:
                return today + datetime.timedelta(days=offset)
            raise InvalidInput(
                {"attributes": ["The end date of the resource is required for this offering."]}
            )
        return None
    try:
        end_date = parse_date(str(raw)) if not isinstance(raw, datetime.date) else raw
    except ValueError:  # well formed but impossible, e.g. 2030-02-31
        end_date = None
    if end_date is None:
        raise InvalidInput({"attributes": ["end_date: Date has wrong format. Use YYYY-MM-DD."]})
    if end_date < today:
        raise InvalidInput({"attributes": ["end_date: The end date must not be in the past."]})
    max_offset = plugin_options.whole_number(options, "max_resource_termination_offset_in_days")
    if max_offset and end_date > today + datetime.timedelta(days=max_offset):
        raise InvalidInput(
            {"attributes": [f"end_date: The end date must be within {max_offset} days from today."]}
        )
    latest_date = plugin_options.iso_date(options, "latest_date_for_resource_termination")
    if latest_date and end_date > latest_date:
        raise InvalidInput({"attributes": [f"end_date: The end date must not be after {latest_date}."]})
    return end_date


def check_single_active_order(resource: Resource) -> None:
    # Lock the resource row first: two orders created at once for one resource queue here, and the second
    # sees the first (PostgreSQL; SQLite serialises writers anyway).
    Resource.objects.select_for_update().filter(pk=resource.pk).first()
    if Order.objects.filter(resource=resource, state__in=list(ACTIVE_ORDER_STATES)).exists():
        raise InvalidInput("Pending order for resource already exists.")


def validate_new_order(
    *,
    user: User,
    project: Project,
    offering: Offering,
    plan: Plan | None,
    order_type: str,
    resource: Resource | None,
    attributes: dict[str, Any],
    limits: dict[str, Any] | None,
    accepting_terms_of_service: bool,
) -> tuple[dict[str, int], datetime.date | None]:
    """The 400s of a new order, in Waldur's order; returns the clean limits and the resource's end date."""
    errors: dict[str, list[str]] = {}
    if order_type == OrderType.CREATE:
        if offering.state != Offering.State.ACTIVE:
            errors["offering"] = ["Offering is not available."]
    elif offering.state not in (Offering.State.ACTIVE, Offering.State.PAUSED):
        errors["offering"] = ["Offering is not available."]
    errors.update(validate_plan(offering, plan, order_type))
    name = attributes.get("name", "")
    if not isinstance(name, str):
        errors["attributes"] = ["Name must be a string."]
    elif len(name) > 150:
        errors["attributes"] = ["Name is too long. Maximum length is 150 characters."]
    elif has_control_characters(name):
        errors["attributes"] = [NAME_MESSAGE]
    if errors:
        raise InvalidInput(errors)
    clean_limits = validate_limits(offering, limits)
    tos_missing = offering.shared and offering.terms_of_service and not accepting_terms_of_service
    if tos_missing and order_type == OrderType.CREATE:
        raise InvalidInput(
            {"non_field_errors": [f"Terms of service for offering '{offering.name}' have not been accepted."]}
        )
    end_date = resource_end_date(offering, attributes) if order_type == OrderType.CREATE else None

    check_customer_available(project)
    if order_type != OrderType.TERMINATE:
        check_project_not_expired(project)
    if offering.is_private and not user.is_staff and offering.customer_id != project.customer_id:
        raise InvalidInput(
            f'Offering "{offering.name}" is not allowed in organization "{project.customer.name}".'
        )
    if resource is not None:
        check_single_active_order(resource)
    max_count = plugin_options.whole_number(offering.plugin_options, "maximal_resource_count_per_project")
    if order_type == OrderType.CREATE and max_count:
        alive = Resource.objects.filter(project=project, offering=offering).exclude(
            state=ResourceState.TERMINATED
        )
        if alive.count() >= max_count:
            raise InvalidInput(
                {
                    "non_field_errors": [
                        f"You have reached the maximum number of resources ({max_count}) "
                        "of this offering in the project."
                    ]
                }
            )
    return clean_limits, end_date
