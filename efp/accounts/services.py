"""Account changes: API tokens; staff create and edit users."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token

from efp.accounts.models import User
from efp.marketplace.exceptions import Forbidden, InvalidInput

USER_FIELDS = {
    "first_name", "last_name", "email", "organization", "civil_number", "is_active", "is_staff", "is_support",
}  # fmt: skip


def get_or_create_token(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def regenerate_token(*, user: User) -> str:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user).key


def _require_staff(actor: Any) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden()


@transaction.atomic
def create_user(*, actor: Any, username: str, password: str = "", **fields: Any) -> User:
    """Staff add a user; without a password the user signs in only with an API token."""
    _require_staff(actor)
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise InvalidInput({key: ["This field cannot be set."] for key in sorted(unknown)})
    if User.objects.filter(username=username).exists():
        raise InvalidInput({"username": ["A user with that username already exists."]})
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def update_user(*, actor: Any, user: User, **fields: Any) -> User:
    """Staff edit a user, e.g. deactivate one who left (`is_active`)."""
    _require_staff(actor)
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise InvalidInput({key: ["This field cannot be changed."] for key in sorted(unknown)})
    if user.pk == actor.pk and (fields.get("is_active") is False or fields.get("is_staff") is False):
        raise InvalidInput("You cannot deactivate yourself or drop your own staff flag.")
    for key, value in fields.items():
        setattr(user, key, value)
    user.save(update_fields=list(fields) or None)
    return user
