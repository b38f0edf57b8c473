"""What the test provider adds to django-oidc-provider: the claims of its people, and JWT access tokens
(as Keycloak or Entra ID issue them; django-oidc-provider's own are opaque) signed with its published key."""

import time
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from oidc_provider.lib.utils.common import get_issuer
from oidc_provider.lib.utils.token import encode_id_token
from oidc_provider.models import Client


def userinfo(claims: dict[str, Any], user: User) -> dict[str, Any]:
    claims.update(
        preferred_username=user.username,
        email=user.email,
        given_name=user.first_name,
        family_name=user.last_name,
        name=user.get_full_name(),
    )
    return claims


def jwt_access_token(request: HttpRequest) -> JsonResponse:
    """?username=...&expires_in=seconds (negative: already expired)&audience=client id."""
    user = User.objects.get(username=request.GET["username"])
    client = Client.objects.get()
    now = int(time.time())
    payload = {
        "iss": get_issuer(request=request),
        "sub": str(user.pk),
        "aud": request.GET.get("audience", client.client_id),
        "iat": now,
        "exp": now + int(request.GET.get("expires_in", "300")),
        "scope": "openid email profile",
        # As Keycloak's access tokens carry them:
        "preferred_username": user.username,
        "email": user.email,
        "given_name": user.first_name,
        "family_name": user.last_name,
    }
    return JsonResponse({"access_token": encode_id_token(payload, client)})
