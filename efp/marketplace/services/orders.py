"""Order verbs: the only code that creates orders and moves them through their lifecycle."""

from __future__ import annotations

import datetime
from decimal import Decimal, localcontext
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput, NotSupported, StateConflict
from efp.marketplace import plugin_options
from efp.marketplace.models import (
    Offering,
    OfferingComponent,
    OfferingType,
    Order,
    Plan,
    Resource,
    ResourcePlanPeriod,
)
from efp.marketplace.services._transitions import (
    record_order_created,
    record_resource_created,
    require_order_state,
    require_resource_state,
    transition_order,
    transition_resource,
)
from efp.marketplace.services.history import record_deletion
from efp.marketplace.states import (
    ACTIVE_ORDER_STATES,
    OrderState,
    OrderType,
    ResourceState,
)
from efp.structure.models import Project
from efp.structure.names import NAME_MESSAGE, has_control_characters
from efp.structure.permissions import has_permission, is_owner
from efp.structure.roles import Permission
from efp.structure.services import unique_slug

OS = OrderState
LIMIT = OfferingComponent.BillingType.LIMIT
# Order.cost and Resource.cost hold 22 digits, 10 of them after the point.
MAX_COST = Decimal(10) ** 12
# One-time prices: `one` components are charged on creation, `few` on a plan switch.
ONE_TIME_PRICES = {
    (OfferingComponent.BillingType.ONE, OrderType.CREATE),
    (OfferingComponent.BillingType.FEW, OrderType.UPDATE),
}


# --- permissions --------------------------------------------------------------------------------


def can_on_consumer_side(user: User, permission: Permission, order: Order) -> bool:
    return has_permission(user, permission, projects=[order.project], customers=[order.project.customer])


def can_on_provider_side(user: User, permission: Permission, offering: Offering) -> bool:
    return has_permission(user, permission, customers=[offering.customer], offerings=[offering])


def _require(allowed: bool) -> None:
    if not allowed:
        raise Forbidden()


# --- shared checks ------------------------------------------------------------------------------


def _check_customer_available(project: Project) -> None:
    if project.customer.blocked:
        raise InvalidInput("Blocked organization is not available.")
    if project.customer.archived:
        raise InvalidInput("Archived organization is not available.")


def _check_project_not_expired(project: Project) -> None:
    if project.is_expired():
        raise InvalidInput(f"Project '{project.name}' is expired.")


def _check_provider_available(offering: Offering) -> None:
    if offering.customer.blocked:
        raise InvalidInput("Blocked organization is not available.")


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


def _validate_plan(offering: Offering, plan: Plan | None, order_type: str) -> dict[str, list[str]]:
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


def _resource_end_date(offering: Offering, attributes: dict[str, Any]) -> datetime.date | None:
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


def _check_single_active_order(resource: Resource) -> None:
    # Lock the resource row first: two orders created at once for one resource queue here, and the second
    # sees the first (PostgreSQL; SQLite serialises writers anyway).
    Resource.objects.select_for_update().filter(pk=resource.pk).first()
    if Order.objects.filter(resource=resource, state__in=list(ACTIVE_ORDER_STATES)).exists():
        raise InvalidInput("Pending order for resource already exists.")


# --- create -------------------------------------------------------------------------------------


