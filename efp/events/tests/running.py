"""Runs the queued tasks inside a test, as `efp worker` would (same claim, same run, same result rows)."""

from __future__ import annotations

from unittest import mock

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_tasks(max_tasks: int = 1000) -> int:
    """Runs every task that is ready now (and those they enqueue), one at a time; returns how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    before = DBTaskResult.objects.exclude(status="READY").count()
    # The worker drops connections that are not in autocommit mode between tasks; inside a test's
    # transaction that closes PostgreSQL's connection (SQLite in memory ignores it), so it is kept here.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        worker.run()
    return DBTaskResult.objects.exclude(status="READY").count() - before
