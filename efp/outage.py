"""A database that cannot be reached (a restart, a failover, a full connection table) is an outage, not a
bug: every request that meets it is answered 503 with `Retry-After` (JSON under /api/, a page in the GUI)
instead of 500, and logged in one line. Django's connection health checks (settings `CONN_HEALTH_CHECKS`)
drop a connection that died while idle before a request uses it, so the service recovers by itself once
the database answers again. Expected refusals (401, 403, 404, 405, 409, 429) are logged in one line too.
"""

from __future__ import annotations

import logging
import sqlite3

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

RETRY_AFTER_SECONDS = 5
MESSAGE = "The service cannot reach its database just now; please try again in a few seconds."
# Refusals a client is expected to cause: a line each in the log, never a traceback.
ONE_LINE_STATUSES = frozenset({401, 403, 404, 405, 409, 429, 503})
# SQLite says OperationalError of a missing table or a syntax error too: those are bugs (500), not outages.
SQLITE_OUTAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database",
    "disk i/o error",
)


def is_outage(exc: BaseException | None) -> bool:
    """An error of reaching or keeping the database (psycopg's and sqlite3's OperationalError, a closed
    connection's InterfaceError), as Django wraps them."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.__cause__, sqlite3.Error):
        return str(exc).lower().startswith(SQLITE_OUTAGES)
    return True


def json_response() -> JsonResponse:
    response = JsonResponse({"detail": MESSAGE}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_response() -> HttpResponse:
    # Rendered without the request: its context processors would read the session, i.e. the database.
    response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def response(*, api: bool) -> HttpResponse:
    return json_response() if api else page_response()


class OneLineRefusals(logging.Filter):
    """On the `django.request` logger: a refusal's record keeps its line and loses the traceback Django
    attaches to some of them (a GUI view's PermissionDenied, an outage's OperationalError), whose text is
    appended instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in ONE_LINE_STATUSES and record.exc_info:
            exc = record.exc_info[1]
            record.msg = record.getMessage() + (
                f" ({type(exc).__name__}: {exc})".replace("\n", " ") if exc else ""
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True