@transaction.atomic
def create_order(
    *,
    user: User,
    project: Project,
    offering: Offering,
    plan: Plan | None = None,
    order_type: str = OrderType.CREATE,
    resource: Resource | None = None,
    attributes: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    accepting_terms_of_service: bool = False,
    callback_url: str | None = None,
    request_comment: str | None = None,
    start_date: datetime.date | None = None,
) -> Order:
    """Validates and creates an order (and, for Create, its resource in Creating), then auto-approves."""
    attributes = dict(attributes or {})
    is_provider_terminating = order_type == OrderType.TERMINATE and can_on_provider_side(
        user, Permission.RESOURCE_TERMINATE, offering
    )
    if not is_provider_terminating:
        _require(
            has_permission(user, Permission.ORDER_CREATE, projects=[project], customers=[project.customer])
        )

    errors: dict[str, list[str]] = {}
    if order_type == OrderType.CREATE:
        if offering.state != Offering.State.ACTIVE:
            errors["offering"] = ["Offering is not available."]
    elif offering.state not in (Offering.State.ACTIVE, Offering.State.PAUSED):
        errors["offering"] = ["Offering is not available."]
    errors.update(_validate_plan(offering, plan, order_type))
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
    end_date = _resource_end_date(offering, attributes) if order_type == OrderType.CREATE else None

    _check_customer_available(project)
    if order_type != OrderType.TERMINATE:
        _check_project_not_expired(project)
    if offering.is_private and not user.is_staff and offering.customer_id != project.customer_id:
        raise InvalidInput(
            f'Offering "{offering.name}" is not allowed in organization "{project.customer.name}".'
        )
    if resource is not None:
        _check_single_active_order(resource)
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

    cost = compute_cost(
        plan=plan, limits=clean_limits or (resource.limits if resource else {}), order_type=order_type
    )
    if order_type == OrderType.CREATE:
        resource = Resource.objects.create(
            name=name or "",
            # The site agent names the SLURM account after the slug, so it must not collide.
            slug=unique_slug(Resource, name or "resource"),
            project=project,
            offering=offering,
            plan=plan,
            attributes=attributes,
            limits=clean_limits,
            end_date=end_date,
            cost=cost,
        )
        record_resource_created(resource, actor=user)
    if resource is not None and "name" not in attributes and order_type != OrderType.CREATE:
        attributes["name"] = resource.name
    order = Order.objects.create(
        type=order_type,
        offering=offering,
        project=project,
        resource=resource,
        plan=plan,
        old_plan=resource.plan if resource is not None and order_type == OrderType.UPDATE else None,
        attributes=attributes,
        limits=clean_limits,
        cost=cost,
        old_cost=resource.cost if resource is not None and order_type != OrderType.CREATE else None,
        callback_url=callback_url,
        request_comment=request_comment,
        start_date=start_date,
        created_by=user,
    )
    record_order_created(order, actor=user)
    if consumer_review_skipped(order, user):
        _route_after_consumer_approval(order, user, reason="auto-approved for the consumer")
    return order


def consumer_review_skipped(order: Order, user: User) -> bool:
    """Waldur's auto-approval rules for the consumer side (docs/contract.md §5.2)."""
    offering, project = order.offering, order.project
    if user.is_staff:
        return True
    if offering.is_private:
        return can_on_consumer_side(user, Permission.ORDER_APPROVE_PRIVATE, order)
    options = offering.plugin_options or {}
    if (
        offering.shared
        and offering.customer_id == project.customer_id
        and options.get("auto_approve_in_service_provider_projects")
        and not options.get("disable_autoapprove")
    ):
        return True
    if order.type == OrderType.TERMINATE and is_owner(user, offering.customer):
        return True
    return can_on_consumer_side(user, Permission.ORDER_APPROVE, order)


def provider_review_needed(order: Order, user: User) -> bool:
    offering = order.offering
    if offering.type in OfferingType.NEEDS_PROVIDER_REVIEW:
        return True
    if offering.type == OfferingType.REMOTE:
        if (offering.plugin_options or {}).get("auto_approve_remote_orders"):
            return False
        return not (user.is_staff or is_owner(user, offering.customer))
    return False


def _route_after_consumer_approval(order: Order, user: User, *, reason: str) -> Order:
    reviewed = {"consumer_reviewed_by": user, "consumer_reviewed_at": timezone.now()}
    if order.project.starts_in_future():
        return transition_order(order, OS.PENDING_PROJECT, actor=user, reason=reason, **reviewed)
    if provider_review_needed(order, user):
        return transition_order(order, OS.PENDING_PROVIDER, actor=user, reason=reason, **reviewed)
    order = transition_order(order, OS.EXECUTING, actor=user, reason=reason, **reviewed)
    return _start_execution(order, user)


