"""Order verbs: the only code that creates orders and moves them through their lifecycle.

Who may use each verb, from which states and for which offering types is data in `verbs.py`; every verb
here starts with `guard.check` on it. What an order does to its resource is the tables there too.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput, StateConflict
from efp.marketplace import events
from efp.marketplace.models import Offering, OfferingType, Order, Plan, Resource, ResourcePlanPeriod
from efp.marketplace.services import limit_usage
from efp.marketplace.services._transitions import (
    record_order_created,
    record_resource_created,
    transition_order,
    transition_resource,
)
from efp.marketplace.services.guard import check
from efp.marketplace.services.history import record_deletion
from efp.marketplace.services.order_validation import (
    compute_cost,
    validate_limits,
    validate_new_order,
)
from efp.marketplace.services.renewal_dates import RENEW, renewed_end_date
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.marketplace.verbs import (
    ON_DONE,
    ON_ERRED,
    ON_EXECUTING,
    ON_RETRY,
    ON_UNDONE,
    ORDER_VERBS,
    PROVIDER_PLACES,
    RESOURCE_VERBS,
    UNDO_FROM,
    UNDONE_ALWAYS,
)
from efp.structure.models import Project
from efp.structure.permissions import has_permission, is_owner
from efp.structure.roles import Permission
from efp.structure.services import unique_slug

OS = OrderState
V, RV = ORDER_VERBS, RESOURCE_VERBS
OT = OrderType
# The reasons of the resource's moves when an order is done or fails.
DONE = {OT.CREATE: "created", OT.UPDATE: "updated", OT.TERMINATE: "terminated", OT.RESTORE: "restored"}
FAILED = {
    OT.CREATE: "creation failed",
    OT.UPDATE: "update failed",
    OT.TERMINATE: "termination failed",
    OT.RESTORE: "restoration failed",
}


# --- permissions --------------------------------------------------------------------------------


def can_on_consumer_side(user: User, permission: Permission, order: Order) -> bool:
    return has_permission(user, permission, projects=[order.project], customers=[order.project.customer])


def can_on_provider_side(user: User, permission: Permission, offering: Offering) -> bool:
    return has_permission(user, permission, customers=[offering.customer], offerings=[offering])


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
    placed_by_provider = order_type in PROVIDER_PLACES and can_on_provider_side(
        user, PROVIDER_PLACES[order_type], offering
    )
    if not placed_by_provider and not has_permission(
        user, Permission.ORDER_CREATE, projects=[project], customers=[project.customer]
    ):
        raise Forbidden()

    clean_limits, end_date = validate_new_order(
        user=user,
        project=project,
        offering=offering,
        plan=plan,
        order_type=order_type,
        resource=resource,
        attributes=attributes,
        limits=limits,
        accepting_terms_of_service=accepting_terms_of_service,
    )
    name = attributes.get("name", "")

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
            **Resource.sort_names(project),
        )
        limit_usage.refresh([resource.pk])
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
    target = ON_EXECUTING.get(order.type)
    if order.type == OrderType.UPDATE and not order.is_limit_update:
        target = None  # a plan switch leaves the resource OK until it is done
    if resource is not None and target is not None:
        reason = f"{order.type.lower()} order executing"
        transition_resource(resource, ResourceState(target), actor=user, reason=reason, event=False)
    if order.offering.type in OfferingType.PROCESSED_AT_ONCE:
        return _complete(order, user, reason="processed at once")
    return order


# --- guards: the 403 / 409 / 405 checks of verbs that take a body --------------------------------
# The API runs them before it validates the body, so a bad body never hides a 403 or a 409
# (docs/contract.md §1.6).


def guard_reject_by_consumer(*, order: Order, user: User) -> None:
    check(V["reject_by_consumer"], order, user, conditions=False)


def guard_approve_by_provider(*, order: Order, user: User) -> None:
    check(V["approve_by_provider"], order, user, conditions=False)


def guard_reject_by_provider(*, order: Order, user: User) -> None:
    check(V["reject_by_provider"], order, user, conditions=False)


def guard_fail(*, order: Order, user: User) -> None:
    check(V["set_state_erred"], order, user, conditions=False)


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
    check(V["approve_by_consumer"], order, user)
    return _route_after_consumer_approval(order, user, reason="approved by consumer")


@transaction.atomic
def reject_order_by_consumer(*, order: Order, user: User, comment: str = "") -> Order:
    check(V["reject_by_consumer"], order, user)
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
    check(V["approve_by_provider"], order, user)
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
    check(V["reject_by_provider"], order, user)
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
    check(V["cancel"], order, user)
    order = transition_order(order, OS.CANCELED, actor=user, reason="canceled")
    _undo_on_resource(order, user, reason="order canceled")
    return order


@transaction.atomic
def delete_order(*, order: Order, user: User) -> None:
    """DELETE of a waiting order: by the consumer's owners and managers, or by whoever placed it."""
    check(V["destroy"], order, user)
    resource = order.resource
    record_deletion(order, actor=user, reason="deleted while pending")
    deleted, _ = Order.objects.filter(pk=order.pk, state=order.state).delete()
    if not deleted:
        raise StateConflict(message="The order was changed meanwhile.")
    if order.type in UNDONE_ALWAYS and resource is not None and resource.state == ResourceState.CREATING:
        # A resource that will never be provisioned (or restored) must not linger in Creating.
        transition_resource(
            resource, ResourceState.TERMINATED, actor=user, reason="creation order deleted", event=False
        )
        events.order_withdrawn(order, actor=user)


