"""May this user use this verb on this order or resource, and if not, why? (the entries of `verbs.py`)

`refusal()` answers one verb with None or a `Refusal`; `refusals()` answers several at once for a GUI row;
`check()` raises the refusal's domain error: the services call it as their guard. A list page passes
batched grants (`web/access.py`: `allows(permission, item)`) so its rows ask no query each; without them
`has_permission` answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from efp.errors import DomainError, Forbidden, InvalidInput, NotSupported, StateConflict
from efp.marketplace import plugin_options
from efp.marketplace.models import Order, Resource
from efp.marketplace.state_words import order_state_words
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderState, OrderType, ResourceState
from efp.marketplace.verbs import (
    ORDER_VERBS,
    RESOURCE_VERBS,
    RETRIED_TYPES,
    Check,
    Side,
    Verb,
    forbidden_message,
)
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission


class Kind(StrEnum):
    FORBIDDEN = "forbidden"  # 403
    STATE = "state"  # 409
    UNSUPPORTED = "unsupported"  # 405
    INVALID = "invalid"  # 400


@dataclass(frozen=True)
class Refusal:
    kind: Kind
    message: str  # for a person: the GUI shows it
    wire: str | None = None  # what the API says, where it differs from `message`
    valid_states: tuple[str, ...] = ()

    def error(self) -> DomainError:
        if self.kind == Kind.FORBIDDEN:
            # Waldur's sentence first (docs/contract.md §1.6), then who may (docs/compatibility.md).
            return Forbidden(f"{Forbidden.DEFAULT} {self.message}")
        if self.kind == Kind.STATE:
            return StateConflict(self.valid_states, message=self.wire)
        if self.kind == Kind.UNSUPPORTED:
            return NotSupported(self.wire or self.message)
        return InvalidInput(self.wire or self.message)


class Grants(Protocol):
    def allows(self, permission: Permission, item: Any) -> bool: ...


Subject = Order | Resource


def verb_of(verb: Verb | str, obj: Subject) -> Verb:
    if isinstance(verb, Verb):
        return verb
    return (ORDER_VERBS if isinstance(obj, Order) else RESOURCE_VERBS)[verb]


def may(
    verb: Verb,
    obj: Subject,
    user: Any,
    *,
    consumer_grants: Grants | None = None,
    provider_grants: Grants | None = None,
) -> bool:
    """Who may: staff always; the order's creator where the verb allows; else a role on the verb's side."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    if verb.side == Side.STAFF or verb.permission is None:
        return False
    if verb.creator_may and isinstance(obj, Order) and obj.created_by_id == user.pk:
        return True
    if verb.support_may and getattr(user, "is_support", False):
        return True
    permission, offering = verb.permission, obj.offering
    if verb.side == Side.PROVIDER:
        if provider_grants is not None:
            return provider_grants.allows(permission, offering)
        return has_permission(user, permission, customers=[offering.customer_id], offerings=[offering.pk])
    if verb.side == Side.CONSUMER and consumer_grants is not None:
        return consumer_grants.allows(permission, obj)
    if verb.side == Side.EITHER and consumer_grants is not None and provider_grants is not None:
        return consumer_grants.allows(permission, obj) or provider_grants.allows(permission, offering)
    customers = [obj.project.customer_id]
    if verb.side == Side.EITHER:
        customers.append(offering.customer_id)
    return has_permission(user, permission, projects=[obj.project_id], customers=customers)


def valid_states(verb: Verb) -> tuple[str, ...]:
    """What a 409 lists: the states the verb moves from (staying in its target is no move)."""
    return tuple(str(s) for s in verb.sources or () if s not in verb.targets)


def _state_words(obj: Subject, state: str) -> str:
    """An order's state as the GUI shows it ("waiting for the provider"); a resource's is already a word."""
    return order_state_words(state) if isinstance(obj, Order) else state


