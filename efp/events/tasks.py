"""Tasks of the events app, on Django's tasks interface (`django_tasks`, database backend)."""

from __future__ import annotations

import logging

from django_tasks import task

from efp.events.models import Event
from efp.events.recorder import dispatchers

logger = logging.getLogger(__name__)


@task()
def dispatch_event(event_id: int) -> list[str]:
    """Runs every registered dispatcher for one event. Each dispatcher is idempotent (it writes its
    rows under unique keys), so a dispatch that runs again after a crash does not send anything twice."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return []
    done = []
    for name, dispatcher in dispatchers():
        dispatcher(event)
        done.append(name)
    return done
