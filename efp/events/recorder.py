"""`record`: the one way an event is written, by a service, inside its transaction.

The event row and the task that dispatches it (hooks, notifications, e-mail) are inserted in the same
transaction as the change itself: either all of them are kept or none is. Apps that act on events
register a dispatcher (`on_event`) in their `AppConfig.ready`, saying which events it acts on; an event
none acts on gets no task (its row is written all the same); the dispatch task calls those that act on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class Dispatcher:
    """What an app does with events, and which events it acts on, as data: `record` enqueues no dispatch
    for an event that no dispatcher acts on, and the dispatch task calls only those that do.

    `acts_on(event_type, context)` is pure (no database): the types and contexts the dispatcher ever acts
    on. `may_act_on(types)`, when given, reads what can change at run time (hooks' subscriptions): which of
    these types it may act on now; it must answer True for a type whenever a dispatch running later might
    act on an event of that type written now."""

    name: str
    function: Callable[[Event], None]
    acts_on: Callable[[str, dict[str, Any]], bool]
    may_act_on: Callable[[set[str]], set[str]] | None = None


_DISPATCHERS: list[Dispatcher] = []


def on_event(
    name: str,
    function: Callable[[Event], None],
    *,
    acts_on: Callable[[str, dict[str, Any]], bool],
    may_act_on: Callable[[set[str]], set[str]] | None = None,
) -> None:
    """Registers `function(event)` to run (in a task) for the events it acts on; idempotent by name."""
    if all(existing.name != name for existing in _DISPATCHERS):
        _DISPATCHERS.append(Dispatcher(name, function, acts_on, may_act_on))


def of_types(types: Iterable[str]) -> Callable[[str, dict[str, Any]], bool]:
    """`acts_on` for a dispatcher that acts on every event of these types."""
    chosen = frozenset(types)
    return lambda event_type, context: event_type in chosen


def dispatchers() -> list[Dispatcher]:
    return list(_DISPATCHERS)


def acted_on(events: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    """For each (type, context) about to be recorded: will a dispatcher act on it? A dispatcher with
    run-time subscriptions is asked once for all the types no other dispatcher settles."""
    chosen = [[d for d in _DISPATCHERS if d.acts_on(t, c)] for t, c in events]
    asked: dict[str, set[str]] = {}
    for (event_type, _), acting in zip(events, chosen, strict=True):
        if all(d.may_act_on is not None for d in acting):
            for d in acting:
                asked.setdefault(d.name, set()).add(event_type)
    answers = {d.name: d.may_act_on(asked[d.name]) for d in _DISPATCHERS if d.may_act_on and d.name in asked}
    return [
        any(d.may_act_on is None or t in answers.get(d.name, ()) for d in acting)
        for (t, _), acting in zip(events, chosen, strict=True)
    ]


def record(
    event_type: str,
    message: str,
    *,
    scopes: Scopes,
    context: dict[str, Any] | None = None,
    actor: Any = None,
) -> Event:
    """Writes one event and enqueues its dispatch (when a dispatcher acts on it), in the caller's
    transaction (which must exist)."""
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

    if acted_on([(event.event_type, event.context)])[0]:
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
    events a dispatcher acts on (which names them by uuid, so no key is read back)."""
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

    wanted = acted_on([(new.event_type, new.context) for new in events])
    dispatched = [key for key, acted in zip(keys, wanted, strict=True) if acted]
    for start in range(0, len(dispatched), DISPATCH_BATCH):
        dispatch_events.enqueue([key.hex for key in dispatched[start : start + DISPATCH_BATCH]])
