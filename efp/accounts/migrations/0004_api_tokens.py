"""API tokens stored as digests, several per user; DRF's authtoken keys are carried over and its table goes."""

import hashlib
import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OLD_TABLE = "authtoken_token"


def carry_over(apps, schema_editor):
    """Each old key keeps working as a token named `migrated`; its last use is the old `created` (which a
    sliding lifetime refreshed on every request)."""
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {OLD_TABLE}")  # noqa: S608 - a fixed name
        rows = cursor.fetchall()
    ApiToken.objects.bulk_create(
        ApiToken(
            uuid=uuid.uuid4(),
            user_id=user_id,
            name="migrated",
            digest=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:8],
            created=created,
            last_used=created,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {OLD_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_token_lifetime"),
        ("marketplace", "0018_agent_queues"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("name", models.CharField(max_length=150)),
                ("digest", models.CharField(help_text="SHA-256 of the key, in hex.", max_length=64, unique=True)),
                ("prefix", models.CharField(help_text="The key's first characters, to tell tokens apart.", max_length=8)),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires", models.DateTimeField(blank=True, null=True)),
                ("last_used", models.DateTimeField(blank=True, null=True)),
                ("last_used_from", models.CharField(blank=True, default="", max_length=45)),
                ("revoked", models.DateTimeField(blank=True, null=True)),
                (
                    "offering",
                    models.ForeignKey(
                        blank=True,
                        help_text="If set, the token may only read this offering and report its usage (a site agent).",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="marketplace.offering",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ("-created", "-pk")},
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
    ]
