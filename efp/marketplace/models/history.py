"""History that nothing erases: the append-only base of the event tables, and the tombstone.

Event rows (`OrderEvent`, `ResourceEvent`, `UsageRevision`) and `Tombstone` rows are written once by the
services and never updated or deleted (docs/architecture.md, "History"). This module refuses it in
code; migration 0005 refuses it in the database as well (triggers on SQLite and PostgreSQL), so raw SQL
and the admin cannot either. Only `manage.py flush` (tests' TransactionTestCase) empties them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from efp.append_only import AppendOnlyError, AppendOnlyModel, erasing_history, register_sqlite_lock

__all__ = [
    "APPEND_ONLY_TABLES",
    "AppendOnlyError",
    "AppendOnlyModel",
    "Tombstone",
    "erasing_history",
    "register_sqlite_lock",
]

APPEND_ONLY_TABLES = (
    "marketplace_orderevent",
    "marketplace_resourceevent",
    "marketplace_usagerevision",
    "marketplace_tombstone",
)


class Tombstone(AppendOnlyModel):
    """What was deleted (an order, a resource), by whom, when and why; written by the deleting service.

    `object_id` is the deleted row's primary key, which the events of that row still carry (`order_id`,
    `resource_id`): ids are never reused (AUTOINCREMENT on SQLite, sequences on PostgreSQL)."""

    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        RESOURCE = "resource", "Resource"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField()
    uuid = models.UUIDField()
    name = models.CharField(max_length=500, blank=True, default="")
    snapshot = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["kind", "object_id"]), models.Index(fields=["uuid"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid.hex} deleted {self.created:%Y-%m-%d %H:%M}"
