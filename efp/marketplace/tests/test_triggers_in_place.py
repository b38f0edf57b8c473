"""Every trigger the migrations create is still on its table once every migration has run.

On SQLite, a later migration that rebuilds a table (Django does so to add a NOT NULL column with a default,
among others) drops that table's triggers without a word: the append-only guards of the history, the list
tallies and the monthly totals would then stop being kept, and only their agreement tests would notice,
far from the cause. This test names the cause: the migration order (0010 rebuilds the usage table, so the
triggers on it are created after it) or a new migration that rebuilds a table with triggers.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from django.db import connection
from django.test import TestCase

from efp.marketplace.services import tallies

CREATED = re.compile(r"CREATE TRIGGER\s+(\w+)", re.IGNORECASE)


def _migration(name: str) -> Any:
    return importlib.import_module(f"efp.marketplace.migrations.{name}")


def expected_triggers(vendor: str) -> set[str]:
    append_only = _migration("0005_append_only_history")._statements(vendor, True)
    totals = _migration("0011_dashboard_scale")
    month_totals = totals.POSTGRES if vendor == "postgresql" else totals.SQLITE
    statements = [*append_only, *tallies.trigger_statements(vendor, True), *month_totals]
    return {match for statement in statements for match in CREATED.findall(statement)}


def triggers_in_database() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()}


class TriggersInPlaceTests(TestCase):
    def test_every_trigger_the_migrations_create_survives_the_later_migrations(self) -> None:
        expected = expected_triggers(connection.vendor)
        assert len(expected) >= 10, expected  # the three families are all read
        missing = expected - triggers_in_database()
        assert not missing, f"dropped by a later migration (a table rebuilt?): {missing}"