def _start_execution(order: Order, user: User) -> Order:
    """Effects of entering `executing` (docs/contract.md §5.3); Basic offerings complete at once."""
    resource = order.resource
    if resource is not None:
        if order.type == OrderType.UPDATE and order.is_limit_update:
            transition_resource(resource, ResourceState.UPDATING, actor=user, reason="update order executing")
        elif order.type == OrderType.TERMINATE:
            transition_resource(
                resource, ResourceState.TERMINATING, actor=user, reason="terminate order executing"
            )
    if order.offering.type in OfferingType.PROCESSED_AT_ONCE:
        return _complete(order, user, reason="processed at once")
    return order


# --- guards: the 403 / 409 / 405 checks of verbs that take a body --------------------------------
# The API runs them before it validates the body, so a bad body never hides a 403 or a 409
# (docs/contract.md §1.6).


def guard_reject_by_consumer(*, order: Order, user: User) -> None:
    is_creator = order.created_by_id == user.pk
    _require(is_creator or can_on_consumer_side(user, Permission.ORDER_REJECT, order))
    require_order_state(order, [OS.PENDING_CONSUMER])


def guard_approve_by_provider(*, order: Order, user: User) -> None:
    _require(can_on_provider_side(user, Permission.ORDER_APPROVE, order.offering))
    require_order_state(order, [OS.PENDING_PROVIDER])


def guard_reject_by_provider(*, order: Order, user: User) -> None:
    _require(can_on_provider_side(user, Permission.ORDER_REJECT, order.offering))
    require_order_state(order, [OS.PENDING_PROVIDER])


def guard_fail(*, order: Order, user: User) -> None:
    _require(can_on_provider_side(user, Permission.ORDER_APPROVE, order.offering))
    require_order_state(order, [OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.PENDING_PROJECT, OS.EXECUTING])
    _require_agent_type(order, OfferingType.AGENT_DRIVEN)


def release_orders_of_started_projects(*, today: datetime.date | None = None) -> list[Order]:
    """Moves `pending-project` orders whose project has started on to the provider (or to executing).

    Run daily by `efp release_started_projects` (cron); each order moves in its own transaction.
    """
    today = today or timezone.localdate()
    due = Order.objects.filter(state=OS.PENDING_PROJECT).filter(
        Q(project__start_date__isnull=True) | Q(project__start_date__lte=today)
    )
    released = []
    for order in due.select_related("offering__customer", "project", "consumer_reviewed_by", "created_by"):
        reviewer = order.consumer_reviewed_by or order.created_by
        with transaction.atomic():
            if provider_review_needed(order, reviewer):  # type: ignore[arg-type]
                order = transition_order(order, OS.PENDING_PROVIDER, actor=None, reason="project started")
            else:
                order = transition_order(order, OS.EXECUTING, actor=None, reason="project started")
                order = _start_execution(order, reviewer)  # type: ignore[arg-type]
        released.append(order)
    return released


# --- consumer and provider decisions ------------------------------------------------------------


@transaction.atomic
def approve_order_by_consumer(*, order: Order, user: User) -> Order:
    _require(can_on_consumer_side(user, Permission.ORDER_APPROVE, order))
    require_order_state(order, [OS.PENDING_CONSUMER])
    _check_customer_available(order.project)
    _check_project_not_expired(order.project)
    return _route_after_consumer_approval(order, user, reason="approved by consumer")


@transaction.atomic
def reject_order_by_consumer(*, order: Order, user: User, comment: str = "") -> Order:
    guard_reject_by_consumer(order=order, user=user)
    _check_customer_available(order.project)
    order = transition_order(
        order,
        OS.REJECTED,
        actor=user,
        reason=comment or "rejected by consumer",
        consumer_reviewed_by=user,
        consumer_reviewed_at=timezone.now(),
        consumer_rejection_comment=comment or "",
    )
    _undo_on_resource(order, user, reason="order rejected by consumer")
    return order


