"""`Authorization: Bearer <access token>` of the configured issuer: a JWT is checked against the issuer's
keys (signature, expiry, issuer, audience), an opaque token is shown to the issuer's userinfo endpoint.
A token accepted once is remembered by its hash for EFP_OIDC_BEARER_CACHE_SECONDS, at most until it
expires."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, status
from rest_framework.request import Request

from efp.accounts.models import User
from efp.accounts.oidc import discovery, people
from efp.accounts.oidc.backend import audience_includes

CACHE_PREFIX = "efp.oidc.bearer:"


class IssuerDown(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The sign-in service cannot be reached to check this token. Try again later."


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer" or not discovery.configured():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid bearer header: one token, no spaces.")
        try:
            token = header[1].decode("ascii")
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Invalid token header.") from error
        return bearer_user(token), None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerScheme(OpenApiAuthenticationExtension):
    """`bearerAuth` in /api/schema/: the issuer's access tokens, beside Waldur's `tokenAuth`."""

    target_class = BearerAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token of the OpenID Connect issuer (EFP_OIDC_ISSUER), when one is set",
        }


def bearer_user(token: str) -> User:
    key = CACHE_PREFIX + hashlib.sha256(token.encode()).hexdigest()
    user_id = cache.get(key)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        claims = jwt_claims(token) if token.count(".") == 2 else userinfo_claims(token)
        try:
            user = people.person(issuer=settings.OIDC_ISSUER, claims=claims)
        except people.Refused as error:
            raise exceptions.AuthenticationFailed(str(error)) from error
        seconds = settings.OIDC_BEARER_CACHE_SECONDS
        if isinstance(claims.get("exp"), int | float):
            seconds = min(seconds, int(claims["exp"] - time.time()))
        if seconds > 0:
            cache.set(key, user.pk, seconds)
    if not user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    return user


def jwt_claims(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm != settings.OIDC_RP_SIGN_ALGO:  # never "none", never a key chosen by the token
            raise jwt.InvalidAlgorithmError(f"unexpected algorithm {algorithm}")
        claims: dict[str, Any] = jwt.decode(
            token,
            discovery.signing_key(header.get("kid")),
            algorithms=[algorithm],
            issuer=settings.OIDC_ISSUER,
            options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            leeway=30,
        )
    except discovery.IssuerUnavailable as error:
        raise IssuerDown() from error
    except jwt.ExpiredSignatureError as error:
        raise exceptions.AuthenticationFailed("Token has expired.") from error
    except (jwt.InvalidTokenError, jwt.PyJWKError) as error:
        raise exceptions.AuthenticationFailed("Invalid token.") from error
    if not audience_includes(claims, settings.OIDC_RP_CLIENT_ID):
        raise exceptions.AuthenticationFailed("Invalid token: issued for another client.")
    return claims


def userinfo_claims(token: str) -> dict[str, Any]:
    try:
        endpoint = discovery.issuer().userinfo_endpoint
        response = requests.get(
            endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=settings.OIDC_TIMEOUT
        )
    except (discovery.IssuerUnavailable, requests.RequestException) as error:
        raise IssuerDown() from error
    if response.status_code in (400, 401, 403):
        raise exceptions.AuthenticationFailed("Invalid token.")
    try:
        response.raise_for_status()
        claims = response.json()
    except (requests.RequestException, ValueError) as error:
        raise IssuerDown() from error
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise exceptions.AuthenticationFailed("Invalid token.")
    return claims
