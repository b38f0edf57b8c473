"""Bulk writing: keys taken ahead, rows written with COPY (PostgreSQL) or bulk_create, the model's
defaults filled in for the columns not given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

BATCH = 20_000


def _defaults(model: type[models.Model], given: Sequence[str]) -> list[tuple[str, Callable[[], Any]]]:
    """(column, value maker) of every concrete column not given: the model's own defaults."""
    makers: list[tuple[str, Callable[[], Any]]] = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.attname in given:
            continue
        if isinstance(model_field, models.UUIDField) and model_field.has_default():
            makers.append((model_field.attname, uuid.uuid4))
            continue
        makers.append((model_field.attname, _constant(model_field.get_default())))
    return makers


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys for `count` new rows, taken from the table's sequence (PostgreSQL) or past the max."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [key for (key,) in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - our own table name
        (largest,) = cursor.fetchone()
        start = largest + 1
    return list(range(start, start + count))


def insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Writes rows (values in `columns` order, `id` among them) with the model's defaults for the rest."""
    makers = _defaults(model, columns)
    names = [*columns, *(name for name, _ in makers)]
    count = 0
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        json_at = [
            i
            for i, name in enumerate(names)
            if isinstance(model._meta.get_field(_field_name(model, name)), models.JSONField)
        ]
        quoted = ", ".join(connection.ops.quote_name(name) for name in names)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f'COPY "{model._meta.db_table}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    values = [*row, *(make() for _, make in makers)]
                    for i in json_at:
                        if values[i] is not None:
                            values[i] = Jsonb(values[i])
                    copy.write_row(values)
                    count += 1
        return count
    batch: list[models.Model] = []
    for row in rows:
        values = [*row, *(make() for _, make in makers)]
        batch.append(model(**dict(zip(names, values, strict=True))))
        count += 1
        if len(batch) >= BATCH:
            model._default_manager.bulk_create(batch)
            batch = []
    if batch:
        model._default_manager.bulk_create(batch)
    return count


def _field_name(model: type[models.Model], attname: str) -> str:
    for model_field in model._meta.concrete_fields:
        if model_field.attname == attname:
            return model_field.name
    raise LookupError(attname)


def skip_deferred_foreign_key_checks() -> None:
    """Every key the seed writes comes from the rows it wrote just before (the SQLite run of the tests
    checks them at commit). On PostgreSQL, re-checking millions of them one by one at commit takes longer
    than writing them, so a superuser skips the check for this transaction; anyone else just waits."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (superuser,) = cursor.fetchone()  # the current role has a row, always
        if superuser:
            cursor.execute("SET LOCAL session_replication_role = replica")
