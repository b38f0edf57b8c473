"""Periodic jobs of the events app (efp.events.schedule): the task queue's own upkeep."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from efp.events import requeue
from efp.events.models import WorkerBeat
from efp.events.schedule import periodic

KEEP_FINISHED_TASKS = datetime.timedelta(days=14)


@periodic("events.requeue_stale", cron="* * * * *")
def requeue_stale() -> dict[str, Any]:
    """Tasks left RUNNING by a worker that died with its machine go back to the queue."""
    now = timezone.now()
    requeued = requeue.requeue_stale(now)
    # Beats of processes gone for a day: their supervisor died with them and could not remove them.
    gone, _ = WorkerBeat.objects.filter(seen__lt=now - datetime.timedelta(days=1)).delete()
    return {"requeued": requeued, "forgotten_workers": gone}


@periodic("events.prune_tasks", cron="17 3 * * *")
def prune_tasks() -> dict[str, Any]:
    """Finished task results older than two weeks are deleted (the queue table would grow for ever)."""
    old = DBTaskResult.objects.filter(
        status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=timezone.now() - KEEP_FINISHED_TASKS
    )
    deleted, _ = old.delete()
    return {"deleted": deleted}
