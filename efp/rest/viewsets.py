"""Base viewsets: uuid lookup (dashed or hex, malformed → 404) and HEAD answering the count."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from django.http import Http404, StreamingHttpResponse
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from efp.rest import csv_export
from efp.rest.pagination import LinkHeaderPagination, counted
from efp.rest.sqlrows import SqlRows


class UUIDLookupMixin:
    lookup_field = "uuid"
    lookup_value_regex = "[^/]+"

    def get_object(self) -> Any:
        raw = self.kwargs.get(self.lookup_field)  # type: ignore[attr-defined]
        try:
            key = uuid.UUID(str(raw))
        except ValueError as error:
            raise Http404 from error
        queryset = self.filter_object_queryset(self.get_queryset())  # type: ignore[attr-defined]
        obj = queryset.filter(uuid=key).first()
        if obj is None:
            model = queryset.model._meta.object_name
            raise Http404(f"No {model} matches the given query.")
        self.check_object_permissions(self.request, obj)  # type: ignore[attr-defined]
        return obj

    def filter_object_queryset(self, queryset: Any) -> Any:
        return queryset


class CsvListMixin:
    """`?format=csv`: every row of a list, streamed (efp.rest.csv_export)."""

    def csv(self, rows: Any, serializer_class: Any) -> StreamingHttpResponse:
        context = self.get_serializer_context()  # type: ignore[attr-defined]
        return csv_export.serialized(
            rows,
            lambda chunk: serializer_class(chunk, many=True, context=context).data,
            header=list(serializer_class(context=context).fields),
            filename=self.basename,  # type: ignore[attr-defined]
        )


class CountingListMixin(CsvListMixin, mixins.ListModelMixin):
    """GET lists a page (`?format=csv`: every row); HEAD answers only the count in `X-Result-Count`."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(counted(queryset, self))})
        if csv_export.wants_csv(request):
            return self.csv(queryset, self.get_serializer_class())  # type: ignore[attr-defined]
        page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
        serializer = self.get_serializer(page, many=True)  # type: ignore[attr-defined]
        return self.get_paginated_response(serializer.data)  # type: ignore[attr-defined]


class ReadOnlyViewSet(UUIDLookupMixin, CountingListMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = LinkHeaderPagination

    def count_fast_path(self) -> Callable[[], int] | None:
        """How to count this request's list without counting its rows (a maintained tally), or None to
        count them. Asked by the pagination and HEAD once the filters have been validated."""
        return None

    def paged(self, request: Request, queryset: Any, serializer_class: Any) -> Any:
        """A list action answered like a list: a page with the Link headers (CSV: every row), or for HEAD
        only the count."""
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(queryset.count())})
        if csv_export.wants_csv(request):
            return self.csv(queryset, serializer_class)
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def sql_paged(self, rows: SqlRows) -> Any:
        """A list answered from hand-written SQL (efp.rest.sqlrows), paginated like every other list
        (CSV: every row, from the same fields)."""
        if csv_export.wants_csv(self.request):
            return csv_export.stream(rows.chunks(csv_export.CHUNK), header=rows.keys, filename=self.basename)
        if self.count_fast_path() is not None:
            rows.count_with_page = False  # the pagination asks the fast path instead
        page = self.paginate_queryset(cast(Any, rows))
        return self.get_paginated_response(page)


def acting_user(request: Any) -> Any:
    """The authenticated user of a request (views run behind IsAuthenticated, so never anonymous)."""
    return request.user
