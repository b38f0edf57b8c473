"""One attempt of a delivery over HTTP: Waldur's payload, our signature, no redirects, a timeout.

The receiver checks `X-EFP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
and may drop repeats by `X-EFP-Delivery` (the same for every attempt of one delivery).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx  # the HTTP client waldur-api-client already brings: timeouts, no implicit redirects
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from efp.events.models import Event
from efp.hooks.destinations import destination_refusal

USER_AGENT = "EFP-Allocations-Webhook/1"


def payload(event: Event) -> dict[str, Any]:
    """Waldur's web hook payload."""
    return {
        "created": event.created.isoformat(),
        "message": event.message,
        "context": event.context,
        "event_type": event.event_type,
    }


def body(event: Event, content_type: str) -> tuple[bytes, str]:
    """The raw body and its media type. Form bodies carry `context` as a JSON string."""
    data = payload(event)
    if content_type == "form":
        form = {**data, "context": json.dumps(data["context"], cls=DjangoJSONEncoder, sort_keys=True)}
        return urlencode(form).encode(), "application/x-www-form-urlencoded"
    return json.dumps(data, cls=DjangoJSONEncoder).encode(), "application/json"


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The `X-EFP-Signature` header value: HMAC-SHA256 with the hook's secret over "<t>.<raw body>"."""
    signed = f"{timestamp}.".encode() + raw_body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


@functools.cache
def _client() -> httpx.Client:
    """One client per process, made on first use (after a worker's fork): its connections and TLS context
    are reused by every attempt (a client per post cost 80-235 ms of set-up each, bench/hook_latency)."""
    return httpx.Client(follow_redirects=False)


def post(*, url: str, secret: str, delivery_uuid: str, event: Event, content_type: str) -> Outcome:
    """Sends one attempt; any answer but 2xx, a redirect, a timeout or a refused address is a failure."""
    started = time.monotonic()

    def outcome(ok: bool, status_code: int | None = None, error: str = "") -> Outcome:
        return Outcome(ok, status_code, error, int((time.monotonic() - started) * 1000))

    refusal = destination_refusal(url)
    if refusal is not None:
        return outcome(False, error=refusal)
    raw, media_type = body(event, content_type)
    headers = {
        "Content-Type": media_type,
        "User-Agent": USER_AGENT,
        "X-EFP-Delivery": delivery_uuid,
        "X-EFP-Event": event.event_type,
        "X-EFP-Signature": signature(secret, int(time.time()), raw),
    }
    try:
        response = _client().post(url, content=raw, headers=headers, timeout=settings.WEBHOOK_TIMEOUT)
    except httpx.TimeoutException:
        return outcome(False, error=f"Timed out after {settings.WEBHOOK_TIMEOUT} s.")
    except httpx.HTTPError as error:
        return outcome(False, error=f"{type(error).__name__}: {error}"[:1000])
    if response.is_redirect:
        return outcome(False, response.status_code, "Redirects are not followed.")
    if not response.is_success:
        return outcome(False, response.status_code, f"HTTP {response.status_code}")
    return outcome(True, response.status_code)