@transaction.atomic
def approve_order_by_provider(*, order: Order, user: User) -> Order:
    guard_approve_by_provider(order=order, user=user)
    _check_provider_available(order.offering)
    _check_customer_available(order.project)
    if order.type != OrderType.TERMINATE:
        _check_project_not_expired(order.project)
    order = transition_order(
        order,
        OS.EXECUTING,
        actor=user,
        reason="approved by provider",
        provider_reviewed_by=user,
        provider_reviewed_at=timezone.now(),
    )
    return _start_execution(order, user)


@transaction.atomic
def reject_order_by_provider(*, order: Order, user: User, comment: str = "") -> Order:
    guard_reject_by_provider(order=order, user=user)
    _check_provider_available(order.offering)
    order = transition_order(
        order,
        OS.REJECTED,
        actor=user,
        reason=comment or "rejected by provider",
        provider_reviewed_by=user,
        provider_reviewed_at=timezone.now(),
        provider_rejection_comment=comment or "",
    )
    _undo_on_resource(order, user, reason="order rejected by provider")
    return order


@transaction.atomic
def cancel_order(*, order: Order, user: User) -> Order:
    _require(can_on_consumer_side(user, Permission.ORDER_CANCEL, order))
    require_order_state(order, [OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.EXECUTING])
    if order.offering.type not in OfferingType.CANCELABLE:
        raise NotSupported(
            f"The order's offering with {order.offering.type} type does not support this action"
        )
    order = transition_order(order, OS.CANCELED, actor=user, reason="canceled")
    _undo_on_resource(order, user, reason="order canceled")
    return order


@transaction.atomic
def delete_order(*, order: Order, user: User) -> None:
    _require(can_on_consumer_side(user, Permission.ORDER_DESTROY, order))
    require_order_state(order, [OS.PENDING_CONSUMER, OS.PENDING_PROVIDER])
    _check_customer_available(order.project)
    resource = order.resource
    record_deletion(order, actor=user, reason="deleted while pending")
    deleted, _ = Order.objects.filter(pk=order.pk, state=order.state).delete()
    if not deleted:
        raise StateConflict(message="The order was changed meanwhile.")
    if order.type == OrderType.CREATE and resource is not None and resource.state == ResourceState.CREATING:
        # A resource that will never be provisioned must not linger in Creating.
        transition_resource(resource, ResourceState.TERMINATED, actor=user, reason="creation order deleted")


@transaction.atomic
def unlink_order(*, order: Order, user: User) -> None:
    _require(user.is_staff)
    record_deletion(order, actor=user, reason="unlinked by staff")
    Order.objects.filter(pk=order.pk).delete()


# --- provider / site agent processing -----------------------------------------------------------


def _require_agent_type(order: Order, allowed: frozenset[str]) -> None:
    if order.offering.type not in allowed:
        raise NotSupported(
            f"The order's offering with {order.offering.type} type does not support this action"
        )


def _require_restartable(order: Order) -> None:
    """A creation that failed before the backend had it left a Terminated resource, which never returns:
    restarted, the order would stay executing with nothing to complete (set_state_done answers 409)."""
    resource = order.resource
    if order.type == OrderType.CREATE and resource is not None and resource.state == ResourceState.TERMINATED:
        raise StateConflict(message="The resource of this order is terminated; create a new order.")


@transaction.atomic
def set_order_executing(*, order: Order, user: User) -> Order:
    _require(can_on_provider_side(user, Permission.ORDER_APPROVE, order.offering))
    require_order_state(order, [OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.ERRED])
    _require_agent_type(order, OfferingType.AGENT_DRIVEN)
    was_erred = order.state == OS.ERRED
    if was_erred:
        _require_restartable(order)
    order = transition_order(order, OS.EXECUTING, actor=user, reason="set executing by provider")
    if was_erred:
        _reset_resource_for_retry(order, user)
        return order
    return _start_execution(order, user)


@transaction.atomic
def complete_order(*, order: Order, user: User) -> Order:
    _require(can_on_provider_side(user, Permission.ORDER_APPROVE, order.offering))
    require_order_state(order, [OS.EXECUTING])
    _require_agent_type(order, OfferingType.COMPLETABLE)
    return _complete(order, user, reason="completed by provider")


