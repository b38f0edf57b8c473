"""Who a set of OpenID Connect claims is: the person linked to (issuer, sub), created at the first sign-in
with the claims EFP_OIDC_*_CLAIM name; later sign-ins bring the e-mail and name up to date."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from efp.accounts.models import OidcIdentity, User


class Refused(Exception):
    """These claims cannot be a person here (no subject, no usable username, a username taken)."""


def mapped(claims: dict[str, Any]) -> dict[str, str]:
    """username, email, first_name and last_name from the claims, as the settings map them."""
    names = settings.OIDC_CLAIMS

    def claim(key: str) -> str:
        value = claims.get(names[key])
        return value.strip() if isinstance(value, str) else ""

    first, last = claim("first_name"), claim("last_name")
    if not (first or last):
        first, _, last = claim("name").partition(" ")
    return {
        "username": claim("username") or str(claims.get("sub") or ""),
        "email": claim("email"),
        "first_name": first[:150],
        "last_name": last[:150],
    }


def person(*, issuer: str, claims: dict[str, Any]) -> User:
    """The person these (verified) claims name; created or linked on first sight."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise Refused("The issuer named no subject (sub).")
    fields = mapped(claims)
    identity = OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is None:
        try:
            identity = _link(issuer=issuer, subject=subject, fields=fields)
        except IntegrityError:  # a sign-in of the same person at the same moment linked it first
            identity = OidcIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
    user = identity.user
    changed = [
        key
        for key in ("email", "first_name", "last_name")
        if fields[key] and getattr(user, key) != fields[key]
    ]
    if changed:
        for key in changed:
            setattr(user, key, fields[key])
        user.save(update_fields=changed)
    return user


@transaction.atomic
def _link(*, issuer: str, subject: str, fields: dict[str, str]) -> OidcIdentity:
    username = fields["username"]
    if not username or len(username) > 150:
        raise Refused("The issuer named no usable username.")
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        user = User(username=username, email=fields["email"], first_name=fields["first_name"],
                    last_name=fields["last_name"])  # fmt: skip
        user.set_unusable_password()
        user.save()
    elif OidcIdentity.objects.filter(user=user, issuer=issuer).exists():
        raise Refused(f"The username {username} belongs to another person of this issuer.")
    return OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
