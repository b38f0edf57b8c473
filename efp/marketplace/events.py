"""The events the marketplace services write: their scopes and context (Waldur's keys), in one place.

Which type a change writes is the data of `event_types.py`; here each is built from the objects the
service already holds and recorded in its transaction (`efp.events.recorder.record`: one INSERT for the
event, one for its dispatch task). Builders read loaded relations only: the services load them with
`select_related` or keep them across a state change (`services/_transitions.py`). The same points tell
site agents' event queues (`agent_messages.py`: nothing unless EFP_RABBITMQ_URL is set).
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from efp.events.recorder import NewEvent, Scopes, record
from efp.marketplace import agent_messages
from efp.marketplace import event_types as types
from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.states import OrderState, ResourceState
from efp.rawsql import table_name
from efp.structure.events import actor_keys, customer_keys, project_keys, record_role_event
from efp.structure.models import Customer, Project
from efp.structure.roles import Role


def offering_keys(offering: Offering) -> dict[str, str]:
    """The offering and its provider (`offering.customer` loaded)."""
    provider = offering.customer
    return {
        "offering_uuid": offering.uuid.hex,
        "offering_name": offering.name,
        "provider_uuid": provider.uuid.hex,
        "provider_name": provider.name,
    }


def resource_keys(resource: Resource) -> dict[str, Any]:
    """The resource, its project and organisation, its offering and provider."""
    return {
        **project_keys(resource.project),
        **offering_keys(resource.offering),
        "resource_uuid": resource.uuid.hex,
        "resource_name": resource.name,
    }


def resource_scopes(resource: Resource) -> Scopes:
    return Scopes(
        customer_id=resource.project.customer_id,
        project_id=resource.project_id,
        offering_id=resource.offering_id,
        resource_id=resource.pk,
    )


def order_keys(order: Order) -> dict[str, Any]:
    keys: dict[str, Any] = {**project_keys(order.project), **offering_keys(order.offering)}
    resource = order.resource
    if resource is not None:
        keys.update(resource_uuid=resource.uuid.hex, resource_name=resource.name)
    keys.update(order_uuid=order.uuid.hex, order_type=order.type, order_state=order.state)
    return keys


def order_scopes(order: Order) -> Scopes:
    return Scopes(
        customer_id=order.project.customer_id,
        project_id=order.project_id,
        offering_id=order.offering_id,
        resource_id=order.resource_id,
        order_id=order.pk,
    )


# --- orders ---------------------------------------------------------------------------------------


def order_created(order: Order, *, actor: Any) -> None:
    """`marketplace_order_created` and its resource's `_requested` (create, update or terminate)."""
    context = {**order_keys(order), **actor_keys(actor)}
    record(
        types.ORDER_CREATED,
        types.ORDER_MESSAGES[types.ORDER_CREATED],
        scopes=order_scopes(order),
        context=context,
        actor=actor,
    )
    _order_resource_event(order, "requested", context, actor)
    agent_messages.order_changed(order, context)


def order_moved(
    order: Order, old: OrderState | str, *, keys: dict[str, Any], actor: Any, reason: str = ""
) -> None:
    """The event(s) of an order that has just moved from `old` to its current state; `keys` are
    `order_keys(order)` read before the move (its relations as the service loaded them)."""
    event_type, outcome = types.order_move_events(old, order.state)
    context = {**keys, **actor_keys(actor), "order_state": order.state, "old_state": str(old)}
    if reason:
        context["reason"] = reason
    message = types.ORDER_MESSAGES[event_type].format(old_state=old, new_state=order.state)
    record(event_type, message, scopes=order_scopes(order), context=context, actor=actor)
    if outcome is not None:
        _order_resource_event(order, outcome, context, actor)
    agent_messages.order_changed(order, context)


def order_withdrawn(order: Order, *, actor: Any) -> None:
    """A waiting Create order deleted by the consumer: its resource's creation is canceled."""
    _order_resource_event(order, "canceled", {**order_keys(order), **actor_keys(actor)}, actor)