@transaction.atomic
def unlink_order(*, order: Order, user: User) -> None:
    check(V["unlink"], order, user)
    record_deletion(order, actor=user, reason="unlinked by staff")
    Order.objects.filter(pk=order.pk).delete()


# --- provider / site agent processing -----------------------------------------------------------


@transaction.atomic
def set_order_executing(*, order: Order, user: User) -> Order:
    check(V["set_state_executing"], order, user)
    was_erred = order.state == OS.ERRED
    order = transition_order(order, OS.EXECUTING, actor=user, reason="set executing by provider")
    if was_erred:
        _reset_resource_for_retry(order, user)
        return order
    return _start_execution(order, user)


@transaction.atomic
def complete_order(*, order: Order, user: User) -> Order:
    check(V["set_state_done"], order, user)
    return _complete(order, user, reason="completed by provider")


@transaction.atomic
def fail_order(*, order: Order, user: User, error_message: str = "", error_traceback: str = "") -> Order:
    check(V["set_state_erred"], order, user)
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
    target = ON_ERRED.get(order.type)
    if resource is None or target is None:
        return order
    fields = {"error_message": error_message or ""} if order.type != OrderType.TERMINATE else {}
    reason = FAILED[OrderType(order.type)]
    transition_resource(resource, ResourceState(target), actor=user, reason=reason, event=False, **fields)
    return order


@transaction.atomic
def retry_order(*, order: Order, user: User) -> Order:
    check(V["retry"], order, user)
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
    check(V["set_backend_id"], order, user)
    if order.backend_id == backend_id:
        return False
    Order.objects.filter(pk=order.pk).update(backend_id=backend_id, modified=timezone.now())
    order.refresh_from_db()
    return True


# --- effects on the resource (docs/contract.md §5.3; the tables are in verbs.py) -------------------


def _complete(order: Order, user: User, *, reason: str) -> Order:
    now = timezone.now()
    order = transition_order(order, OS.DONE, actor=user, reason=reason, completed_at=now)
    resource = order.resource
    if resource is None or order.type not in ON_DONE:
        return order
    target = ResourceState(ON_DONE[order.type])
    fields: dict[str, Any] = {}
    if order.type in (OrderType.CREATE, OrderType.RESTORE) and resource.plan_id is not None:
        ResourcePlanPeriod.objects.create(resource=resource, plan_id=resource.plan_id, start=now)
    elif order.type == OrderType.UPDATE:
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
        if order.attributes.get("action") == RENEW:
            fields["end_date"] = renewed_end_date(order)
        new_options = order.attributes.get("new_options")
        if isinstance(new_options, dict):
            fields["options"] = {**(resource.options or {}), **new_options}
    elif order.type == OrderType.TERMINATE:
        ResourcePlanPeriod.objects.filter(resource=resource, end__isnull=True).update(end=now)
    done = DONE[OrderType(order.type)]
    old_end, keys = resource.end_date, events.resource_keys(resource)
    transition_resource(resource, target, actor=user, reason=done, event=False, **fields)
    if "limits" in fields:
        limit_usage.refresh([resource.pk])
    if "end_date" in fields and fields["end_date"] != old_end:
        events.end_date_set(resource, old_end, keys=keys, actor=user)
    return order


