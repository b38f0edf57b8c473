"""Runs the queued tasks inside a test, as `efp worker` would (same claim, same run, same result rows)."""

from __future__ import annotations

from unittest import mock

from django_tasks_db.management.commands import db_worker
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
    # The worker drops "old" connections between tasks; inside a test's transaction Django takes the
    # connection for one that lost its autocommit and closes it (a no-op on SQLite's in-memory database,
    # fatal on PostgreSQL). A worker process has no such transaction around it.
    with mock.patch.object(db_worker, "close_old_connections", lambda: None):
        worker.run()
    return DBTaskResult.objects.exclude(status="READY").count() - before
