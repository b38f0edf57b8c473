"""A task whose worker died is returned to the queue, once, and never while a live worker runs it."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from efp.events import requeue
from efp.events.jobs import requeue_stale
from efp.events.models import WorkerBeat
from efp.events.recorder import Scopes, record
from efp.events.tests.running import run_tasks

SECONDS = datetime.timedelta(seconds=1)


def claimed(worker_id: str, *, seconds_ago: float, earlier: tuple[str, ...] = ()) -> DBTaskResult:
    """A dispatch task claimed by `worker_id` that long ago (and by `earlier` workers before it)."""
    with transaction.atomic():
        record("role_granted", "User bob got role owner.", scopes=Scopes(customer_id=1))
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert task is not None
    DBTaskResult.objects.filter(pk=task.pk).update(
        status="RUNNING",
        started_at=timezone.now() - seconds_ago * SECONDS,
        worker_ids=[*earlier, worker_id],
    )
    task.refresh_from_db()
    return task


@override_settings(EFP_TASK_STALE_SECONDS=300)
class RequeueStaleTests(TestCase):
    def test_it_returns_a_task_whose_worker_died_with_its_machine(self) -> None:
        lost = claimed("box-1", seconds_ago=301)
        young = claimed("box-2", seconds_ago=30)  # may well be running still
        WorkerBeat.objects.create(worker_id="box-1", host="box", seen=timezone.now() - 600 * SECONDS)

        assert requeue_stale() == {"requeued": 1, "forgotten_workers": 0}
        lost.refresh_from_db()
        young.refresh_from_db()
        assert (lost.status, young.status) == ("READY", "RUNNING")

        # It runs again (our tasks are idempotent) and is done.
        assert run_tasks() == 1
        lost.refresh_from_db()
        assert (lost.status, lost.worker_ids) == ("SUCCESSFUL", ["box-1", "test-worker"])

    def test_it_leaves_a_slow_task_to_its_live_worker(self) -> None:
        slow = claimed("box-1", seconds_ago=900)
        WorkerBeat.objects.create(worker_id="box-1", host="box", seen=timezone.now() - 5 * SECONDS)
        assert requeue.requeue_stale() == 0
        slow.refresh_from_db()
        assert slow.status == "RUNNING"

    def test_it_changes_nothing_when_the_task_finished_or_was_claimed_again_meanwhile(self) -> None:
        task = claimed("box-1", seconds_ago=400)
        seen = requeue.running_tasks()
        assert [t.id for t in seen] == [str(task.pk)]
        # Another worker's requeue_stale returned it, and a worker claimed it again, before ours acts.
        DBTaskResult.objects.filter(pk=task.pk).update(
            started_at=timezone.now(), worker_ids=["box-1", "box-2"]
        )
        assert requeue._requeue(seen[0], "test") is False
        task.refresh_from_db()
        assert (task.status, task.worker_ids) == ("RUNNING", ["box-1", "box-2"])

    def test_a_task_that_killed_five_workers_is_failed_not_run_again(self) -> None:
        killer = claimed("w5", seconds_ago=400, earlier=("w1", "w2", "w3", "w4"))
        assert requeue.requeue_stale() == 1
        killer.refresh_from_db()
        assert killer.status == "FAILED"
        assert killer.exception_class_path == "efp.events.requeue.WorkerLost"
        assert "5 workers died running this task" in killer.traceback

    def test_it_forgets_workers_gone_for_a_day(self) -> None:
        WorkerBeat.objects.create(
            worker_id="gone", host="box", seen=timezone.now() - datetime.timedelta(days=2)
        )
        WorkerBeat.objects.create(worker_id="here", host="box")
        assert requeue_stale() == {"requeued": 0, "forgotten_workers": 1}
        assert list(WorkerBeat.objects.values_list("worker_id", flat=True)) == ["here"]


class RequeueOfDeadWorkerTests(TestCase):
    def test_it_returns_at_once_the_tasks_of_a_child_that_died(self) -> None:
        mine = claimed("child-1", seconds_ago=2)
        retried = claimed("child-1", seconds_ago=1, earlier=("child-0",))
        others = claimed("child-2", seconds_ago=2)
        earlier = claimed("child-3", seconds_ago=2, earlier=("child-1",))  # child-1 lost it before

        assert requeue.requeue_tasks_of({"child-1"}) == 2
        statuses = {t.pk: t.status for t in DBTaskResult.objects.all()}
        assert statuses == {
            mine.pk: "READY",
            retried.pk: "READY",
            others.pk: "RUNNING",
            earlier.pk: "RUNNING",
        }
        assert requeue.requeue_tasks_of({"child-1"}) == 0  # a second supervisor pass changes nothing
