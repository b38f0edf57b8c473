"""Offering users: a person's account name at an offering. Created by the provider (API, admin) or staff."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput, StateConflict
from efp.marketplace import agent_messages
from efp.marketplace.models import Offering, OfferingUser
from efp.marketplace.offering_user_states import AWAITING_USERNAME, OFFERING_USER_VERBS
from efp.marketplace.services.agents import can_manage_agents
from efp.marketplace.usernames import generated_username


def can_manage_offering_users(user: Any, offering: Offering) -> bool:
    return can_manage_agents(user, offering)


@transaction.atomic
def create_offering_user(
    *,
    actor: User | None,
    offering: Offering,
    user: User,
    username: str = "",
    state: str | None = None,
    is_restricted: bool = False,
) -> OfferingUser:
    """`actor` None: a trusted caller (the admin, the demo, tests' setup). Without a username the
    offering's username generation policy names the account (`usernames.py`); an account with a name is
    OK, one without waits in Requested for the site agent (unless `state` says otherwise)."""
    if actor is not None and not can_manage_offering_users(actor, offering):
        raise Forbidden()
    if not username:
        taken = set(OfferingUser.objects.filter(offering=offering).values_list("username", flat=True))
        username = (
            generated_username(
                offering.plugin_options,
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
                taken=taken,
            )
            or ""
        )
    if state is None:
        state = OfferingUser.State.OK if username else OfferingUser.State.REQUESTED
    if OfferingUser.objects.filter(offering=offering, user=user).exists():
        raise InvalidInput({"non_field_errors": ["The fields offering, user must make a unique set."]})
    try:
        with transaction.atomic():
            created = OfferingUser.objects.create(
                offering=offering, user=user, username=username, state=state, is_restricted=is_restricted
            )
    except IntegrityError as error:
        raise InvalidInput(
            {"non_field_errors": ["The fields offering, user must make a unique set."]}
        ) from error
    agent_messages.offering_user_changed(created, "create")
    return created


def _moved(offering_user: OfferingUser, old: str, **changes: Any) -> OfferingUser:
    """Compare-and-swap: the row changes only if it is still in `old` (two agents racing: one wins)."""
    changes["modified"] = timezone.now()
    if not OfferingUser.objects.filter(pk=offering_user.pk, state=old).update(**changes):
        raise StateConflict(message="The offering user changed meanwhile; read it again.")
    offering_user.refresh_from_db()
    return offering_user


@transaction.atomic
def move_offering_user(
    *,
    actor: User,
    offering_user: OfferingUser,
    verb: str,
    comment: str | None = None,
    comment_url: str | None = None,
) -> OfferingUser:
    """One verb of `OFFERING_USER_VERBS`: 403 for who may not manage the offering's users, 409 from a
    state the verb does not start from."""
    step = OFFERING_USER_VERBS[verb]
    if not can_manage_offering_users(actor, offering_user.offering):
        raise Forbidden()
    if offering_user.state not in step.sources:
        raise StateConflict(step.sources)
    changes: dict[str, Any] = {"state": step.target}
    if step.takes_comment and comment is not None:
        changes["service_provider_comment"] = comment
    if step.takes_comment and comment_url is not None:
        changes["service_provider_comment_url"] = comment_url
    if step.clears_comment:
        changes.update(service_provider_comment="", service_provider_comment_url="")
    moved = _moved(offering_user, offering_user.state, **changes)
    agent_messages.offering_user_changed(moved, "update")
    return moved


@transaction.atomic
def set_offering_username(*, actor: User, offering_user: OfferingUser, username: str) -> OfferingUser:
    """The provider (or its agent) names the account; one that waited for a name becomes OK (Waldur)."""
    if not can_manage_offering_users(actor, offering_user.offering):
        raise Forbidden()
    changes: dict[str, Any] = {"username": username}
    named = bool(username) and username != offering_user.username
    if named and offering_user.state in AWAITING_USERNAME:
        changes["state"] = OfferingUser.State.OK
    moved = _moved(offering_user, offering_user.state, **changes)
    agent_messages.offering_user_changed(moved, "username_set" if named else "update")
    return moved