def _condition(check: Check, obj: Subject) -> Refusal | None:
    project = obj.project
    if check == Check.CUSTOMER_AVAILABLE:
        if project.customer.blocked:
            return Refusal(Kind.INVALID, "Blocked organization is not available.")
        if project.customer.archived:
            return Refusal(Kind.INVALID, "Archived organization is not available.")
    elif check == Check.PROVIDER_AVAILABLE:
        if obj.offering.customer.blocked:
            return Refusal(Kind.INVALID, "Blocked organization is not available.")
    elif check in (Check.PROJECT_NOT_EXPIRED, Check.PROJECT_RUNNING):
        terminating = isinstance(obj, Order) and obj.type == OrderType.TERMINATE
        if project.is_expired() and not (check == Check.PROJECT_RUNNING and terminating):
            return Refusal(Kind.INVALID, f"Project '{project.name}' is expired.")
    elif check == Check.RETRY_SUPPORTED:
        assert isinstance(obj, Order)
        if obj.type not in RETRIED_TYPES:
            text = f"Retry is not supported for {obj.type} orders."
            return Refusal(Kind.INVALID, f"{text} Set it executing again instead.", wire=text)
    elif check == Check.RESTORABLE:
        if not (obj.offering.plugin_options or {}).get("can_restore_resource"):
            return Refusal(
                Kind.INVALID,
                "This offering does not allow restoring terminated resources.",
                wire="Restoring resource is not supported for this offering type.",
            )
    elif check == Check.REPORTS_MEMBER_SYNC:
        if not plugin_options.reports_membership_sync(obj.offering.plugin_options):
            text = "The offering does not take membership sync statuses: set its plugin option "
            text += f"{plugin_options.MEMBERSHIP_SYNC_STATUS}."
            return Refusal(Kind.STATE, text, wire=text)
    elif check == Check.RESTARTABLE:
        # A creation that failed before failed creations stayed Erred left a Terminated resource, which
        # no retry brings back (restarted, the order would stay executing with nothing to complete);
        # `restore/` does.
        assert isinstance(obj, Order)
        resource = obj.resource
        if (
            obj.state == OrderState.ERRED
            and obj.type == OrderType.CREATE
            and resource is not None
            and resource.state == ResourceState.TERMINATED
        ):
            text = "The resource of this order is terminated; restore it or create a new order."
            return Refusal(Kind.STATE, text, wire=text)
    elif check == Check.NO_OPEN_ORDER:
        assert isinstance(obj, Resource)
        open_order = getattr(obj, "has_active_order", None)  # annotated on list pages
        if open_order is None:
            open_order = obj.orders.filter(state__in=list(ACTIVE_ORDER_STATES)).exists()
        if open_order:
            return Refusal(
                Kind.INVALID,
                "An order for this resource is still open; wait until it is done.",
                wire="Pending order for resource already exists.",
            )
    return None


def refusal(
    verb: Verb | str,
    obj: Subject,
    user: Any,
    *,
    consumer_grants: Grants | None = None,
    provider_grants: Grants | None = None,
    conditions: bool = True,
) -> Refusal | None:
    """None if `user` may use `verb` on `obj` now, else why not. Checked in Waldur's order: who (403),
    state (409), offering type (405), then the verb's conditions (unless `conditions` is False: the
    API's guards run before it reads the body, docs/contract.md §1.6)."""
    verb = verb_of(verb, obj)
    if not may(verb, obj, user, consumer_grants=consumer_grants, provider_grants=provider_grants):
        return Refusal(Kind.FORBIDDEN, forbidden_message(verb))
    if not verb.starts_from(obj.state):
        noun = "orders" if isinstance(obj, Order) else "resources"
        listed = valid_states(verb)
        now = _state_words(obj, obj.state)
        if len(listed) > 3:  # every state but a few: name the one it is in
            text = f"Not possible while the {noun[:-1]} is {now}."
        else:
            states = " or ".join(_state_words(obj, state) for state in listed)
            in_state = "" if isinstance(obj, Order) else "in state "  # order states are phrases already
            text = f"Only {noun} {in_state}{states} allow this; this one is {now}."
        return Refusal(Kind.STATE, text, valid_states=listed)
    offering_type = obj.offering.type
    if verb.offering_types is not None and offering_type not in verb.offering_types:
        return Refusal(
            Kind.UNSUPPORTED,
            f"{verb.label} is not available for offerings of type {offering_type}.",
            wire=f"The order's offering with {offering_type} type does not support this action",
        )
    for check in verb.checks if conditions else ():
        refused = _condition(check, obj)
        if refused is not None:
            return refused
    return None


def refusals(
    obj: Subject,
    user: Any,
    names: Iterable[str],
    *,
    consumer_grants: Grants | None = None,
    provider_grants: Grants | None = None,
) -> dict[str, Refusal | None]:
    """`refusal` of several verbs at once, for a GUI row."""
    return {
        name: refusal(name, obj, user, consumer_grants=consumer_grants, provider_grants=provider_grants)
        for name in names
    }


def check(verb: Verb | str, obj: Subject, user: Any, *, conditions: bool = True) -> None:
    """The services' guard: raises the refusal's domain error (403, 409, 405 or 400)."""
    refused = refusal(verb, obj, user, conditions=conditions)
    if refused is not None:
        raise refused.error()
