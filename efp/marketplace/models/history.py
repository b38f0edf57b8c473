"""History that nothing erases: the append-only base of the event tables, and the tombstone.

Event rows (`OrderEvent`, `ResourceEvent`, `UsageRevision`) and `Tombstone` rows are written once by the
services and never updated or deleted (docs/architecture.md, "History"). This module refuses it in
code; migration 0005 refuses it in the database as well (triggers on SQLite and PostgreSQL), so raw SQL
and the admin cannot either. Only `manage.py flush` (tests' TransactionTestCase) empties them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

APPEND_ONLY_TABLES = (
    "marketplace_orderevent",
    "marketplace_resourceevent",
    "marketplace_usagerevision",
    "marketplace_tombstone",
)


def register_sqlite_lock(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: the SQLite triggers of migration 0005 ask `efp_history_locked()`."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "efp_history_locked", 0, lambda: 0 if getattr(connection, "efp_erasing_history", False) else 1
        )


@contextmanager
def erasing_history(connection: Any) -> Iterator[None]:
    """Lets this connection empty the history tables (SQLite); for `manage.py flush` only."""
    connection.efp_erasing_history = True
    try:
        yield
    finally:
        connection.efp_erasing_history = False


class AppendOnlyError(Exception):
    """A programming error: code tried to change or delete a row of history."""


def _refuse(what: str) -> NoReturn:
    raise AppendOnlyError(f"History is append-only: {what} is refused.")


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:
        _refuse(f"updating {self.model.__name__} rows")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"updating {self.model.__name__} rows")

    def delete(self) -> NoReturn:
        _refuse(f"deleting {self.model.__name__} rows")

    def _raw_delete(self, using: Any) -> NoReturn:
        _refuse(f"deleting {self.model.__name__} rows")


class AppendOnlyModel(models.Model):
    """Rows are inserted, then only read."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse(f"saving an existing {type(self).__name__}")
        kwargs["force_insert"] = True  # a new object given an existing pk must not overwrite that row
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"deleting a {type(self).__name__}")


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