@transaction.atomic
def fail_order(*, order: Order, user: User, error_message: str = "", error_traceback: str = "") -> Order:
    guard_fail(order=order, user=user)
    now = timezone.now()
    order = transition_order(
        order,
        OS.ERRED,
        actor=user,
        reason=error_message or "failed",
        error_message=error_message or "",
        error_traceback=(error_traceback or "").strip(),
        error_updated_at=now,
        completed_at=now,
    )
    resource = order.resource
    if resource is None:
        return order
    if order.type == OrderType.CREATE:
        target = ResourceState.ERRED if resource.backend_id else ResourceState.TERMINATED
        transition_resource(
            resource, target, actor=user, reason="creation failed", error_message=error_message or ""
        )
    elif order.type == OrderType.UPDATE:
        transition_resource(
            resource,
            ResourceState.ERRED,
            actor=user,
            reason="update failed",
            error_message=error_message or "",
        )
    elif order.type == OrderType.TERMINATE:
        transition_resource(resource, ResourceState.OK, actor=user, reason="termination failed")
    return order


@transaction.atomic
def retry_order(*, order: Order, user: User) -> Order:
    _require(can_on_provider_side(user, Permission.ORDER_APPROVE, order.offering))
    require_order_state(order, [OS.ERRED])
    _require_agent_type(order, OfferingType.AGENT_DRIVEN | OfferingType.PROCESSED_AT_ONCE)
    _require_restartable(order)
    order = transition_order(
        order,
        OS.EXECUTING,
        actor=user,
        reason="retried",
        error_message="",
        error_traceback="",
        error_updated_at=None,
        completed_at=None,
    )
    _reset_resource_for_retry(order, user)
    if order.offering.type in OfferingType.PROCESSED_AT_ONCE:
        return _complete(order, user, reason="processed at once")
    return order


@transaction.atomic
def set_order_backend_id(*, order: Order, user: User, backend_id: str) -> bool:
    """Returns whether the value changed."""
    _require(can_on_provider_side(user, Permission.RESOURCE_SET_BACKEND_ID, order.offering))
    _check_provider_available(order.offering)
    if order.backend_id == backend_id:
        return False
    Order.objects.filter(pk=order.pk).update(backend_id=backend_id, modified=timezone.now())
    order.refresh_from_db()
    return True


# --- effects on the resource (docs/contract.md §5.3) ----------------------------------------------------


def _complete(order: Order, user: User, *, reason: str) -> Order:
    now = timezone.now()
    order = transition_order(order, OS.DONE, actor=user, reason=reason, completed_at=now)
    resource = order.resource
    if resource is None:
        return order
    if order.type == OrderType.CREATE:
        transition_resource(resource, ResourceState.OK, actor=user, reason="created")
        if resource.plan_id is not None:
            ResourcePlanPeriod.objects.create(resource=resource, plan_id=resource.plan_id, start=now)
    elif order.type == OrderType.UPDATE:
        fields: dict[str, Any] = {}
        if order.is_limit_update:
            fields["limits"] = order.limits
            fields["cost"] = compute_cost(
                plan=resource.plan, limits=order.limits, order_type=OrderType.UPDATE
            )
        elif order.plan_id is not None and order.plan_id != resource.plan_id:
            fields["plan"] = order.plan
            fields["cost"] = order.cost
            ResourcePlanPeriod.objects.filter(resource=resource, end__isnull=True).update(end=now)
            ResourcePlanPeriod.objects.create(resource=resource, plan_id=order.plan_id, start=now)
        new_options = order.attributes.get("new_options")
        if isinstance(new_options, dict):
            fields["options"] = {**(resource.options or {}), **new_options}
        transition_resource(resource, ResourceState.OK, actor=user, reason="updated", **fields)
    elif order.type == OrderType.TERMINATE:
        transition_resource(resource, ResourceState.TERMINATED, actor=user, reason="terminated")
        ResourcePlanPeriod.objects.filter(resource=resource, end__isnull=True).update(end=now)
    return order


