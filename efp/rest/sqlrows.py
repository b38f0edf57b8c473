"""A page source for `LinkHeaderPagination` written as SQL, for the few lists that are hot enough.

Building a queryset, letting django-filter and the ORM compile it and rendering model instances through
a serializer costs several times what the database spends on a small page. `SqlRows` runs one
hand-written query for the page (and one for the count, when the pagination needs it) and renders each
row with a plain function. Values come back as the ORM would return them: every column names the model
field it reads, and that field's database converters (the backend's, then the field's) are applied, so
SQLite's strings become the same datetimes, decimals, UUIDs and booleans PostgreSQL returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


class SqlRows:
    """`rows[a:b]` runs the page query with LIMIT/OFFSET and renders its rows; `rows.count()` counts.

    `from_where`: the FROM and WHERE clauses with `%s` placeholders for `params`; `order_by` must end in a
    unique column so pages never overlap.
    """

    def __init__(
        self,
        *,
        columns: tuple[Column, ...],
        from_where: str,
        params: Sequence[Any],
        order_by: str,
        render: Callable[[tuple[Any, ...]], dict[str, Any]],
    ) -> None:
        self.columns = columns
        self.from_where = from_where
        self.params = list(params)
        self.order_by = order_by
        self.render = render
        self._count: int | None = None

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        """The rows of `page`; the first page also counts every row in the same statement, as the
        pagination asks for the count whenever that page is full."""
        start = page.start or 0
        if page.stop is None or page.step is not None or page.stop <= start:
            raise ValueError("SqlRows takes a bounded slice")
        select = ", ".join(column.sql for column in self.columns)
        params = list(self.params)
        if start == 0:
            select = f"{select}, (SELECT COUNT(*) {self.from_where})"
            params = [*params, *params]
        sql = f"SELECT {select} {self.from_where} ORDER BY {self.order_by} LIMIT %s OFFSET %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, page.stop - start, start])
            rows = cursor.fetchall()
        if start == 0:
            self._count = int(rows[0][-1]) if rows else 0
            rows = [row[:-1] for row in rows]
        converters = _converters(connection.vendor, self.columns)
        if converters:
            rows = [self._convert(row, converters) for row in rows]
        return [self.render(row) for row in rows]

    def count(self) -> int:
        if self._count is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) {self.from_where}", self.params)
                self._count = int(cursor.fetchone()[0])
        return self._count

    @staticmethod
    def _convert(row: tuple[Any, ...], converters: list[tuple[int, Col, list[Converter]]]) -> tuple[Any, ...]:
        values = list(row)
        for index, expression, functions in converters:
            value = values[index]
            for function in functions:
                value = function(value, expression, connection)
            values[index] = value
        return tuple(values)
