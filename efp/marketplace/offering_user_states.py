"""The offering-user lifecycle as data (Waldur's): each verb the site agent or the provider calls, the states
it starts from and the state it leads to, and whether it takes the provider's comment. No database code;
`services/offering_users.py` moves a row along it by compare-and-swap.

Waldur's rule for usernames stands beside it: setting a username on an account that waits for one
(`AWAITING_USERNAME`) makes it OK.
"""

from __future__ import annotations

from dataclasses import dataclass

from efp.marketplace.models.offering_users import OfferingUser

S = OfferingUser.State


@dataclass(frozen=True)
class OfferingUserVerb:
    name: str  # the action's path on /api/marketplace-offering-users/{uuid}/
    sources: tuple[str, ...]
    target: str
    takes_comment: bool = False  # the body may carry `comment` and `comment_url` for the person
    clears_comment: bool = False


def _verbs(*verbs: OfferingUserVerb) -> dict[str, OfferingUserVerb]:
    return {verb.name: verb for verb in verbs}


PENDING = (S.PENDING_ACCOUNT_LINKING, S.PENDING_ADDITIONAL_VALIDATION)

# fmt: off
OFFERING_USER_VERBS: dict[str, OfferingUserVerb] = _verbs(
    OfferingUserVerb("begin_creating", (S.REQUESTED, S.ERROR_CREATING), S.CREATING),
    OfferingUserVerb(
        "set_ok",
        (
            S.REQUESTED, S.CREATING, *PENDING, S.ERROR_CREATING, S.ERROR_DELETING, S.REQUESTED_DELETION,
            S.DELETING,
        ),
        S.OK,
    ),
    OfferingUserVerb(
        "set_pending_additional_validation", (S.CREATING, S.ERROR_CREATING, S.PENDING_ACCOUNT_LINKING),
        S.PENDING_ADDITIONAL_VALIDATION, takes_comment=True,
    ),
    OfferingUserVerb(
        "set_pending_account_linking", (S.CREATING, S.ERROR_CREATING, S.PENDING_ADDITIONAL_VALIDATION),
        S.PENDING_ACCOUNT_LINKING, takes_comment=True,
    ),
    OfferingUserVerb("set_validation_complete", PENDING, S.OK, clears_comment=True),
    OfferingUserVerb(
        "request_deletion", (S.OK, S.CREATING, *PENDING, S.ERROR_CREATING), S.REQUESTED_DELETION,
    ),
    OfferingUserVerb("set_deleting", (S.REQUESTED_DELETION, S.ERROR_DELETING), S.DELETING),
    OfferingUserVerb("set_deleted", (S.REQUESTED, S.DELETING), S.DELETED),
    OfferingUserVerb("set_error_creating", (S.REQUESTED, S.CREATING, *PENDING), S.ERROR_CREATING),
    OfferingUserVerb("set_error_deleting", (S.REQUESTED_DELETION, S.DELETING), S.ERROR_DELETING),
)
# fmt: on

# An account in one of these states becomes OK when it is given a username.
AWAITING_USERNAME = (S.REQUESTED, S.CREATING, *PENDING, S.ERROR_CREATING)
