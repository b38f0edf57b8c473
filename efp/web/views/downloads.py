"""Download CSV on the GUI's lists: every row the page lists, with its filters and in its order (not only
the page shown), streamed by the API's writer (efp.rest.csv_export: chunks of rows, objects as JSON text,
formula-like cells quoted). A list view answers `?format=csv` with `download(...)` of its filtered queryset;
its template links to `{% querystring format="csv" page=None %}`.

The columns of resources and orders are written once here, for the provider's and the consumer's lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from efp.marketplace.models import Order, Resource
from efp.rest import csv_export

Column = tuple[str, Callable[[Any], Any]]


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def download(rows: QuerySet[Any], columns: Sequence[Column], *, filename: str) -> StreamingHttpResponse:
    """`rows` (built with the select_related its columns read) as a CSV file, one line per row."""
    return csv_export.serialized(
        rows,
        lambda chunk: [{name: value(row) for name, value in columns} for row in chunk],
        header=[name for name, _ in columns],
        filename=filename,
    )


def _username(user: Any) -> str | None:
    return None if user is None else str(user.username)


RESOURCE_COLUMNS: list[Column] = [
    ("uuid", lambda r: r.uuid.hex),
    ("name", lambda r: r.name),
    ("backend_id", lambda r: r.backend_id),
    ("offering", lambda r: r.offering.name),
    ("organisation", lambda r: r.project.customer.name),
    ("project", lambda r: r.project.name),
    ("plan", lambda r: r.plan.name if r.plan else None),
    ("state", lambda r: r.state),
    ("limits", lambda r: r.limits),
    ("current_usages", lambda r: r.current_usages),
    ("end_date", lambda r: r.end_date),
    ("created", lambda r: r.created),
]

ORDER_COLUMNS: list[Column] = [
    ("uuid", lambda o: o.uuid.hex),
    ("created", lambda o: o.created),
    ("type", lambda o: o.type),
    ("state", lambda o: o.state),
    ("offering", lambda o: o.offering.name),
    ("organisation", lambda o: o.project.customer.name),
    ("project", lambda o: o.project.name),
    ("resource", lambda o: o.resource.name if o.resource else (o.attributes or {}).get("name")),
    ("plan", lambda o: o.plan.name if o.plan else None),
    ("limits", lambda o: o.limits),
    ("created_by", lambda o: _username(o.created_by)),
    ("consumer_reviewed_at", lambda o: o.consumer_reviewed_at),
    ("provider_reviewed_at", lambda o: o.provider_reviewed_at),
    ("completed_at", lambda o: o.completed_at),
    ("error_message", lambda o: o.error_message),
]


def resources_csv(rows: QuerySet[Resource], *, filename: str) -> StreamingHttpResponse:
    return download(rows, RESOURCE_COLUMNS, filename=filename)


def orders_csv(rows: QuerySet[Order], *, filename: str) -> StreamingHttpResponse:
    return download(rows, ORDER_COLUMNS, filename=filename)