def _undo_on_resource(order: Order, user: User, *, reason: str) -> None:
    """A rejected or canceled order (`ON_UNDONE`): a Create or Restore leaves a Terminated resource,
    others OK."""
    resource = order.resource
    if resource is None or order.type not in ON_UNDONE:
        return
    resource.refresh_from_db()
    if order.type in UNDONE_ALWAYS or resource.state in UNDO_FROM:
        transition_resource(
            resource, ResourceState(ON_UNDONE[order.type]), actor=user, reason=reason, event=False
        )


def _reset_resource_for_retry(order: Order, user: User) -> None:
    resource = order.resource
    target = ON_RETRY.get(order.type)
    if resource is None or target is None or resource.state == ResourceState.TERMINATED:
        return
    transition_resource(
        resource,
        ResourceState(target),
        actor=user,
        reason="order retried",
        event=False,
        error_message="",
        error_traceback="",
    )


# --- orders placed from a resource ---------------------------------------------------------------
# The guards are the 403 / 409 checks; the API runs them before it validates the body (docs/contract.md §1.6).


def guard_terminate_resource(*, resource: Resource, user: User) -> None:
    check(RV["terminate"], resource, user, conditions=False)


def guard_update_resource_limits(*, resource: Resource, user: User) -> None:
    check(RV["update_limits"], resource, user, conditions=False)


def guard_switch_resource_plan(*, resource: Resource, user: User) -> None:
    check(RV["switch_plan"], resource, user, conditions=False)


@transaction.atomic
def restore_resource(*, resource: Resource, user: User) -> Order:
    """A Restore order for a terminated resource, with its plan, limits and attributes; the resource is
    Creating from now on, and OK once the order is done (Terminated again if it is rejected or canceled)."""
    check(RV["restore"], resource, user)
    # Creating before the order is placed: an order approved at once may be done at once (Basic). A refusal
    # below rolls the move back with the order.
    transition_resource(resource, ResourceState.CREATING, actor=user, reason="restore requested", event=False)
    order = create_order(
        user=user,
        project=resource.project,
        offering=resource.offering,
        plan=resource.plan,
        order_type=OrderType.RESTORE,
        resource=resource,
        attributes=dict(resource.attributes or {}),
        limits=dict(resource.limits or {}),
    )
    return order


def terminate_resource(*, resource: Resource, user: User, attributes: dict[str, Any] | None = None) -> Order:
    check(RV["terminate"], resource, user)
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
    check(RV["update_limits"], resource, user)
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
    check(RV["switch_plan"], resource, user)
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


def terminate_by_system(*, resource: Resource, attributes: dict[str, Any], reason: str) -> Order:
    """A Terminate order placed by no person (the end-date job): approved on both sides by the rule
    that placed it, then executed as any other (the site agent finishes agent-driven ones)."""
    order = Order.objects.create(
        type=OrderType.TERMINATE,
        offering=resource.offering,
        project=resource.project,
        resource=resource,
        plan=resource.plan,
        attributes={"name": resource.name, **attributes},
        limits={},
        old_cost=resource.cost,
        request_comment=reason[:255],
        created_by=None,
    )
    record_order_created(order, actor=None)
    order = transition_order(
        order, OS.EXECUTING, actor=None, reason=reason, consumer_reviewed_at=timezone.now()
    )
    return _start_execution(order, None)  # type: ignore[arg-type]
