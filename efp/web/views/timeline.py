"""The timeline of an order or a resource page: its events (`efp.events`), newest first, as far as the
user may see them (`structure.access.visible_events`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from efp.events.models import Event
from efp.structure.access import visible_events

# A resource reports usage every month, per user: the page shows the newest events only.
TIMELINE_LENGTH = 50


@dataclass(frozen=True)
class Entry:
    event: Event
    old_state: str  # an order's move: the states it left and entered ("" otherwise)
    new_state: str
    reason: str


def timeline(user: Any, **scope: int) -> list[Entry]:
    """The newest events naming `scope` (`order_id=` or `resource_id=`) that `user` sees (one query)."""
    events = (
        visible_events(user)
        .filter(Event.objects.filter(**scope))
        .select_related("actor")
        .order_by("-created", "-pk")[:TIMELINE_LENGTH]
    )
    return [
        Entry(
            event=event,
            old_state=str(event.context.get("old_state") or ""),
            new_state=str(event.context.get("order_state") or "") if "order_id" in scope else "",
            reason=str(event.context.get("reason") or ""),
        )
        for event in events
    ]
