"""OpenID Connect's code flow (mozilla-django-oidc) against the issuer of EFP_OIDC_ISSUER: its endpoints
from discovery, the ID token's issuer and audience checked, the person from `people`."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from efp.accounts.oidc import discovery, people

logger = logging.getLogger(__name__)


def audience_includes(claims: dict[str, Any], client_id: str) -> bool:
    """The token was issued for us: our client id in `aud` (a string or a list), or `azp`."""
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    return client_id in audiences or claims.get("azp") == client_id


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in the person the issuer vouches for; answers nothing while no issuer is configured."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds every backend for every sign-in (passwords too): no discovery here.
        self.UserModel = get_user_model()

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only the callback view asks with a nonce: a password form posted to a URL with ?code= is not ours.
        if request is None or not discovery.configured() or "nonce" not in kwargs:
            return None
        try:
            endpoints = discovery.issuer()
            self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token_endpoint
            self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo_endpoint
            self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks_uri
            self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
            self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
            self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
            self.OIDC_RP_IDP_SIGN_KEY = None
            return super().authenticate(request, **kwargs)
        except (discovery.IssuerUnavailable, requests.RequestException, jwt.InvalidTokenError) as error:
            logger.warning("OpenID Connect sign-in failed: %s", error)
            return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        if not audience_includes(payload, settings.OIDC_RP_CLIENT_ID):
            raise SuspiciousOperation("The ID token was issued for another client.")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The user info names another subject than the ID token.")
        try:
            return people.person(issuer=settings.OIDC_ISSUER, claims={**payload, **claims})
        except people.Refused as error:
            raise SuspiciousOperation(str(error)) from error
