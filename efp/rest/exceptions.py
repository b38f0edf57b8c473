"""Maps domain errors to Waldur's status codes and DRF error shapes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpResponse
from rest_framework import status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from efp import errors as domain
from efp import outage


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    if isinstance(exc, domain.StateConflict):
        return Response({"detail": ErrorDetail(str(exc), code="conflict")}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, domain.NotSupported):
        return Response({"detail": str(exc)}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, domain.Forbidden):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, domain.InvalidInput):
        return Response(exc.as_data(), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response(exc.messages, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        # A concurrent write won a uniqueness race; the caller may simply retry.
        return Response(
            {"detail": "The object was changed by another request; please retry."},
            status=status.HTTP_409_CONFLICT,
        )
    if outage.is_outage(exc):
        return outage.json_response()  # the one 503 answer, also served by urls.server_error
    return drf_exception_handler(exc, context)
