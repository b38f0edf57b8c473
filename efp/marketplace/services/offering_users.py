"""Offering users: a person's account name at an offering. Created by the provider (API, admin) or staff."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput
from efp.marketplace.models import Offering, OfferingUser
from efp.marketplace.services.agents import can_manage_agents


def can_manage_offering_users(user: Any, offering: Offering) -> bool:
    return can_manage_agents(user, offering)


@transaction.atomic
def create_offering_user(
    *,
    actor: User | None,
    offering: Offering,
    user: User,
    username: str = "",
    state: str = OfferingUser.State.OK,
    is_restricted: bool = False,
) -> OfferingUser:
    """`actor` None: a trusted caller (the admin, the demo, tests' setup)."""
    if actor is not None and not can_manage_offering_users(actor, offering):
        raise Forbidden()
    if OfferingUser.objects.filter(offering=offering, user=user).exists():
        raise InvalidInput({"non_field_errors": ["The fields offering, user must make a unique set."]})
    try:
        with transaction.atomic():
            return OfferingUser.objects.create(
                offering=offering, user=user, username=username, state=state, is_restricted=is_restricted
            )
    except IntegrityError as error:
        raise InvalidInput(
            {"non_field_errors": ["The fields offering, user must make a unique set."]}
        ) from error
