"""`?format=csv` on every list of the API (docs/compatibility.md, "CSV out").

DRF's own format switch chooses the renderer: `?format=csv` (or `Accept: text/csv`, or the `.csv` suffix)
selects `CsvRenderer`; an unknown format stays DRF's JSON 404. A list that sees the CSV renderer chosen
(`wants_csv`) answers with `stream()`: the same filtered, ordered rows as its JSON pages, every one of them
(no pagination), fetched `CHUNK` rows at a time and written as they come (`StreamingHttpResponse`).
Each chunk is rendered as the JSON list renders a page (its serializer with `many=True`, or a fast path's
`Fields`), so the query count grows with the chunks, never with the rows.

Columns: the list's JSON keys in its order (the serializer's fields, `field=` respected), one header row.
Values are written as in JSON: strings and numbers as they are, `true`/`false`, an empty cell for null,
and nested objects and lists as compact JSON text (their keys vary from row to row, so dotted columns
would not give every row the same header). A text cell that a spreadsheet would run as a formula (starting
with `=`, `+`, `-`, `@`, tab or CR, and not a number) gets a leading `'`.

Every other answer (a detail, an action, any error) stays JSON, whatever the format asked for."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import chain, islice
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

CHUNK = 500
MEDIA_TYPE = "text/csv"

Row = dict[str, Any]


class CsvRenderer(BaseRenderer):
    """Lists as CSV; anything else (a detail, an error) as JSON with a JSON content type."""

    media_type = MEDIA_TYPE
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> Any:
        response = (renderer_context or {}).get("response")
        rows = data if isinstance(data, list) and all(isinstance(row, dict) for row in data) else None
        if rows is None or (response is not None and response.status_code >= 400):
            if response is not None:
                response["Content-Type"] = "application/json"
            return JSONRenderer().render(data, "application/json", renderer_context)
        return "".join(_lines(iter([rows]), header=()))


def wants_csv(request: Any) -> bool:
    """Whether content negotiation chose CSV for this request."""
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", None) == CsvRenderer.format


def chunks(rows: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """A queryset's rows `size` at a time (a server-side cursor on PostgreSQL), or any iterable's."""
    iterator = rows.iterator(chunk_size=size) if hasattr(rows, "iterator") else iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def stream(pages: Iterable[Sequence[Row]], *, header: Sequence[str], filename: str) -> StreamingHttpResponse:
    """A CSV download of the rendered rows in `pages` (chunks, each rendered at once).

    `header`: the list's keys; keys a row adds beyond them (found in the first row) are appended."""
    response = StreamingHttpResponse(
        _lines(iter(pages), header=header), content_type=f"{MEDIA_TYPE}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def serialized(
    rows: Iterable[Any], render: Callable[[list[Any]], Sequence[Row]], *, header: Sequence[str], filename: str
) -> StreamingHttpResponse:
    """`stream()` of model rows rendered chunk by chunk (`render`: a serializer with `many=True`)."""
    return stream((render(chunk) for chunk in chunks(rows)), header=header, filename=filename)


class _Line:
    """The file-like object `csv.writer` writes one line into."""

    def write(self, text: str) -> str:
        return text


def _lines(pages: Iterator[Sequence[Row]], *, header: Sequence[str]) -> Iterator[str]:
    writer = csv.writer(_Line())
    first: Sequence[Row] = next(pages, [])
    keys = list(dict.fromkeys([*header, *(first[0] if first else ())]))
    yield writer.writerow(keys)
    for page in chain([first], pages):
        for row in page:
            yield writer.writerow([cell(row.get(key)) for key in keys])


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ENCODER = JSONEncoder()


def cell(value: Any) -> str:
    """One value as a CSV cell (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)
    if not isinstance(value, str):  # what the JSON encoder writes as a string: datetimes, dates, UUIDs
        try:
            return cell(_ENCODER.default(value))
        except TypeError:
            return cell(str(value))
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