def _undo_on_resource(order: Order, user: User, *, reason: str) -> None:
    """A rejected or canceled order: a Create leaves a Terminated resource, others leave it OK."""
    resource = order.resource
    if resource is None:
        return
    resource.refresh_from_db()
    if order.type == OrderType.CREATE:
        transition_resource(resource, ResourceState.TERMINATED, actor=user, reason=reason)
    elif resource.state in (ResourceState.UPDATING, ResourceState.TERMINATING, ResourceState.OK):
        transition_resource(resource, ResourceState.OK, actor=user, reason=reason)


def _reset_resource_for_retry(order: Order, user: User) -> None:
    resource = order.resource
    if resource is None:
        return
    target = {
        OrderType.CREATE: ResourceState.CREATING,
        OrderType.UPDATE: ResourceState.UPDATING,
        OrderType.TERMINATE: ResourceState.TERMINATING,
    }.get(OrderType(order.type))
    if target is None or resource.state == ResourceState.TERMINATED:
        return
    transition_resource(
        resource, target, actor=user, reason="order retried", error_message="", error_traceback=""
    )


# --- orders created from a resource -------------------------------------------------------------


# The guards are the 403 / 409 checks; the API runs them before it validates the body (docs/contract.md §1.6).


def guard_terminate_resource(*, resource: Resource, user: User) -> None:
    allowed = has_permission(
        user,
        Permission.RESOURCE_TERMINATE,
        projects=[resource.project],
        customers=[resource.project.customer, resource.offering.customer],
    )
    _require(allowed)
    require_resource_state(resource, [ResourceState.OK, ResourceState.ERRED])


def _guard_consumer_change(resource: Resource, user: User, permission: Permission) -> None:
    project = resource.project
    _require(has_permission(user, permission, projects=[project], customers=[project.customer]))
    require_resource_state(resource, [ResourceState.OK])


def guard_update_resource_limits(*, resource: Resource, user: User) -> None:
    _guard_consumer_change(resource, user, Permission.RESOURCE_SET_LIMITS)


def guard_switch_resource_plan(*, resource: Resource, user: User) -> None:
    _guard_consumer_change(resource, user, Permission.RESOURCE_SET_PLAN)


def terminate_resource(*, resource: Resource, user: User, attributes: dict[str, Any] | None = None) -> Order:
    guard_terminate_resource(resource=resource, user=user)
    return create_order(
        user=user,
        project=resource.project,
        offering=resource.offering,
        plan=resource.plan,
        order_type=OrderType.TERMINATE,
        resource=resource,
        attributes=dict(attributes or {}),
    )


def update_resource_limits(*, resource: Resource, user: User, limits: dict[str, Any]) -> Order:
    guard_update_resource_limits(resource=resource, user=user)
    clean = validate_limits(resource.offering, limits)
    if clean == {k: int(v) for k, v in (resource.limits or {}).items()}:
        raise InvalidInput("Impossible to create update orders with limits set to exactly the same.")
    return create_order(
        user=user,
        project=resource.project,
        offering=resource.offering,
        plan=resource.plan,
        order_type=OrderType.UPDATE,
        resource=resource,
        attributes={"old_limits": resource.limits or {}, "name": resource.name},
        limits=clean,
    )


def switch_resource_plan(*, resource: Resource, user: User, plan: Plan) -> Order:
    guard_switch_resource_plan(resource=resource, user=user)
    if plan.offering_id != resource.offering_id or plan.archived:
        raise InvalidInput({"plan": ["This plan is not available for selected offering."]})
    if plan.pk == resource.plan_id:
        raise InvalidInput({"plan": ["The resource already uses this plan."]})
    return create_order(
        user=user,
        project=resource.project,
        offering=resource.offering,
        plan=plan,
        order_type=OrderType.UPDATE,
        resource=resource,
        attributes={"name": resource.name},
    )
