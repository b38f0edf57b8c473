"""Rows that are written once and then only read: the base of every history table.

`AppendOnlyModel` and its queryset refuse updates and deletes in code; each app's migration adds database
triggers (`trigger_statements`) that refuse them whoever asks, raw SQL and the admin included. Only
`efp flush` (tests' TransactionTestCase) empties such tables (docs/architecture.md, "History").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from django.db import models

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION efp_refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END
$$
"""


def trigger_statements(vendor: str, tables: tuple[str, ...], create: bool) -> list[str]:
    """SQL that makes `tables` refuse UPDATE and DELETE (or, `create=False`, stops refusing)."""
    sql: list[str] = []
    if vendor == "postgresql":
        if create:
            sql.append(POSTGRES_FUNCTION)
        for table in tables:
            sql.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            if create:
                sql.append(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                    " FOR EACH ROW EXECUTE FUNCTION efp_refuse_history_change()"
                )
    elif vendor == "sqlite":
        for table in tables:
            for op in ("update", "delete"):
                sql.append(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
                if create:
                    sql.append(
                        f"CREATE TRIGGER {table}_no_{op} BEFORE {op.upper()} ON {table}"
                        f" WHEN efp_history_locked() BEGIN"
                        f" SELECT RAISE(ABORT, '{table} is append-only: {op.upper()} refused'); END"
                    )
    return sql


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
