"""Bulk writing: keys taken ahead, rows written with COPY (PostgreSQL) or bulk_create, the model's
defaults filled in for the columns not given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, models

BATCH = 20_000
# "table.column" of the uuid columns PostgreSQL fills itself during `bulk_load` (gen_random_uuid()).
_UUIDS_IN_DATABASE: set[str] = set()


def _uuid_columns(model: type[models.Model]) -> list[str]:
    """The columns a new uuid is made for, row by row (UUIDField(default=uuid4))."""
    return [
        f.attname
        for f in model._meta.concrete_fields
        if isinstance(f, models.UUIDField) and f.has_default() and not f.primary_key
    ]


def _defaults(model: type[models.Model], given: Sequence[str]) -> tuple[list[str], list[Any], list[str]]:
    """Of every concrete column not given: (columns that take the model's constant default, those
    defaults, columns that take a new uuid a row). The primary key is the table's own."""
    constant_names: list[str] = []
    constants: list[Any] = []
    uuids = _uuid_columns(model)
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.attname in given or model_field.attname in uuids:
            continue
        constant_names.append(model_field.attname)
        constants.append(model_field.get_default())
    return constant_names, constants, [name for name in uuids if name not in given]


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
    constant_names, constants, uuids = _defaults(model, columns)
    if connection.vendor == "postgresql":
        return _copy(model, [*columns, *constant_names], constants, uuids, rows)
    names = [*columns, *constant_names, *uuids]
    count = 0
    batch: list[models.Model] = []
    for row in rows:
        values = [*row, *constants, *(uuid.uuid4() for _ in uuids)]
        batch.append(model(**dict(zip(names, values, strict=True))))
        count += 1
        if len(batch) >= BATCH:
            model._default_manager.bulk_create(batch)
            batch = []
    if batch:
        model._default_manager.bulk_create(batch)
    return count


def _copy(
    model: type[models.Model],
    names: list[str],
    constants: list[Any],
    uuids: list[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """COPY in PostgreSQL's binary format, each value dumped by its column's type (Python dicts into jsonb
    included). Inside `bulk_load` the uuids are made by the database; elsewhere here, one a row."""
    table = model._meta.db_table
    made_here = [name for name in uuids if f"{table}.{name}" not in _UUIDS_IN_DATABASE]
    names = [*names, *made_here]
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [table],
        )
        type_of = dict(cursor.fetchall())
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f'COPY "{table}" ({quoted}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([type_of[name] for name in names])
            tail = tuple(constants)
            for row in rows:
                if made_here:
                    copy.write_row((*row, *tail, *(uuid.uuid4() for _ in made_here)))
                else:
                    copy.write_row((*row, *tail))
                count += 1
    return count


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


@contextmanager
def bulk_load(tables: Sequence[type[models.Model]]) -> Iterator[None]:
    """The one place the seed loads its volume: on PostgreSQL, the secondary indexes and the unique
    constraints of `tables` (their primary keys and anything a foreign key points at aside) are dropped
    for the load and built again after it, each in one pass over the table, in the seed's transaction:
    keeping a dozen B-trees up to date row by row (random uuids among them) costs more than the load
    itself at 100,000 resources. If the load fails, the transaction's rollback brings them back.
    Their uuid columns take gen_random_uuid() as a default for the load (cheaper than uuid4 in Python)."""
    if connection.vendor != "postgresql":
        yield
        return
    rebuild: list[str] = []
    made_by_database: list[str] = []
    with connection.cursor() as cursor:
        # Index builds sort in memory rather than on disk; the setting ends with the transaction.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for model in tables:
            table = connection.ops.quote_name(model._meta.db_table)
            for column in _uuid_columns(model):
                quoted = connection.ops.quote_name(column)
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {quoted} SET DEFAULT gen_random_uuid()")
                rebuild.append(f"ALTER TABLE {table} ALTER COLUMN {quoted} DROP DEFAULT")
                made_by_database.append(f"{model._meta.db_table}.{column}")
            cursor.execute(_UNIQUE_CONSTRAINTS, [model._meta.db_table])
            for name, definition in cursor.fetchall():
                quoted = connection.ops.quote_name(name)
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quoted}")
                rebuild.append(f"ALTER TABLE {table} ADD CONSTRAINT {quoted} {definition}")
            cursor.execute(_PLAIN_INDEXES, [model._meta.db_table])
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                rebuild.append(definition)
    _UUIDS_IN_DATABASE.update(made_by_database)
    try:
        yield
    finally:
        _UUIDS_IN_DATABASE.difference_update(made_by_database)
    with connection.cursor() as cursor:
        for statement in rebuild:
            cursor.execute(statement)


# Unique constraints no foreign key relies on (the primary key is not among them: contype 'p').
_UNIQUE_CONSTRAINTS = """
SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
WHERE c.conrelid = %s::regclass AND c.contype = 'u'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
ORDER BY c.conname
"""
# Indexes that belong to no constraint (Django's Index, db_index, foreign keys), other than partial and
# expression indexes: PostgreSQL prints their predicates back in another spelling than the migration's
# (the same rule, another text), and they hold few rows (order_active_by_resource) or none, so they stay.
_PLAIN_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = %s::regclass AND x.indpred IS NULL AND x.indexprs IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY i.relname
"""
