"""Keeping `ComponentMonthTotal` true: database triggers (migration 0011_dashboard_scale) move the totals
with every write of usage; `recount` sums them again from the usage rows.

What the triggers do not see: PostgreSQL with `session_replication_role = replica` (the scale seed loads
its usage that way and recounts at the end) and TRUNCATE. test_component_month_totals.py compares the
triggers' totals and a recount after every kind of usage write.
"""

# ruff: noqa: S608  (every name in this module's SQL is one of our tables; no value is inlined)

from __future__ import annotations

from django.db import connection, transaction

from efp.marketplace.models import ComponentMonthTotal, ComponentUsage

TOTALS = ComponentMonthTotal._meta.db_table
USAGE = ComponentUsage._meta.db_table


@transaction.atomic
def recount() -> None:
    """Rebuilds every month's total from the usage rows, in one transaction (writers of usage wait)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {USAGE} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {TOTALS}")
        cursor.execute(
            f"INSERT INTO {TOTALS} (component_id, billing_period, usage, rows) "
            f"SELECT component_id, billing_period, SUM(usage), COUNT(*) FROM {USAGE} GROUP BY 1, 2"
        )
