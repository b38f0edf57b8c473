"""The one place where an order's or a resource's state changes.

`transition_order` / `transition_resource`:
1. refuse a move that is not in the table of `states.py` (StateConflict → HTTP 409);
2. apply it as `UPDATE ... WHERE state = <old>`; if no row changed, someone else moved it first
   (StateConflict), so two racing approvers cannot both win;
3. append an event row (old, new, actor, reason, time), keep the live window of the usage coverage rule
   (`Resource.live_from` / `live_until`, see `coverage.py`: set by the first move to OK and by the move
   to Terminated, at the event's time, and reopened by a restore) and write the event Waldur's log has for
   the move (`marketplace/events.py`, by the tables of `event_types.py`), unless `event=False` says an order's
   events tell it already;
4. refresh the in-memory object, keeping its project and offering (which no state change touches).
Callers own the transaction (services are wrapped in `transaction.atomic`).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from efp.errors import StateConflict
from efp.marketplace import events
from efp.marketplace.models import Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services import coverage_months
from efp.marketplace.states import (
    ORDER_TRANSITIONS,
    RESOURCE_TRANSITIONS,
    OrderState,
    ResourceState,
    order_can_move,
    resource_can_move,
)


def transition_order(order: Order, new: OrderState, *, actor: Any, reason: str = "", **fields: Any) -> Order:
    old = OrderState(order.state)
    if not order_can_move(old, new):
        raise StateConflict([s.value for s, targets in ORDER_TRANSITIONS.items() if new in targets])
    now = timezone.now()
    changed = Order.objects.filter(pk=order.pk, state=old).update(state=new, modified=now, **fields)
    if not changed:
        order.refresh_from_db()
        raise StateConflict(message=f"The order was changed meanwhile; it is now {order.state}.")
    OrderEvent.objects.create(order=order, old_state=old, new_state=new, actor=_user(actor), reason=reason)
    keys = events.order_keys(order)  # from the relations as the caller loaded them
    refresh(order)
    events.order_moved(order, old, keys=keys, actor=actor, reason=reason)
    return order


def transition_resource(
    resource: Resource,
    new: ResourceState,
    *,
    actor: Any,
    reason: str = "",
    event: bool = True,
    **fields: Any,
) -> Resource:
    """Moves a resource; staying in the same state only stores `fields` (no event). `event=False`: the
    move is an order's outcome, which the order's events tell (`events.order_moved`)."""
    old = ResourceState(resource.state)
    now = timezone.now()
    if old == new:
        if fields:
            Resource.objects.filter(pk=resource.pk).update(modified=now, **fields)
            resource.refresh_from_db()
        return resource
    if not resource_can_move(old, new):
        raise StateConflict([s.value for s, targets in RESOURCE_TRANSITIONS.items() if new in targets])
    window = _live_window(new, now, old)
    # A window moved (an activation, a termination, a restore): its live and reported months counted again.
    with coverage_months.kept([resource.pk], window=True) if window else nullcontext():
        changed = Resource.objects.filter(pk=resource.pk, state=old).update(
            state=new, modified=now, **window, **fields
        )
    if not changed:
        resource.refresh_from_db()
        raise StateConflict(message=f"The resource was changed meanwhile; it is now {resource.state}.")
    ResourceEvent.objects.create(
        resource=resource, old_state=old, new_state=new, actor=_user(actor), reason=reason, created=now
    )
    keys = events.resource_keys(resource) if event else {}
    refresh(resource)
    if event:
        events.resource_moved(resource, old, keys=keys, actor=actor, reason=reason)
    return resource


def record_order_created(order: Order, *, actor: Any) -> None:
    OrderEvent.objects.create(
        order=order, old_state="", new_state=order.state, actor=_user(actor), reason="created"
    )
    events.order_created(order, actor=actor)


def record_resource_created(resource: Resource, *, actor: Any) -> None:
    now = timezone.now()
    ResourceEvent.objects.create(
        resource=resource,
        old_state="",
        new_state=resource.state,
        actor=_user(actor),
        reason="created",
        created=now,
    )
    if window := _live_window(ResourceState(resource.state), now):  # born live or ended: not from an order
        with coverage_months.kept([resource.pk], window=True):
            Resource.objects.filter(pk=resource.pk).update(**window)
        resource.refresh_from_db(fields=list(window))


def _live_window(new: ResourceState, now: Any, old: ResourceState | None = None) -> dict[str, Any]:
    """What a move to `new` at `now` stores of the live window: the first activation, and the termination
    in force (a retry after an error or a second move to OK changes nothing). A restore (the move out of
    Terminated) reopens the window and records the gap, from the first termination to this restore."""
    if new == ResourceState.OK:
        return {"live_from": Coalesce(F("live_from"), F("created"))}
    if new == ResourceState.TERMINATED:
        return {"live_until": Coalesce(F("live_until"), Value(now))}
    if old == ResourceState.TERMINATED:  # a restore: the gap runs from the first termination until now
        gap = {"gap_from": Coalesce(F("gap_from"), F("live_until")), "gap_until": Value(now)}
        return {**gap, "live_until": None}
    return {}


# Relations a state change never touches: kept across the refresh, so the next step and its event do not
# read them again.
KEPT_RELATIONS = ("project", "offering")


def refresh(obj: Order | Resource) -> None:
    """`refresh_from_db`, keeping the loaded project and offering."""
    kept = {name: obj._state.fields_cache[name] for name in KEPT_RELATIONS if name in obj._state.fields_cache}
    obj.refresh_from_db()
    for name, value in kept.items():
        obj._state.fields_cache[name] = value


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
