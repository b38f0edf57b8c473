"""Account changes: API tokens."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from efp.accounts.models import User


def get_or_create_token(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def regenerate_token(*, user: User) -> str:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user).key
