"""Request bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE get 413 before any view reads them; the file
upload routes of `EFP_IMPORT_PATHS` take bodies up to `EFP_MAX_IMPORT_BYTES` (their views check the file).

Django alone answers 400 to a large form and DRF's parsers read a JSON body without checking the size at
all; this middleware looks at Content-Length first, so a huge body is refused before it is read. A body
without Content-Length is never read by Django (WSGI gives it an empty stream), so it cannot get past.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIXES = ("/api/", "/api-auth/")


def too_large_message(size: int, limit: int) -> str:
    return f"Request body is too large: {size} bytes; the limit is {limit} bytes."


def body_limit(path: str) -> int | None:
    """The largest body `path` takes: an upload route's, or DATA_UPLOAD_MAX_MEMORY_SIZE."""
    if path in getattr(settings, "EFP_IMPORT_PATHS", ()):
        return int(settings.EFP_MAX_IMPORT_BYTES)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request.path)
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if limit is not None and size > limit:
            return self.refuse(request, size, limit)
        return self.get_response(request)

    def refuse(self, request: HttpRequest, size: int, limit: int) -> HttpResponse:
        message = too_large_message(size, limit)
        # The unread body stays on the connection; closing it keeps the next request from reading garbage.
        if request.path.startswith(API_PREFIXES):
            response: HttpResponse = JsonResponse({"detail": message}, status=413)
        else:
            response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        response["Connection"] = "close"
        return response
