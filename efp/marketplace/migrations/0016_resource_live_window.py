"""Usage coverage flat in the data (issue 18): each resource's live window stored on it (`live_from`,
`live_until`, kept by the transitions), indexed with its offering, and backfilled from the resource events
exactly as coverage.py computed it until now."""

from django.db import migrations, models
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The window the coverage rule derived from the events: from `created` if the resource was ever
    activated (an event to OK; without any event, bulk-loaded: unless still Creating), until its first move
    to Terminated (without that event: `modified`, if Terminated)."""
    Resource = apps.get_model("marketplace", "Resource")
    ResourceEvent = apps.get_model("marketplace", "ResourceEvent")
    events = ResourceEvent.objects.filter(resource_id=OuterRef("pk"))
    activated = Exists(events.filter(new_state="OK")) | (~Exists(events) & ~Q(state="Creating"))
    terminated = events.filter(new_state="Terminated").order_by("created", "pk").values("created")
    Resource.objects.update(
        live_from=Case(When(activated, then=F("created"))),
        live_until=Coalesce(Subquery(terminated[:1]), Case(When(state="Terminated", then=F("modified")))),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0015_list_pages"),
    ]

    operations = [
        migrations.AddField(
            model_name="resource",
            name="live_from",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="resource",
            name="live_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # A restored resource's months wholly terminated (none before restores existed: nothing to backfill).
        migrations.AddField(
            model_name="resource",
            name="gap_from",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="resource",
            name="gap_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name="resource",
            index=models.Index(fields=["offering", "live_from", "live_until"], name="resource_live_window"),
        ),
    ]
