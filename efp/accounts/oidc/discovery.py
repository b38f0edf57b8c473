"""The issuer's endpoints and keys, read from its `/.well-known/openid-configuration` and kept a while."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.conf import settings


class IssuerUnavailable(Exception):
    """The issuer did not answer, or answered something that is not its configuration."""


@dataclass(frozen=True)
class Issuer:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


def configured() -> bool:
    return bool(settings.OIDC_ISSUER)


_lock = threading.Lock()
_issuers: dict[str, tuple[float, Issuer]] = {}
_keys: dict[str, tuple[float, jwt.PyJWKSet]] = {}


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise IssuerUnavailable(f"{url}: {error}") from error
    if not isinstance(document, dict):
        raise IssuerUnavailable(f"{url}: not a JSON object")
    return document


def issuer() -> Issuer:
    """The configured issuer's endpoints (fetched at most once per EFP_OIDC_DISCOVERY_SECONDS)."""
    name = settings.OIDC_ISSUER
    with _lock:
        kept = _issuers.get(name)
        if kept and kept[0] > time.monotonic():
            return kept[1]
    document = _get_json(f"{name}/.well-known/openid-configuration")
    if str(document.get("issuer", "")).rstrip("/") != name:
        raise IssuerUnavailable(f"{name}: the configuration names another issuer ({document.get('issuer')})")
    try:
        found = Issuer(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            userinfo_endpoint=document["userinfo_endpoint"],
            jwks_uri=document["jwks_uri"],
        )
    except KeyError as error:
        raise IssuerUnavailable(f"{name}: the configuration has no {error}") from error
    with _lock:
        _issuers[name] = (time.monotonic() + settings.OIDC_DISCOVERY_SECONDS, found)
    return found


def signing_key(kid: str | None) -> jwt.PyJWK:
    """The issuer's public key with that `kid` (or its only key); the key set is fetched again once when
    the `kid` is unknown (the issuer rotated its keys)."""
    for refresh in (False, True):
        keys = _key_set(refresh=refresh)
        matching = [key for key in keys.keys if kid is None or key.key_id == kid]
        if len(matching) == 1 or (matching and kid is not None):
            return matching[0]
    raise jwt.InvalidTokenError("No key of the issuer signed this token.")


def _key_set(*, refresh: bool) -> jwt.PyJWKSet:
    uri = issuer().jwks_uri
    with _lock:
        kept = _keys.get(uri)
        if kept and kept[0] > time.monotonic() and not refresh:
            return kept[1]
    try:
        keys = jwt.PyJWKSet.from_dict(_get_json(uri))
    except jwt.PyJWKSetError as error:
        raise IssuerUnavailable(f"{uri}: {error}") from error
    with _lock:
        _keys[uri] = (time.monotonic() + settings.OIDC_DISCOVERY_SECONDS, keys)
    return keys


def forget() -> None:
    """Drops what was kept (tests; a changed issuer)."""
    with _lock:
        _issuers.clear()
        _keys.clear()
