"""`efp worker` as production runs it, a subprocess on the test database (PostgreSQL): a task whose
worker is killed with SIGKILL mid-task is run again and completes, its effect written once, and nothing
queued is lost; SIGTERM lets the current task finish; the clock records its runs."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.test import TransactionTestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

import efp
from efp.events import requeue
from efp.events.models import Event, JobRun, WorkerBeat
from efp.events.tests.crash_tasks import deliver
from efp.marketplace.tests import served

ROOT = Path(efp.__file__).resolve().parent.parent
needs_postgresql = unittest.skipIf(
    connection.vendor == "sqlite",
    "needs PostgreSQL (set EFP_DATABASE_URL): the SQLite test database lives in this process's memory, "
    "out of a worker process's reach",
)


def eventually(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


class Worker:
    """One `efp worker` in a process group of its own, on the test database."""

    def __init__(self, *args: str) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        env = {**os.environ, "EFP_DATABASE_URL": served.test_database_url(), "EFP_LOG_LEVEL": "INFO"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "efp.cli", "worker", "--interval", "0.05", *args],
            cwd=ROOT,  # this checkout's efp
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def kill_all(self) -> None:
        """SIGKILL to the supervisor and its children at once: the machine died."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-6000:]


@needs_postgresql
class WorkerProcessTests(TransactionTestCase):
    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp())
        self.workers: list[Worker] = []

    def tearDown(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.kill_all()

    def start(self, *args: str) -> Worker:
        worker = Worker(*args)
        self.workers.append(worker)
        return worker

    def enqueue(self) -> tuple[str, DBTaskResult]:
        key = uuid.uuid4().hex
        with transaction.atomic():
            result = deliver.enqueue(key, str(self.folder))
        return key, DBTaskResult.objects.get(pk=result.id)

    def attempts(self, key: str) -> int:
        path = self.folder / f"{key}.attempts"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def delivered(self, key: str) -> int:
        return Event.objects.filter(uuid=uuid.UUID(key)).count()

    def status(self, task: DBTaskResult) -> str:
        task.refresh_from_db()
        return task.status

    def test_a_child_killed_mid_task_loses_nothing_and_its_task_completes_once(self) -> None:
        worker = self.start("--processes", "2", "--no-clock")
        blocked, task = self.enqueue()
        eventually(lambda: self.attempts(blocked) == 1, "the task started")
        task.refresh_from_db()
        beat = WorkerBeat.objects.get(worker_id=task.worker_ids[-1])
        assert beat.pid is not None

        os.kill(beat.pid, signal.SIGKILL)  # the child running it dies mid-task (out of memory, say)
        # The supervisor requeues it at once; another child (or the restarted one) claims it again.
        eventually(lambda: self.attempts(blocked) == 2, "the task ran again", timeout=20)
        assert self.status(task) == "RUNNING"
        others = [self.enqueue() for _ in range(5)]  # queued meanwhile
        (self.folder / "release").touch()

        eventually(lambda: self.status(task) == "SUCCESSFUL", "the task completed")
        for key, other in others:
            eventually(lambda other=other: self.status(other) == "SUCCESSFUL", "every queued task ran")
            assert (self.attempts(key), self.delivered(key)) == (1, 1)
        task.refresh_from_db()
        assert (self.attempts(blocked), self.delivered(blocked)) == (2, 1)
        assert len(task.worker_ids) == 2 and task.worker_ids[0] != task.worker_ids[1]
        assert not WorkerBeat.objects.filter(pid=beat.pid).exists()
        eventually(lambda: WorkerBeat.objects.count() == 2, "the dead child was replaced")

        worker.signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0, worker.output()
        assert WorkerBeat.objects.count() == 0

    def test_a_worker_killed_whole_leaves_its_task_to_requeue_stale(self) -> None:
        first = self.start("--no-clock")
        key, task = self.enqueue()
        eventually(lambda: self.attempts(key) == 1, "the task started")
        first.kill_all()  # supervisor and child at once: nobody is left to requeue it
        assert self.status(task) == "RUNNING"

        second = self.start("--no-clock")
        eventually(lambda: WorkerBeat.objects.count() == 2, "the second worker's child beats")
        time.sleep(1)
        assert self.status(task) == "RUNNING", "a new worker does not take a claimed task"
        # Five minutes later the dead worker's beat is old: events.requeue_stale hands the task back.
        later = timezone.now() + datetime.timedelta(seconds=301)
        assert requeue.requeue_stale(later) == 1
        (self.folder / "release").touch()
        eventually(lambda: self.status(task) == "SUCCESSFUL", "the task completed")
        assert (self.attempts(key), self.delivered(key)) == (2, 1)

        second.signal(signal.SIGTERM)
        assert second.process.wait(timeout=30) == 0, second.output()

    def test_sigterm_lets_the_current_task_finish(self) -> None:
        worker = self.start("--processes", "2")
        key, task = self.enqueue()
        eventually(lambda: self.attempts(key) == 1, "the task started")
        # Its clock runs the jobs whose latest slot had no run yet, as tasks of their own, on the other
        # process (a dozen of them: wait for the one this test reads before stopping the worker).
        done = JobRun.objects.filter(job="events.requeue_stale", status="succeeded")
        eventually(done.exists, "the clock's catch-up ran events.requeue_stale", timeout=60)
        worker.signal(signal.SIGTERM)
        time.sleep(1)
        assert worker.process.poll() is None, "it waits for the task"
        (self.folder / "release").touch()
        assert worker.process.wait(timeout=30) == 0, worker.output()
        assert (self.status(task), self.attempts(key), self.delivered(key)) == ("SUCCESSFUL", 1, 1)
        assert WorkerBeat.objects.count() == 0
        # Every run it began finished (a slow machine may cross a minute: the next slot runs too).
        runs = set(JobRun.objects.filter(job="events.requeue_stale").values_list("status", flat=True))
        assert runs == {"succeeded"}, worker.output()

    def test_two_workers_on_one_database_run_each_task_and_each_job_slot_once(self) -> None:
        (self.folder / "release").touch()
        workers = [self.start("--processes", "2"), self.start("--processes", "2")]
        eventually(lambda: WorkerBeat.objects.count() == 4, "four task-running processes")
        tasks = [self.enqueue() for _ in range(40)]
        for key, task in tasks:
            eventually(lambda task=task: self.status(task) == "SUCCESSFUL", "every task ran")
            assert (self.attempts(key), self.delivered(key)) == (1, 1)
        ran_on = {task.worker_ids[0].rsplit("-", 2)[0] for _, task in tasks}
        assert len(ran_on) == 2, "both workers took tasks"
        # Both clocks caught up the same slots at start: one run each.
        eventually(
            lambda: JobRun.objects.filter(job="events.requeue_stale", status="succeeded").exists(), "a run"
        )
        slots = list(JobRun.objects.filter(job="events.requeue_stale").values_list("slot", flat=True))
        assert len(slots) == len(set(slots))
        for worker in workers:
            worker.signal(signal.SIGTERM)
        for worker in workers:
            assert worker.process.wait(timeout=30) == 0, worker.output()
