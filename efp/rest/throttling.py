"""Rate limits of the API: one budget per credential, counted in fixed windows.

The credential is the API token a request authenticated with (its type and key), else the signed-in
user (a session), else the client's address (anonymous requests). Its budget is `EFP_API_RATE`
(authenticated) or `EFP_API_ANON_RATE` requests per period; past it, the request gets 429 with
`Retry-After`, the seconds until the window ends (DRF's exception handler adds the header). Windows
are counted in Django's default cache, which is each process's memory (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from efp.rest.addresses import client_address


def credential(request: Request) -> str:
    """What the budget belongs to, hashed (a token's key is its secret and never a cache key)."""
    auth = request.auth
    if auth is not None and getattr(auth, "pk", None) is not None:
        raw = f"{type(auth).__name__}:{auth.pk}"
    elif request.user is not None and request.user.is_authenticated:
        raw = f"user:{request.user.pk}"
    else:
        raw = f"address:{client_address(request)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class CredentialRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        authenticated = request.user is not None and request.user.is_authenticated
        limit, seconds = settings.EFP_API_RATE if authenticated else settings.EFP_API_ANON_RATE
        now = time.time()
        window = int(now // seconds)
        key = f"efp-rate:{credential(request)}:{seconds}:{window}"
        cache.add(key, 0, timeout=seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.add(key, 1, timeout=seconds + 1)
            count = 1
        self.retry_after = (window + 1) * seconds - now
        return bool(count <= limit)

    def wait(self) -> float:
        return max(1, math.ceil(self.retry_after))
