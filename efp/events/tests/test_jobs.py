"""Periodic jobs: the clock claims each slot once however many workers fire it, `run_job` records how
each run went, a slot missed while no worker ran is run once at start, and `efp run-job` runs one now."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import time_machine
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import TestCase, TransactionTestCase
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from efp.events import clock
from efp.events.models import JobRun
from efp.events.schedule import JOBS, Periodic
from efp.events.tests.running import run_tasks
from efp.marketplace.tests.factories import make_user
from efp.marketplace.tests.races import needs_postgresql

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 4, 10, 17, 42, tzinfo=UTC)


@contextmanager
def job(name: str, cron: str, function: Any) -> Iterator[list[int]]:
    """Registers a job for the test; yields the list of calls it received."""
    calls: list[int] = []

    def run() -> dict[str, Any]:
        calls.append(1)
        return function()

    JOBS[name] = Periodic(name, cron, run)
    try:
        yield calls
    finally:
        del JOBS[name]


class SlotTests(TestCase):
    def test_it_finds_the_latest_fire_time_of_a_schedule(self) -> None:
        assert clock.latest_slot("* * * * *", NOW) == NOW.replace(second=0)
        assert clock.latest_slot("0 * * * *", NOW) == datetime.datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
        assert clock.latest_slot("30 2 * * *", NOW) == datetime.datetime(2026, 3, 4, 2, 30, tzinfo=UTC)
        assert clock.latest_slot("0 6 3 * *", NOW) == datetime.datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
        assert clock.latest_slot("0 0 1 1 *", NOW) == datetime.datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        exactly = NOW.replace(minute=0, second=0)
        assert clock.latest_slot("0 * * * *", exactly) == exactly

    def test_it_claims_a_slot_once_however_many_clocks_fire_it(self) -> None:
        with job("test.hourly", "0 * * * *", dict):
            first = clock.fire("test.hourly", NOW)
            second = clock.fire("test.hourly", NOW + datetime.timedelta(seconds=5))  # another worker's clock
            assert first is not None and second is None
            assert (first.slot, first.status) == (NOW.replace(minute=0, second=0), "enqueued")
            assert JobRun.objects.count() == 1
            queued = DBTaskResult.objects.get()
            assert (queued.task_path, queued.args_kwargs["args"]) == ("efp.events.tasks.run_job", [first.pk])

            # The next slot is a new run.
            assert clock.fire("test.hourly", NOW + datetime.timedelta(hours=1)) is not None
            assert JobRun.objects.count() == 2

    def test_a_slot_missed_while_no_worker_ran_is_run_once_at_start(self) -> None:
        with job("test.hourly", "0 * * * *", dict), job("test.daily", "0 3 * * *", dict):
            # The workers were down from 06:30 to 10:17: the hourly job missed 7, 8, 9 and 10 o'clock.
            clock.claim_slot("test.hourly", datetime.datetime(2026, 3, 4, 6, 0, tzinfo=UTC))
            clock.claim_slot("test.daily", datetime.datetime(2026, 3, 4, 3, 0, tzinfo=UTC))
            caught_up = clock.catch_up(NOW)
            ours = [(run.job, run.slot.hour) for run in caught_up if run.job.startswith("test.")]
            assert ours == [("test.hourly", 10)]
            # Every other worker starting now finds it claimed.
            assert clock.catch_up(NOW + datetime.timedelta(seconds=10)) == []
            assert JobRun.objects.filter(job="test.daily").count() == 1
            assert JobRun.objects.filter(job="test.hourly").count() == 2


class RunJobTests(TestCase):
    def test_it_records_a_successful_run_with_its_summary(self) -> None:
        summary = {"sent": 3, "day": datetime.date(2026, 3, 4)}
        with job("test.ok", "* * * * *", lambda: summary) as calls, time_machine.travel(NOW, tick=False):
            run = clock.fire("test.ok", NOW)
            assert run is not None
            assert run_tasks() == 1
        run.refresh_from_db()
        assert calls == [1]
        assert (run.status, run.summary, run.error) == ("succeeded", {"sent": 3, "day": "2026-03-04"}, "")
        assert run.started == run.finished == NOW
        assert DBTaskResult.objects.get().status == "SUCCESSFUL"

    def test_it_records_a_failed_run_with_its_error(self) -> None:
        def boom() -> dict[str, Any]:
            raise RuntimeError("the mail server is away")

        with job("test.boom", "* * * * *", boom):
            run = clock.fire("test.boom", NOW)
            assert run is not None
            run_tasks()
        run.refresh_from_db()
        assert run.status == "failed"
        assert "RuntimeError: the mail server is away" in run.error
        assert run.finished is not None
        assert DBTaskResult.objects.get().status == "FAILED"

    def test_a_run_that_finished_is_not_run_again_when_its_task_is(self) -> None:
        with job("test.ok", "* * * * *", dict) as calls:
            run = clock.fire("test.ok", NOW)
            assert run is not None
            run_tasks()
            # Its worker died after the job, before marking the task done: the task is run again.
            DBTaskResult.objects.update(status="READY")
            run_tasks()
        assert calls == [1]
        run.refresh_from_db()
        assert run.status == "succeeded"

    def test_a_job_that_no_longer_exists_fails_its_run(self) -> None:
        run = clock.claim_slot("test.gone", NOW)
        assert run is not None
        run_tasks()
        run.refresh_from_db()
        assert run.status == "failed"
        assert "no periodic job is named 'test.gone'" in run.error


class RunJobCommandTests(TestCase):
    def test_it_runs_a_job_now_as_the_run_of_this_minute(self) -> None:
        out = StringIO()
        with (
            job("test.ok", "0 3 * * *", lambda: {"reminded": 2}) as calls,
            time_machine.travel(NOW, tick=False),
        ):
            call_command("run_job", "test.ok", stdout=out)
            assert calls == [1]
            run = JobRun.objects.get()
            assert (run.slot, run.status, run.summary) == (
                NOW.replace(second=0),
                "succeeded",
                {"reminded": 2},
            )
            assert DBTaskResult.objects.count() == 0  # run here, not queued
            assert "test.ok @ 2026-03-04 10:17: succeeded" in out.getvalue()

            with self.assertRaisesMessage(CommandError, "already has a run for this minute"):
                call_command("run_job", "test.ok", stdout=out)
        with self.assertRaisesMessage(CommandError, "no job named 'test.nope'; the jobs are: events."):
            call_command("run_job", "test.nope")

    def test_it_says_when_the_job_failed(self) -> None:
        def boom() -> dict[str, Any]:
            raise ValueError("bad month")

        with (
            job("test.boom", "* * * * *", boom),
            self.assertRaisesMessage(CommandError, "test.boom failed: bad month"),
        ):
            call_command("run_job", "test.boom", stdout=StringIO())
        assert JobRun.objects.get().status == "failed"


@needs_postgresql
class SlotRaceTests(TransactionTestCase):
    def test_it_gives_a_slot_to_one_of_many_clocks_firing_at_once(self) -> None:
        clocks = 8
        barrier = threading.Barrier(clocks)
        won: list[bool] = []

        def fire() -> None:
            try:
                barrier.wait(timeout=10)
                won.append(clock.fire("test.hourly", NOW) is not None)
            finally:
                connections.close_all()

        with job("test.hourly", "0 * * * *", dict):
            for _ in range(5):
                threads = [threading.Thread(target=fire) for _ in range(clocks)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert JobRun.objects.count() == 1
                JobRun.objects.all().delete()
                DBTaskResult.objects.all().delete()
        assert won.count(True) == 5 and len(won) == 5 * clocks


class JobRunAdminTests(TestCase):
    def test_the_admin_reads_the_runs_and_changes_none(self) -> None:
        root = make_user("root", is_staff=True, is_superuser=True)
        self.client.force_login(root)
        run = clock.claim_slot("events.requeue_stale", NOW)
        assert run is not None
        changelist = reverse("admin:events_jobrun_changelist")
        page = self.client.get(changelist)
        assert page.status_code == 200 and "events.requeue_stale" in page.text
        change = reverse("admin:events_jobrun_change", args=[run.pk])
        assert self.client.get(change).status_code == 200  # the view page
        self.client.post(change, {"job": "events.prune_tasks", "status": "succeeded"})
        assert self.client.get(reverse("admin:events_jobrun_add")).status_code == 403
        assert self.client.post(reverse("admin:events_jobrun_delete", args=[run.pk])).status_code == 403
        run.refresh_from_db()
        assert (run.job, run.status) == ("events.requeue_stale", "enqueued")
        assert self.client.get(reverse("admin:events_workerbeat_changelist")).status_code == 200
