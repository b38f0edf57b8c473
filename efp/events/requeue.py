"""Crash recovery for the task queue. django_tasks_db marks a task RUNNING when a worker claims it and
leaves it so for ever if that process dies (SIGKILL, out of memory, power). Two paths return such tasks to
the queue:

- the supervisor of `efp worker` knows the worker id of each child it runs: when a child dies, it requeues
  at once the tasks that child had claimed (`requeue_tasks_of`);
- the periodic job `events.requeue_stale` requeues the tasks RUNNING for longer than
  `EFP_TASK_STALE_SECONDS` whose worker has not been seen alive (`WorkerBeat`) for as long: a whole
  machine died, supervisor and all.

Each return is a compare-and-swap UPDATE on (id, RUNNING, started_at): it changes nothing if the task
finished or was claimed again meanwhile, so two recoverers never requeue one claim twice, and a task that
is still running on a live worker is never handed to another. Our tasks are idempotent (dispatchers write
under unique keys), so a task that died halfway is simply run again. A task whose workers died
`MAX_CLAIMS` times is marked failed instead: it is what kills them.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from efp.events.models import WorkerBeat

logger = logging.getLogger(__name__)

MAX_CLAIMS = 5
RUNNING = "RUNNING"


@dataclass(frozen=True)
class Running:
    id: str
    started_at: datetime.datetime | None
    worker_ids: list[str]

    @property
    def worker_id(self) -> str | None:
        return self.worker_ids[-1] if self.worker_ids else None


def running_tasks() -> list[Running]:
    rows = DBTaskResult.objects.filter(status=RUNNING).values_list("id", "started_at", "worker_ids")
    return [Running(str(pk), started, list(ids or [])) for pk, started, ids in rows]


def _requeue(task: Running, reason: str) -> bool:
    """Returns one claim to the queue (or fails it, after MAX_CLAIMS); False if it changed meanwhile."""
    claim = DBTaskResult.objects.filter(pk=task.id, status=RUNNING, started_at=task.started_at)
    give_up = len(task.worker_ids) >= MAX_CLAIMS
    if give_up:
        changed = claim.update(
            status="FAILED",
            finished_at=timezone.now(),
            exception_class_path="efp.events.requeue.WorkerLost",
            traceback=f"{len(task.worker_ids)} workers died running this task ({reason}); not run again",
        )
    else:
        changed = claim.update(status="READY")
    if changed:
        action = "failed" if give_up else "requeued"
        logger.warning("task %s of worker %s %s: %s", task.id, task.worker_id, action, reason)
    return bool(changed)


def requeue_tasks_of(worker_ids: Collection[str]) -> int:
    """Returns to the queue the tasks claimed by these (dead) worker processes; how many."""
    ids = set(worker_ids)
    return sum(
        _requeue(task, "its worker process ended") for task in running_tasks() if task.worker_id in ids
    )


def requeue_stale(now: datetime.datetime | None = None) -> int:
    """Returns to the queue the tasks RUNNING for longer than EFP_TASK_STALE_SECONDS whose worker has not
    been seen alive for as long; how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.EFP_TASK_STALE_SECONDS)
    stale = [t for t in running_tasks() if t.started_at is None or t.started_at < cutoff]
    alive = set(
        WorkerBeat.objects.filter(
            worker_id__in=[t.worker_id for t in stale if t.worker_id], seen__gte=cutoff
        ).values_list("worker_id", flat=True)
    )
    return sum(
        _requeue(task, f"running since {task.started_at} and its worker not seen since {cutoff}")
        for task in stale
        if task.worker_id not in alive
    )
