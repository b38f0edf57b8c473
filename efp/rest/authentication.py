"""Waldur's token authentication: `Authorization: Token <key>` or the `x-auth-token` query parameter."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from efp.accounts.services import token_expired, touch_token

TOKEN_QUERY_PARAM = "x-auth-token"


class TokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) == 1:
                raise exceptions.AuthenticationFailed("Invalid token. No credentials provided.")
            if len(header) > 2:
                raise exceptions.AuthenticationFailed(
                    "Invalid token. Token string should not contain spaces."
                )
            try:
                key = header[1].decode()
            except UnicodeError as error:
                raise exceptions.AuthenticationFailed("Invalid token header.") from error
            return self.authenticate_credentials(key)
        query_key = request.query_params.get(TOKEN_QUERY_PARAM)
        if query_key:
            return self.authenticate_credentials(query_key)
        return None

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist as error:
            raise exceptions.AuthenticationFailed("Invalid token.") from error
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired.")
        touch_token(token)
        return token.user, token
