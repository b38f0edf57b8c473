"""Each usage record carries its resource's offering and project (issue 18, point 2): the usage lists test
visibility on the row itself, read from the page-order indexes, instead of joining every row's resource.

The columns are added nullable, filled from the resources, then made NOT NULL on PostgreSQL only: on SQLite
that would rebuild the table and drop its triggers (tallies, month totals), so there the column stays
nullable in the database and every writer fills it (`scope_of`; test_usage_list_order.py checks them)."""

import django.db.models.deletion
from django.db import migrations, models

USAGE, RESOURCE = "marketplace_componentusage", "marketplace_resource"


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        sql = (
            f"UPDATE {USAGE} u SET offering_id = r.offering_id, project_id = r.project_id"
            f" FROM {RESOURCE} r WHERE r.id = u.resource_id"
        )
    else:
        sql = (
            f"UPDATE {USAGE} SET"
            f" offering_id = (SELECT r.offering_id FROM {RESOURCE} r WHERE r.id = {USAGE}.resource_id),"
            f" project_id = (SELECT r.project_id FROM {RESOURCE} r WHERE r.id = {USAGE}.resource_id)"
        )
    schema_editor.execute(sql)


def not_null(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events before ALTER
        schema_editor.execute(
            f"ALTER TABLE {USAGE} ALTER COLUMN offering_id SET NOT NULL, ALTER COLUMN project_id SET NOT NULL"
        )


def nullable(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {USAGE} ALTER COLUMN offering_id DROP NOT NULL, ALTER COLUMN project_id DROP NOT NULL"
        )


def scope_field(to, null):
    return models.ForeignKey(
        db_index=False,
        editable=False,
        null=null,
        on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+",
        to=to,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0018_agent_queues"),
        ("structure", "0003_name_validators"),
    ]

    operations = [
        # The page-order indexes are rebuilt with the two columns, after the backfill (not updated by it).
        migrations.RemoveIndex(model_name="componentusage", name="usage_page_order"),
        migrations.RemoveIndex(model_name="componentusage", name="usage_month_page_order"),
        migrations.AddField(
            model_name="componentusage", name="offering", field=scope_field("marketplace.offering", True)
        ),
        migrations.AddField(
            model_name="componentusage", name="project", field=scope_field("structure.project", True)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(not_null, nullable)],
            state_operations=[
                migrations.AlterField(
                    model_name="componentusage",
                    name="offering",
                    field=scope_field("marketplace.offering", False),
                ),
                migrations.AlterField(
                    model_name="componentusage", name="project", field=scope_field("structure.project", False)
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="componentusage",
            index=models.Index(
                fields=["-date", "component_type", "id", "offering", "project"], name="usage_page_order"
            ),
        ),
        migrations.AddIndex(
            model_name="componentusage",
            index=models.Index(
                fields=["billing_period", "-date", "component_type", "id", "offering", "project"],
                name="usage_month_page_order",
            ),
        ),
    ]
