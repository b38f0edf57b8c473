"""The answer to a login attempt while its username and address are locked out (django-axes)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from efp.request_size import API_PREFIXES


def lockout_message() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return f"Too many failed login attempts. Try again in {minutes} minutes."


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """429 with Retry-After: JSON for the token endpoint, the login page with the reason for the GUI."""
    message = lockout_message()
    if request.path.startswith(API_PREFIXES):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "web/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
