"""Hand-written SQL that reads and writes what the ORM would, for the few paths hot enough to need it.

Compiling a queryset costs more than the database spends on a small statement. These helpers let a hot
path write its SQL by hand and still get the ORM's values:
- `Column` names the model field a selected column holds, and `convert` applies that field's database
  converters (the backend's, then the field's), so SQLite's strings become the same datetimes, decimals,
  UUIDs and booleans PostgreSQL returns, and `by_column` reads a row by its columns, not by position;
- `update_row` and `insert_row` prepare every value with its field, as `QuerySet.update()` and
  `Model.save()` do (no signals: the project has none on these paths).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Column:
    """One selected column: its SQL expression and the model field whose value it is."""

    sql: str
    model: type[Model]
    field: str

    def model_field(self) -> Field[Any, Any]:
        return self.model._meta.get_field(self.field)  # type: ignore[return-value]


@functools.cache
def _converters(vendor: str, columns: tuple[Column, ...]) -> list[tuple[int, Col, list[Converter]]]:
    """The converters the ORM's compiler applies to each column on this backend (only the columns that
    have any; none at all on PostgreSQL for the usual types)."""
    found = []
    for index, column in enumerate(columns):
        expression = Col("t", column.model_field())
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if converters:
            found.append((index, expression, converters))
    return found


def convert(rows: list[tuple[Any, ...]], columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    """Rows of `columns` as the ORM would return them (see the module's docstring)."""
    converters = _converters(connection.vendor, columns)
    if not converters:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for index, expression, functions in converters:
            value = values[index]
            for function in functions:
                value = function(value, expression, connection)
            values[index] = value
        converted.append(tuple(values))
    return converted


def by_column(rows: list[tuple[Any, ...]], columns: tuple[Column, ...]) -> list[dict[Column, Any]]:
    """Rows of `columns` as the ORM would return them, each read by its `Column` rather than by position."""
    return [dict(zip(columns, row, strict=True)) for row in convert(rows, columns)]


def table_name(model: Any) -> str:
    """The model's table, quoted for this backend."""
    return connection.ops.quote_name(model._meta.db_table)


def update_row(model: Any, pk: int, **values: Any) -> None:
    """`model.objects.filter(pk=pk).update(**values)` as one hand-written UPDATE (model instances as
    their keys, every value prepared by its field as the ORM prepares it)."""
    fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in values]
    assignments = ", ".join(f"{connection.ops.quote_name(str(field.column))} = %s" for field in fields)
    params = [
        field.get_db_prep_save(value.pk if isinstance(value, Model) else value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table_name(model)} SET {assignments} WHERE id = %s", [*params, pk])  # noqa: S608


def update_each(model: Any, name: str, values: dict[int, Any], **same: Any) -> None:
    """`bulk_update` of one field as one hand-written UPDATE: row `pk` takes `values[pk]` for `name`, and
    every row the values of `same`. Django's bulk_update builds and compiles a CASE expression object per
    row and field (most of a 20-user usage report's CPU). Values prepared by their fields, as there."""
    if not values:
        return
    field = cast("Field[Any, Any]", model._meta.get_field(name))
    cast_to = field.db_type(connection)
    cases = " ".join(f"WHEN %s THEN CAST(%s AS {cast_to})" for _ in values)
    params: list[Any] = []
    for pk, value in values.items():
        params += [pk, field.get_db_prep_save(value, connection)]
    others = [cast("Field[Any, Any]", model._meta.get_field(other)) for other in same]
    assignments = "".join(f", {connection.ops.quote_name(str(other.column))} = %s" for other in others)
    params += [
        other.get_db_prep_save(value, connection) for other, value in zip(others, same.values(), strict=True)
    ]
    keys, key_params = one_of("id", list(values))
    column = connection.ops.quote_name(str(field.column))
    sql = f"UPDATE {table_name(model)} SET {column} = CASE id {cases} END{assignments} WHERE {keys}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *key_params])


def insert_row(row: Model) -> None:
    """`row.save()` of a new row as one hand-written INSERT: every column but the automatic key, with the
    value the ORM would write (defaults applied when the instance was made). The key is not read back."""
    meta = row._meta
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table_name(type(row))} ({columns}) VALUES ({marks})", params)  # noqa: S608


def one_of(column: str, values: list[Any]) -> tuple[str, list[Any]]:
    """`column IN (values)` as SQL with one parameter however many values there are (an array on
    PostgreSQL, a JSON list on SQLite), so a batch of thousands of keys is one short statement. `values`
    as the database stores them (`Field.get_db_prep_value`); an empty list matches nothing."""
    if not values:
        return "1 = 0", []
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(values), default=str)]  # noqa: S608


def insert_many(model: Any, fields: list[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERTs of many rows at once, without a model instance or a compiled statement per row: COPY on
    PostgreSQL, `executemany` on SQLite. `rows` hold the values of `fields` as the database takes them
    (`prepare(model, field)` makes the function that prepares one). Keys are not read back."""
    if not rows:
        return
    names = [
        connection.ops.quote_name(str(cast("Field[Any, Any]", model._meta.get_field(name)).column))
        for name in fields
    ]
    columns = ", ".join(names)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table_name(model)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table_name(model)} ({columns}) VALUES ({marks})"  # noqa: S608
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


def prepare(model: Any, name: str) -> Callable[[Any], Any]:
    """The function that turns a value of `model.name` into what the database takes, as the ORM saves it."""
    field = cast("Field[Any, Any]", model._meta.get_field(name))
    return functools.partial(field.get_db_prep_save, connection=connection)
