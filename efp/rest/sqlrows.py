"""A page source for `LinkHeaderPagination` written as SQL, for the few lists that are hot enough.

Building a queryset, letting django-filter and the ORM compile it and rendering model instances through
a serializer costs several times what the database spends on a small page. `SqlRows` runs one
hand-written query for the page (and one for the count, when the pagination needs it) and renders each
row with a plain function. Values come back as the ORM would return them (efp.rawsql.convert).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

from efp.rawsql import Column, convert


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
        return [self.render(row) for row in convert(rows, self.columns)]

    def count(self) -> int:
        if self._count is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) {self.from_where}", self.params)
                self._count = int(cursor.fetchone()[0])
        return self._count
