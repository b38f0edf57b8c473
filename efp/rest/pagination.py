"""Waldur's pagination: a bare JSON array with `X-Result-Count` and a `Link` header."""

from __future__ import annotations

import math
from typing import Any

from django.core.paginator import InvalidPage
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 300


def counted(queryset: Any, view: Any) -> int:
    """The number of rows of a list: from the view's `count_fast_path` when it has one for this request
    (efp.marketplace.tallies), else by counting them."""
    hook = getattr(view, "count_fast_path", None)
    count = hook() if hook is not None else None
    return int(queryset.count() if count is None else count())


class LinkHeaderPagination(BasePagination):
    page_query_param = "page"
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        try:
            size = int(raw) if raw else DEFAULT_PAGE_SIZE
        except ValueError:
            size = DEFAULT_PAGE_SIZE
        return min(max(size, 1), MAX_PAGE_SIZE)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        self.page_size = self.get_page_size(request)
        raw_page = request.query_params.get(self.page_query_param) or "1"
        try:
            self.page = int(raw_page)
        except ValueError as error:
            raise NotFound("Invalid page.") from error
        if self.page == 1:
            rows = list(queryset[: self.page_size])
            # A first page that is not full holds every row: no need to count them.
            self.count = len(rows) if len(rows) < self.page_size else counted(queryset, view)
            self.pages = max(1, math.ceil(self.count / self.page_size))
            return rows
        self.count = counted(queryset, view)
        self.pages = max(1, math.ceil(self.count / self.page_size))
        if self.page < 1 or self.page > self.pages:  # before any OFFSET: a huge page number is a 404
            raise NotFound("Invalid page.") from InvalidPage()
        start = (self.page - 1) * self.page_size
        return list(queryset[start : start + self.page_size])

    def _page_url(self, number: int | None) -> str:
        url = self.request.build_absolute_uri()
        if number is None or (number == 1 and self.pages == 1):
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_headers(self) -> dict[str, str]:
        links = [f'<{self._page_url(None)}>; rel="first"']
        if self.page > 1:
            links.append(f'<{self._page_url(self.page - 1)}>; rel="prev"')
        if self.page < self.pages:
            links.append(f'<{self._page_url(self.page + 1)}>; rel="next"')
        last = None if self.pages == 1 else self.pages
        links.append(f'<{self._page_url(last)}>; rel="last"')
        return {"X-Result-Count": str(self.count), "Link": ", ".join(links)}

    def get_paginated_response(self, data: Any) -> Response:
        return Response(data, headers=self.get_headers())

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number within the paginated result set.",
                "schema": {"type": "integer"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
                "schema": {"type": "integer"},
            },
        ]