def _order_resource_event(order: Order, outcome: str, order_context: dict[str, Any], actor: Any) -> None:
    """The resource's side of an order's step, from the order's context (no read of the resource)."""
    if order.resource_id is None:
        return
    event_type, message = types.resource_outcome(order.type, outcome, limits_update=order.is_limit_update)
    context = {key: value for key, value in order_context.items() if key not in ORDER_ONLY_KEYS}
    if order.is_limit_update:
        context.update(limits=order.limits, old_limits=order.attributes.get("old_limits") or {})
    scopes = Scopes(
        customer_id=order.project.customer_id,
        project_id=order.project_id,
        offering_id=order.offering_id,
        resource_id=order.resource_id,
    )
    text = message.format(resource_name=context.get("resource_name", ""))
    record(event_type, text, scopes=scopes, context=context, actor=actor)


ORDER_ONLY_KEYS = frozenset({"order_state", "old_state", "reason"})


# --- resources ------------------------------------------------------------------------------------


def resource_moved(
    resource: Resource, old: ResourceState | str, *, keys: dict[str, Any], actor: Any, reason: str = ""
) -> None:
    """A resource move of its own (a provider's or the agent's verb); an order's outcome is `order_moved`.
    `keys`: `resource_keys(resource)` read before the move."""
    event_type, message = types.resource_move_event(resource.state)
    context = {**keys, **actor_keys(actor), "old_state": str(old), "new_state": resource.state}
    if reason:
        context["reason"] = reason
    text = message.format(resource_name=resource.name, old_state=old, new_state=resource.state)
    record(event_type, text, scopes=resource_scopes(resource), context=context, actor=actor)
    agent_messages.resource_changed(resource, context)


def limits_set(resource: Resource, old_limits: dict[str, Any], *, keys: dict[str, Any], actor: Any) -> None:
    """Limits set directly (the site agent's `set_limits`): Waldur's `update_limits_succeeded`."""
    event_type, message = types.RESOURCE_OUTCOMES[("update_limits", "succeeded")]
    context = {
        **keys,
        **actor_keys(actor),
        "limits": resource.limits,
        "old_limits": old_limits,
    }
    record(
        event_type,
        message.format(resource_name=resource.name),
        scopes=resource_scopes(resource),
        context=context,
        actor=actor,
    )
    agent_messages.resource_changed(resource, context)


def end_date_set(
    resource: Resource, old_end_date: datetime.date | None, *, keys: dict[str, Any], actor: Any
) -> None:
    end_date = resource.end_date.isoformat() if resource.end_date else None
    context = {
        **keys,
        **actor_keys(actor),
        "end_date": end_date,
        "old_end_date": old_end_date.isoformat() if old_end_date else None,
    }
    message = types.OTHER_MESSAGES[types.END_DATE_SET].format(resource_name=resource.name, end_date=end_date)
    record(types.END_DATE_SET, message, scopes=resource_scopes(resource), context=context, actor=actor)
    agent_messages.resource_changed(resource, context)


# --- usage ----------------------------------------------------------------------------------------
# The usage path reads its resource with hand-written SQL under a row lock (`services/usage._lock`); the
# event's keys come in that statement: these columns over the resource `r` and its offering `o`.


def locked_key_sql() -> tuple[str, str]:
    """(columns, joins) for the locking query of a usage write."""
    columns = (
        "p.uuid AS ev_project_uuid, p.name AS ev_project_name, p.customer_id AS ev_customer_id,"
        " c.uuid AS ev_customer_uuid, c.name AS ev_customer_name, o.uuid AS ev_offering_uuid,"
        " o.name AS ev_offering_name, pc.uuid AS ev_provider_uuid, pc.name AS ev_provider_name"
    )
    joins = (
        f" JOIN {table_name(Project)} p ON p.id = r.project_id"
        f" JOIN {table_name(Customer)} c ON c.id = p.customer_id"
        f" JOIN {table_name(Customer)} pc ON pc.id = o.customer_id"
    )
    return columns, joins


def _hex(value: Any) -> str:
    return uuid.UUID(str(value)).hex


def locked_keys(resource: Resource) -> tuple[dict[str, Any], Scopes]:
    """The event keys and scopes of a resource read by the locking query (`locked_key_sql`); kept on the
    resource, as a bulk write names one resource in many events."""
    cached = getattr(resource, "_locked_keys", None)
    if cached is not None:
        return dict(cached[0]), cached[1]
    row: Any = resource
    keys = {
        "customer_uuid": _hex(row.ev_customer_uuid),
        "customer_name": row.ev_customer_name,
        "project_uuid": _hex(row.ev_project_uuid),
        "project_name": row.ev_project_name,
        "offering_uuid": _hex(row.ev_offering_uuid),
        "offering_name": row.ev_offering_name,
        "provider_uuid": _hex(row.ev_provider_uuid),
        "provider_name": row.ev_provider_name,
        "resource_uuid": resource.uuid.hex,
        "resource_name": resource.name,
    }
    scopes = Scopes(
        customer_id=row.ev_customer_id,
        project_id=resource.project_id,
        offering_id=resource.offering_id,
        resource_id=resource.pk,
    )
    resource._locked_keys = (keys, scopes)  # type: ignore[attr-defined]  # see above
    return dict(keys), scopes


