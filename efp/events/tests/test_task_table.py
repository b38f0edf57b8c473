"""The task queue's table is vacuumed as a queue: autovacuum visits it after every thousand changes,
whatever its size, so a worker's claim does not walk the dead entries a backlog leaves in its index."""

from __future__ import annotations

import unittest

from django.db import connection
from django.test import TestCase


@unittest.skipUnless(
    connection.vendor == "postgresql", "autovacuum and its storage parameters are PostgreSQL's"
)
class TaskTableVacuumTest(TestCase):
    def test_autovacuum_visits_the_queue_after_a_thousand_changes(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reloptions FROM pg_class WHERE relname = 'django_tasks_database_dbtaskresult'"
            )
            (options,) = cursor.fetchone()
        settings = dict(option.split("=", 1) for option in options or [])
        assert settings["autovacuum_vacuum_scale_factor"] == "0"
        assert settings["autovacuum_vacuum_threshold"] == "1000"
        assert settings["autovacuum_vacuum_insert_threshold"] == "1000"
        assert settings["autovacuum_analyze_threshold"] == "1000"
        assert settings["autovacuum_vacuum_cost_delay"] == "0"
