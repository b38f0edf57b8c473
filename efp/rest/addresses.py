"""The client's address, and the address of the request being served for code that has no request.

No proxy is trusted with the address (no setting names one): it is `REMOTE_ADDR`, as for the login
throttling (docs/deploy.md says what that means behind a balancer). `CurrentAddressMiddleware` keeps it
for the request's duration, for services and signal receivers (the access audit) not handed the request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_current: ContextVar[str] = ContextVar("efp_client_address", default="")


def client_address(request: Any) -> str:
    """The address a request came from ("" when unknown), as the server saw it: behind a proxy, the
    proxy's, unless the WSGI server is told to trust its forwarded header. `request` is Django's or DRF's;
    at most 45 characters (the longest IPv6 text form), as the token and event columns keep it."""
    return str(request.META.get("REMOTE_ADDR") or "")[:45]


def current_address() -> str:
    """The address of the request this code serves, "" outside a request (a command, a task)."""
    return _current.get()


class CurrentAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(client_address(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
