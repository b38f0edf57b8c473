"""The resources keep their organisation's and project's names (the coverage matrix's order, walked in an
index). Nullable columns: SQLite adds them without remaking the table, so its triggers stay."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Resource = apps.get_model("marketplace", "Resource")
    Project = apps.get_model("structure", "Project")
    project = Project.objects.filter(pk=OuterRef("project_id"))
    Resource.objects.update(
        sort_customer_name=Subquery(project.values("customer__name")[:1]),
        sort_project_name=Subquery(project.values("name")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0020_coverage_months"),
        ("structure", "0003_name_validators"),
    ]

    operations = [
        migrations.AddField(
            model_name="resource",
            name="sort_customer_name",
            field=models.CharField(blank=True, editable=False, max_length=150, null=True),
        ),
        migrations.AddField(
            model_name="resource",
            name="sort_project_name",
            field=models.CharField(blank=True, editable=False, max_length=500, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="resource",
            index=models.Index(
                fields=["sort_customer_name", "sort_project_name", "name", "id", "offering", "live_from"],
                name="resource_coverage_order",
            ),
        ),
    ]
