"""The task queue's table is a queue: workers claim the oldest READY row through a partial index, and every
claim leaves a dead entry at the head of that index until VACUUM removes it. Under a backlog PostgreSQL's
default (vacuum when a fifth of the table changed) let a claim walk tens of thousands of dead entries
(issue 18's capacity run: 140 ms a claim, 0.4 ms after a vacuum). These storage parameters have autovacuum
visit the table after every 1,000 changed or inserted rows, whatever its size. PostgreSQL only: SQLite has
no autovacuum of this kind (and one writer)."""

from django.db import migrations

TABLE = "django_tasks_database_dbtaskresult"
PARAMETERS = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0",
    "autovacuum_vacuum_insert_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0",
    "autovacuum_analyze_threshold": "1000",
    "autovacuum_vacuum_cost_delay": "0",
}


def _tune(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    settings = ", ".join(f"{name} = {value}" for name, value in PARAMETERS.items())
    schema_editor.execute(f"ALTER TABLE {TABLE} SET ({settings})")


def _untune(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET ({', '.join(PARAMETERS)})")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_workerbeat"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(_tune, _untune)]
