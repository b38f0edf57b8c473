"""A page source for `LinkHeaderPagination` written as SQL, for the few lists that are hot enough.

Building a queryset, letting django-filter and the ORM compile it and rendering model instances through
a serializer costs several times what the database spends on a small page. `SqlRows` runs one
hand-written query for the page (and one for the count, when the pagination needs it) and renders each
row from its `Fields`.

A hand-written page is declared once, one `PageField` per JSON key: the SQL expression it is read from,
the model field whose value that is (so values come back as the ORM would return them, efp.rawsql), and
how the value is written in JSON. The SELECT list and the rendering are both generated from that table,
so a field cannot be selected in one place and read by position in another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from django.db import connection
from django.db.models import Model

from efp.rawsql import Column, convert
from efp.rest.fields import absolute_url

# A value of a row (as the ORM returns it) and the request, to the value written in JSON.
ToJson = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class PageField:
    """One field of a hand-written page: JSON key, SQL expression, the model field it holds, writer."""

    key: str
    sql: str
    model: type[Model]
    field: str
    to_json: ToJson


class Fields:
    """The fields of a page, in the order its serializer writes them."""

    def __init__(self, *fields: PageField) -> None:
        self.fields = fields
        self.keys = tuple(field.key for field in fields)
        self.columns = tuple(Column(field.sql, field.model, field.field) for field in fields)
        self.select = ", ".join(field.sql for field in fields)

    def renderer(self, request: Any, only: set[str] | None) -> Callable[[Sequence[Any]], dict[str, Any]]:
        """Writes a row of `columns` as JSON, keeping only the keys named in `only` (all when None)."""
        kept = [only is None or key in only for key in self.keys]
        writers = [(field.key, field.to_json) for field in compress(self.fields, kept)]
        # Not strict: every row is the SELECT list made from these fields (strict zip doubles the cost).
        if only is None:

            def render(row: Sequence[Any]) -> dict[str, Any]:
                return {
                    key: to_json(value, request) for (key, to_json), value in zip(writers, row, strict=False)
                }

        else:

            def render(row: Sequence[Any]) -> dict[str, Any]:
                pairs = zip(writers, compress(row, kept), strict=False)
                return {key: to_json(value, request) for (key, to_json), value in pairs}

        return render


# --- JSON writers, by the serializer field each one stands for --------------------------------------


def as_is(value: Any, request: Any) -> Any:
    """DateTimeField, and what the JSON encoder writes as it is."""
    return value


def text(value: Any, request: Any) -> str | None:
    """CharField."""
    return None if value is None else str(value)


def hex_uuid(value: Any, request: Any) -> str | None:
    """HexUUIDField."""
    return None if value is None else str(value.hex)


def iso_date(value: Any, request: Any) -> str | None:
    """DateField."""
    return None if value is None else str(value.isoformat())


def flag(value: Any, request: Any) -> bool:
    """BooleanField."""
    return bool(value)


def integer(value: Any, request: Any) -> int | None:
    """IntegerField."""
    return None if value is None else int(value)


def link(view_name: str) -> ToJson:
    """LinkField: the absolute URL of the object whose uuid the column holds."""

    def to_json(value: Any, request: Any) -> str | None:
        return None if value is None else absolute_url(request, view_name, uuid=value.hex)

    return to_json


def representation(serializer_field: Any) -> ToJson:
    """Whatever a serializer field writes (DecimalField: its places and its string)."""
    write = serializer_field.to_representation
    return lambda value, request: write(value)


# --- the page source -------------------------------------------------------------------------------


class SqlRows:
    """`rows[a:b]` runs the page query with LIMIT/OFFSET and renders its rows; `rows.count()` counts.

    `from_where`: the FROM and WHERE clauses with `%s` placeholders for `params`; `order_by` must end in a
    unique column so pages never overlap. `only`: the keys the request asked for (`field=`), or None.
    """

    def __init__(
        self,
        *,
        fields: Fields,
        from_where: str,
        params: Sequence[Any],
        order_by: str,
        request: Any,
        only: set[str] | None = None,
    ) -> None:
        self.fields = fields
        self.from_where = from_where
        self.params = list(params)
        self.order_by = order_by
        self.render = fields.renderer(request, only)
        self.keys = [key for key in fields.keys if only is None or key in only]
        self._count: int | None = None
        # The first page counts every row in the same statement, unless the count comes from elsewhere.
        self.count_with_page = True

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        """The rows of `page`; the first page also counts every row in the same statement, as the
        pagination asks for the count whenever that page is full (unless `count_with_page` is off)."""
        start = page.start or 0
        if page.stop is None or page.step is not None or page.stop <= start:
            raise ValueError("SqlRows takes a bounded slice")
        select = self.fields.select
        params = list(self.params)
        with_count = start == 0 and self.count_with_page
        if with_count:
            select = f"{select}, (SELECT COUNT(*) {self.from_where})"
            params = [*params, *params]
        sql = f"SELECT {select} {self.from_where} ORDER BY {self.order_by} LIMIT %s OFFSET %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, page.stop - start, start])
            rows = cursor.fetchall()
        if with_count:  # the count closes every row
            self._count, counted = 0, rows
            rows = []
            for *values, count in counted:
                rows.append(tuple(values))
                self._count = int(count)
        return [self.render(values) for values in convert(rows, self.fields.columns)]

    def chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Every row, in order, rendered `size` at a time from one statement (a server-side cursor on
        PostgreSQL): what a CSV download streams."""
        sql = f"SELECT {self.fields.select} {self.from_where} ORDER BY {self.order_by}"
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, self.params)
            while rows := cursor.fetchmany(size):
                yield [self.render(values) for values in convert(rows, self.fields.columns)]

    def count(self) -> int:
        if self._count is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) {self.from_where}", self.params)
                (count,) = cursor.fetchone()
                self._count = int(count)
        return self._count
