"""`record`: the one way an event is written, by a service, inside its transaction.

The event row and the task that dispatches it (hooks, notifications, e-mail) are inserted in the same
transaction as the change itself: either all of them are kept or none is. Apps that act on events
register a dispatcher (`on_event`) in their `AppConfig.ready`; the dispatch task calls them in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.events.catalogue import BY_NAME
from efp.events.models import Event
from efp.rawsql import insert_many, prepare


@dataclass(frozen=True)
class Scopes:
    """The ids an event concerns; any may be None."""

    customer_id: int | None = None
    project_id: int | None = None
    offering_id: int | None = None
    resource_id: int | None = None
    order_id: int | None = None
    user_id: int | None = None


Dispatcher = Callable[[Event], None]
_DISPATCHERS: list[tuple[str, Dispatcher]] = []


def on_event(name: str, dispatcher: Dispatcher) -> None:
    """Registers `dispatcher(event)` to run (in a task) for every event; idempotent by name."""
    if all(existing != name for existing, _ in _DISPATCHERS):
        _DISPATCHERS.append((name, dispatcher))


def dispatchers() -> list[tuple[str, Dispatcher]]:
    return list(_DISPATCHERS)


def record(
    event_type: str,
    message: str,
    *,
    scopes: Scopes,
    context: dict[str, Any] | None = None,
    actor: Any = None,
) -> Event:
    """Writes one event and enqueues its dispatch, in the caller's transaction (which must exist)."""
    if event_type not in BY_NAME:
        raise ValueError(f"{event_type!r} is not in efp.events.catalogue")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record() runs inside the service's transaction")
    event = Event.objects.create(
        event_type=event_type,
        message=message,
        context=context or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        **vars(scopes),
    )
    from efp.events.tasks import dispatch_event  # the task module imports this one

    dispatch_event.enqueue(event.pk)
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event for `record_many`: what `record` takes."""

    event_type: str
    message: str
    scopes: Scopes
    context: dict[str, Any]


DISPATCH_BATCH = 500  # events per dispatch task of `record_many`
EVENT_COLUMNS = [
    "uuid",
    "created",
    "event_type",
    "message",
    "context",
    "actor",
    "customer_id",
    "project_id",
    "offering_id",
    "resource_id",
    "order_id",
    "user_id",
]


def _ids(scopes: Scopes) -> tuple[int | None, ...]:
    """The scopes in the order of EVENT_COLUMNS."""
    return (
        scopes.customer_id,
        scopes.project_id,
        scopes.offering_id,
        scopes.resource_id,
        scopes.order_id,
        scopes.user_id,
    )


def record_many(events: list[NewEvent], *, actor: Any = None) -> None:
    """`record` for many events of one actor (a bulk write such as a CSV import), in the caller's
    transaction: the rows in a few `executemany` batches, and one dispatch task per `DISPATCH_BATCH`
    events (which names them by uuid, so no key is read back)."""
    for new in events:
        if new.event_type not in BY_NAME:
            raise ValueError(f"{new.event_type!r} is not in efp.events.catalogue")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_many() runs inside the service's transaction")
    who = actor.pk if getattr(actor, "is_authenticated", False) else None
    as_uuid, as_context = prepare(Event, "uuid"), prepare(Event, "context")
    created = prepare(Event, "created")(timezone.now())
    keys = [uuid.uuid4() for _ in events]
    rows = [
        (
            as_uuid(key),
            created,
            new.event_type,
            new.message,
            as_context(new.context),
            who,
            *_ids(new.scopes),
        )
        for key, new in zip(keys, events, strict=True)
    ]
    insert_many(Event, EVENT_COLUMNS, rows)
    from efp.events.tasks import dispatch_events  # the task module imports this one

    for start in range(0, len(keys), DISPATCH_BATCH):
        dispatch_events.enqueue([key.hex for key in keys[start : start + DISPATCH_BATCH]])