def usage_reported(
    resource: Resource,
    *,
    component_type: str,
    billing_period: datetime.date,
    usage: Decimal,
    old_usage: Decimal | None,
    actor: Any,
    username: str = "",
) -> None:
    """One component value written (a month's total, or one user's row when `username` is given), for
    a resource read by the locking query (`locked_keys`)."""
    new = usage_event(
        resource,
        component_type=component_type,
        billing_period=billing_period,
        usage=usage,
        old_usage=old_usage,
        actor=actor,
        username=username,
    )
    record(new.event_type, new.message, scopes=new.scopes, context=new.context, actor=actor)


def usage_event(
    resource: Resource,
    *,
    component_type: str,
    billing_period: datetime.date,
    usage: Decimal,
    old_usage: Decimal | None,
    actor: Any,
    username: str = "",
    reason: str = "",
) -> NewEvent:
    """The event of `usage_reported`, unrecorded (a bulk write records many with `record_many`)."""
    keys, scopes = locked_keys(resource)
    context = {
        **keys,
        **actor_keys(actor),
        "component_type": component_type,
        "billing_period": billing_period.isoformat(),
        "usage": str(usage),
        "old_usage": None if old_usage is None else str(old_usage),
    }
    if username:
        context["username"] = username
    if reason:
        context["reason"] = reason
    message = types.OTHER_MESSAGES[types.USAGE_REPORTED].format(
        component_type=component_type,
        billing_period=billing_period.strftime("%Y-%m"),
        resource_name=resource.name,
        of_user=f" of user {username}" if username else "",
    )
    return NewEvent(types.USAGE_REPORTED, message, scopes, context)


def usage_corrected(
    resource: Resource,
    *,
    component_type: str,
    billing_period: datetime.date,
    usage: Decimal,
    old_usage: Decimal,
    reason: str,
    actor: Any,
    removed_users: list[str] | None = None,
) -> None:
    """A month's total corrected with a reason (`services/corrections.py`), for a resource read by the
    locking query; `removed_users`: the per-user rows the correction removed."""
    keys, scopes = locked_keys(resource)
    context: dict[str, Any] = {
        **keys,
        **actor_keys(actor),
        "component_type": component_type,
        "billing_period": billing_period.isoformat(),
        "usage": str(usage),
        "old_usage": str(old_usage),
        "reason": reason,
    }
    if removed_users:
        context["removed_usernames"] = removed_users
    message = types.OTHER_MESSAGES[types.USAGE_CORRECTED].format(
        component_type=component_type,
        billing_period=billing_period.strftime("%Y-%m"),
        resource_name=resource.name,
        old_usage=old_usage,
        usage=usage,
        reason=reason,
    )
    record(types.USAGE_CORRECTED, message, scopes=scopes, context=context, actor=actor)


# --- catalogue and offering roles -----------------------------------------------------------------


def offering_created(event_type: str, offering: Offering, *, actor: Any, **extra: Any) -> None:
    """`marketplace_offering_created`, `_plan_created` (`plan_name`), `_offering_component_created`
    (`component_type`): scoped to the provider's organisation and the offering."""
    context = {**customer_keys(offering.customer), **offering_keys(offering), **actor_keys(actor), **extra}
    message = types.OTHER_MESSAGES[event_type].format(offering_name=offering.name, **extra)
    scopes = Scopes(customer_id=offering.customer_id, offering_id=offering.pk)
    record(event_type, message, scopes=scopes, context=context, actor=actor)


def offering_role(event_type: str, offering: Offering, *, holder: Any, actor: Any) -> None:
    record_role_event(
        event_type,
        holder=holder,
        role=Role.OFFERING_MANAGER,
        actor=actor,
        scopes=Scopes(customer_id=offering.customer_id, offering_id=offering.pk, user_id=holder.pk),
        scope_keys={**customer_keys(offering.customer), **offering_keys(offering)},
        scope_name=offering.name,
    )
