"""`/api/marketplace-usage-coverage/` and `/api/marketplace-usage-reports/`: our read models of usage over a
range of months (docs/compatibility.md, "Usage coverage" and "Usage reports"); not Waldur routes.

Both read the resources whose usage the user may read (`selectors.usage_visible_resources`: as their
provider or as their consumer; staff all), computed in a fixed number of queries, paginated as every list.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import coverage, selectors, usage_reports
from efp.marketplace.api.reports.serializers import (
    CoverageRowSerializer,
    ReportQuery,
    UsageReportRowSerializer,
)
from efp.rest import csv_export
from efp.rest.pagination import LinkHeaderPagination


class Rows:
    """A computed list, paginated like a queryset."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __getitem__(self, key: slice) -> list[Any]:
        return self.items[key]

    def count(self) -> int:
        return len(self.items)


def _month(name: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, description="YYYY-MM (default: see docs/compatibility.md)"
    )


def _uuid(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.UUID)


class _RangeViewSet(viewsets.GenericViewSet):
    pagination_class = LinkHeaderPagination
    filter_backends: list[Any] = []
    scopes: tuple[str, ...] = ()

    def answer(self, request: Request, rows: list[Any]) -> Response | StreamingHttpResponse:
        if csv_export.wants_csv(request):  # every row, streamed (docs/compatibility.md, "CSV out")
            wire = (self.csv_row(row.as_wire()) for row in rows)
            fields = self.get_serializer_class()().fields  # type: ignore[attr-defined]
            header = [name for name in fields if name != "months"]
            return csv_export.stream(csv_export.chunks(wire), header=header, filename=self.basename)
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(len(rows))})
        page: list[Any] = self.paginate_queryset(Rows(rows)) or []  # type: ignore[arg-type]
        return self.get_paginated_response([row.as_wire() for row in page])

    def csv_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return row

    def query(self, request: Request) -> tuple[ReportQuery, Any]:
        query = ReportQuery.parse(request.query_params, self.scopes)
        return query, query.filter(selectors.usage_visible_resources(request.user))


class UsageCoverageViewSet(_RangeViewSet):
    """One row per resource live in the range: each month reported, missing or not due (`coverage.py`)."""

    serializer_class = CoverageRowSerializer
    scopes = ("offering_uuid", "customer_uuid", "project_uuid")

    def csv_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """In CSV each month of `months` is a column of its own (`YYYY-MM`), as in the GUI's matrix."""
        months = row.pop("months")
        return {**row, **months}

    @extend_schema(parameters=[_month("from"), _month("to"), *map(_uuid, scopes)])
    def list(self, request: Request) -> Response | StreamingHttpResponse:
        query, resources = self.query(request)
        return self.answer(request, coverage.coverage(resources, query.months))


class UsageReportViewSet(_RangeViewSet):
    """Usage and cost per organisation, project, offering, usage component and month (`usage_reports.py`)."""

    serializer_class = UsageReportRowSerializer
    scopes = ("offering_uuid", "customer_uuid", "project_uuid")

    @extend_schema(parameters=[_month("from"), _month("to"), *map(_uuid, scopes)])
    def list(self, request: Request) -> Response | StreamingHttpResponse:
        query, resources = self.query(request)
        return self.answer(request, usage_reports.report(resources, query.months))
