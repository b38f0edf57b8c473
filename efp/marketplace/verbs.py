"""Order and resource verbs as data: for each verb, the states it starts from, where it leads, who may use
it, which offering types support it, and the extra conditions it checks, in the order they are checked.

No database code here (like `states.py`, beside which it stands). `services/guard.py` answers, from these
entries, whether a user may use a verb on an object and if not why; the services use that answer as their
guard, the GUI greys out buttons with it, and wire flags such as `can_terminate` are read from it.

The check order is Waldur's (docs/contract.md §1.6): who (403), then state (409), then offering type
(405), then the verb's conditions (`checks`, in order: most answer 400).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from efp.marketplace.models.offerings import OfferingType
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.structure.roles import (
    CUSTOMER_ROLES,
    OFFERING_ROLES,
    PERMISSION_ROLES,
    PROJECT_ROLES,
    Permission,
    Role,
)

OS, RS, P = OrderState, ResourceState, Permission


class Side(StrEnum):
    """Where the user's role must be."""

    CONSUMER = "consumer"  # the order's or resource's project, or its organisation
    PROVIDER = "provider"  # the offering's organisation, or the offering itself
    EITHER = "either"  # the consumer side, or the offering's organisation
    STAFF = "staff"  # staff only


class Check(StrEnum):
    """Conditions a verb checks after who, state and offering type (see `services/guard.py`)."""

    CUSTOMER_AVAILABLE = "customer-available"  # the consumer organisation is not blocked or archived (400)
    PROJECT_NOT_EXPIRED = "project-not-expired"  # (400)
    PROJECT_RUNNING = "project-running"  # not expired, unless the order terminates (400)
    PROVIDER_AVAILABLE = "provider-available"  # the provider organisation is not blocked (400)
    RESTARTABLE = "restartable"  # an erred Create whose resource is Terminated never returns (409)
    RETRY_SUPPORTED = "retry-supported"  # `retry` resets Create, Update and Terminate orders only (400)
    NO_OPEN_ORDER = "no-open-order"  # one order at a time per resource (400)
    RESTORABLE = "restorable"  # the offering's `can_restore_resource` plugin option is on (400)
    REPORTS_MEMBER_SYNC = "reports-member-sync"  # the offering's `enable_membership_sync_status` is on (409)


@dataclass(frozen=True)
class Verb:
    name: str  # the Waldur action (the API path's last part, or destroy / unlink)
    label: str  # the GUI's button
    phrase: str  # "may <phrase>" in a refusal
    sources: tuple[str, ...] | None  # states it starts from, in the order a 409 lists them; None: any
    targets: tuple[str, ...]  # the states it leads to (for orders of a resource verb: see `order_type`)
    permission: Permission | None  # None: staff only
    side: Side
    creator_may: bool = False  # the order's creator may use it without the permission
    support_may: bool = False  # support users may use it without the permission
    offering_types: frozenset[str] | None = None  # None: every type
    checks: tuple[Check, ...] = ()
    order_type: str | None = None  # a resource verb that places an order of this type

    def starts_from(self, state: str) -> bool:
        return self.sources is None or state in self.sources


def _verbs(*verbs: Verb) -> dict[str, Verb]:
    return {verb.name: verb for verb in verbs}


PENDING_DECISION = (OS.PENDING_CONSUMER.value, OS.PENDING_PROVIDER.value)

# Order verbs (docs/contract.md §5.4), in the order the API lists them.
# fmt: off
ORDER_VERBS: dict[str, Verb] = _verbs(
    Verb(
        "approve_by_consumer", "Approve", "approve orders", (OS.PENDING_CONSUMER,),
        (OS.PENDING_PROVIDER, OS.PENDING_PROJECT, OS.EXECUTING), P.ORDER_APPROVE, Side.CONSUMER,
        checks=(Check.CUSTOMER_AVAILABLE, Check.PROJECT_NOT_EXPIRED),
    ),
    Verb(
        "reject_by_consumer", "Reject", "reject orders", (OS.PENDING_CONSUMER,), (OS.REJECTED,),
        P.ORDER_REJECT, Side.CONSUMER, creator_may=True, checks=(Check.CUSTOMER_AVAILABLE,),
    ),
    Verb(
        "approve_by_provider", "Approve", "approve orders", (OS.PENDING_PROVIDER,), (OS.EXECUTING,),
        P.ORDER_APPROVE, Side.PROVIDER,
        checks=(Check.PROVIDER_AVAILABLE, Check.CUSTOMER_AVAILABLE, Check.PROJECT_RUNNING),
    ),
    Verb(
        "reject_by_provider", "Reject", "reject orders", (OS.PENDING_PROVIDER,), (OS.REJECTED,),
        P.ORDER_REJECT, Side.PROVIDER, checks=(Check.PROVIDER_AVAILABLE,),
    ),
    Verb(
        "cancel", "Cancel order", "cancel orders", (OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.EXECUTING),
        (OS.CANCELED,), P.ORDER_CANCEL, Side.CONSUMER, offering_types=OfferingType.CANCELABLE,
    ),
    # Whoever placed the order may withdraw it while it waits (docs/compatibility.md: Waldur asks for
    # ORDER.DESTROY, which project members lack).
    Verb(
        "destroy", "Delete order", "delete orders", PENDING_DECISION, (), P.ORDER_DESTROY, Side.CONSUMER,
        creator_may=True, checks=(Check.CUSTOMER_AVAILABLE,),
    ),
    Verb("unlink", "Unlink", "unlink orders", None, (), None, Side.STAFF),
    Verb(
        "set_state_executing", "Set executing", "process orders",
        (OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.ERRED), (OS.EXECUTING,), P.ORDER_APPROVE, Side.PROVIDER,
        offering_types=OfferingType.AGENT_DRIVEN, checks=(Check.RESTARTABLE,),
    ),
    Verb(
        "set_state_done", "Set done", "process orders", (OS.EXECUTING,), (OS.DONE,), P.ORDER_APPROVE,
        Side.PROVIDER, offering_types=OfferingType.COMPLETABLE,
    ),
    Verb(
        "set_state_erred", "Set erred", "process orders",
        (OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.PENDING_PROJECT, OS.EXECUTING), (OS.ERRED,),
        P.ORDER_APPROVE, Side.PROVIDER, offering_types=OfferingType.AGENT_DRIVEN,
    ),
    Verb(
        "retry", "Retry", "retry orders", (OS.ERRED,), (OS.EXECUTING,), P.ORDER_APPROVE, Side.PROVIDER,
        offering_types=OfferingType.AGENT_DRIVEN | OfferingType.PROCESSED_AT_ONCE,
        checks=(Check.RETRY_SUPPORTED, Check.RESTARTABLE),
    ),
    Verb(
        "set_backend_id", "Set backend ID", "set backend IDs", None, (), P.RESOURCE_SET_BACKEND_ID,
        Side.PROVIDER, checks=(Check.PROVIDER_AVAILABLE,),
    ),
)
# fmt: on

LIVE = tuple(state.value for state in RS if state != RS.TERMINATED)
# Waldur has no dedicated permission for the agent's synchronisation calls (set_limits, set_as_erred/ok,
# refresh_last_sync); they take the backend-id one (docs/contract.md §6.3).
SYNC = P.RESOURCE_SET_BACKEND_ID

# Resource verbs: those that place an order (docs/contract.md §6.1) and the provider's (§6.3).
# fmt: off
RESOURCE_VERBS: dict[str, Verb] = _verbs(
    Verb(
        "terminate", "Terminate", "terminate resources", (RS.OK, RS.ERRED), (), P.RESOURCE_TERMINATE,
        Side.EITHER, checks=(Check.NO_OPEN_ORDER,), order_type=OrderType.TERMINATE,
    ),
    Verb(
        "update_limits", "Change limits", "change limits", (RS.OK,), (), P.RESOURCE_SET_LIMITS, Side.CONSUMER,
        checks=(Check.NO_OPEN_ORDER,), order_type=OrderType.UPDATE,
    ),
    # An Update order whose attributes say `action: "renew"`: more months, and larger limits if asked
    # (an extension request; docs/compatibility.md "Renewals and end dates").
    Verb(
        "renew", "Request extension", "request extensions", (RS.OK,), (), P.RESOURCE_SET_LIMITS,
        Side.CONSUMER, checks=(Check.NO_OPEN_ORDER,), order_type=OrderType.UPDATE,
    ),
    Verb(
        "switch_plan", "Switch plan", "switch plans", (RS.OK,), (), P.RESOURCE_SET_PLAN, Side.CONSUMER,
        checks=(Check.NO_OPEN_ORDER,), order_type=OrderType.UPDATE,
    ),
    # A Restore order for a terminated resource, placed by the provider (Waldur: SET_RESOURCE_STATE on the
    # offering's organisation, and the offering's `can_restore_resource`); the resource is Creating at once.
    Verb(
        "restore", "Restore", "restore resources", (RS.TERMINATED,), (), P.RESOURCE_SET_STATE,
        Side.PROVIDER, checks=(Check.RESTORABLE,), order_type=OrderType.RESTORE,
    ),
    Verb(
        "set_backend_id", "Set backend ID", "set backend IDs", None, (), P.RESOURCE_SET_BACKEND_ID,
        Side.PROVIDER,
    ),
    Verb("set_limits", "Set limits", "synchronise resources", LIVE, (), SYNC, Side.PROVIDER),
    Verb(
        "set_backend_metadata", "Set backend metadata", "set backend metadata", None, (),
        P.RESOURCE_SET_BACKEND_METADATA, Side.PROVIDER,
    ),
    Verb("set_endpoints", "Set endpoints", "synchronise resources", LIVE, (), SYNC, Side.PROVIDER),
    Verb(
        "set_membership_sync_statuses", "Report membership sync", "synchronise resources", LIVE, (), SYNC,
        Side.PROVIDER, checks=(Check.REPORTS_MEMBER_SYNC,),
    ),
    Verb(
        "submit_report", "Submit report", "submit reports", None, (), P.RESOURCE_SUBMIT_REPORT,
        Side.PROVIDER,
    ),
    Verb(
        "set_end_date_by_provider", "Edit end date", "set the end date", LIVE, (), P.RESOURCE_SET_END_DATE,
        Side.PROVIDER, support_may=True,
    ),
    # The consumer's `PATCH end_date`: those who may terminate the resource may say when it ends.
    Verb(
        "set_end_date_by_consumer", "Edit end date", "set the end date", LIVE, (), P.RESOURCE_TERMINATE,
        Side.CONSUMER,
    ),
    Verb("set_end_date_by_staff", "Edit end date", "set the end date", LIVE, (), None, Side.STAFF),
    # Staying in the target state is allowed (the error fields are stored): the 409 lists only the
    # states that move (see `guard.valid_states`).
    Verb(
        "set_as_erred", "Set erred", "synchronise resources",
        (RS.CREATING, RS.OK, RS.UPDATING, RS.TERMINATING, RS.ERRED), (RS.ERRED,), SYNC, Side.PROVIDER,
    ),
    Verb(
        "set_as_ok", "Set OK", "synchronise resources",
        (RS.CREATING, RS.UPDATING, RS.TERMINATING, RS.ERRED, RS.OK), (RS.OK,), SYNC, Side.PROVIDER,
    ),
    Verb("set_state_ok", "Recover", "synchronise resources", (RS.ERRED,), (RS.OK,), SYNC, Side.PROVIDER),
    Verb("refresh_last_sync", "Refresh last sync", "synchronise resources", None, (), SYNC, Side.PROVIDER),
    Verb("unlink", "Unlink", "unlink resources", None, (), None, Side.STAFF),
)
# fmt: on


# What an order does to its resource, by order type (docs/contract.md §5.3). The services apply these
# through `transition_resource`; `None` leaves the resource as it is. A Restore order is a Create of a
# resource that exists: `restore/` moves it from Terminated to Creating when it places the order.
# Entering `executing`: a limit Update moves the resource to Updating (a plan switch leaves it OK).
ON_EXECUTING: dict[str, str | None] = {
    OrderType.CREATE: None,
    OrderType.UPDATE: RS.UPDATING,  # limit updates only
    OrderType.TERMINATE: RS.TERMINATING,
    OrderType.RESTORE: None,
}
ON_DONE: dict[str, str] = {
    OrderType.CREATE: RS.OK,
    OrderType.UPDATE: RS.OK,
    OrderType.TERMINATE: RS.TERMINATED,
    OrderType.RESTORE: RS.OK,
}
# Rejected, canceled or deleted while pending: a Create or a Restore leaves a Terminated resource
# (whatever its state); the others go back to OK from the states of UNDO_FROM.
ON_UNDONE: dict[str, str] = {
    OrderType.CREATE: RS.TERMINATED,
    OrderType.UPDATE: RS.OK,
    OrderType.TERMINATE: RS.OK,
    OrderType.RESTORE: RS.TERMINATED,
}
UNDONE_ALWAYS = frozenset({OrderType.CREATE, OrderType.RESTORE})
UNDO_FROM = frozenset({RS.UPDATING, RS.TERMINATING, RS.OK})
# Failed (`set_state_erred`): the resource is Erred, as Waldur leaves it, so the order can be retried; a
# failed termination leaves it OK.
ON_ERRED: dict[str, str] = {
    OrderType.CREATE: RS.ERRED,
    OrderType.UPDATE: RS.ERRED,
    OrderType.TERMINATE: RS.OK,
    OrderType.RESTORE: RS.ERRED,
}
# Retried (erred → executing by `retry` or `set_state_executing`): the resource goes back to where the
# order had it, unless terminated (a Create that failed before this rule left its resource Terminated).
ON_RETRY: dict[str, str] = {
    OrderType.CREATE: RS.CREATING,
    OrderType.UPDATE: RS.UPDATING,
    OrderType.TERMINATE: RS.TERMINATING,
    OrderType.RESTORE: RS.CREATING,
}
# Order types whose `retry` Waldur supports (a Restore order is set executing again instead).
RETRIED_TYPES = frozenset({OrderType.CREATE, OrderType.UPDATE, OrderType.TERMINATE})
# Orders the provider's side places on a resource of its own offering without a role in the project:
# the permission that lets it (the consumer's side needs ORDER.CREATE).
PROVIDER_PLACES: dict[str, Permission] = {
    OrderType.TERMINATE: P.RESOURCE_TERMINATE,
    OrderType.RESTORE: P.RESOURCE_SET_STATE,
}


# --- words for refusals ----------------------------------------------------------------------------

SIDE_ROLES: dict[Side, tuple[Role, ...]] = {
    Side.CONSUMER: CUSTOMER_ROLES + PROJECT_ROLES,
    Side.PROVIDER: CUSTOMER_ROLES + OFFERING_ROLES,
    Side.EITHER: CUSTOMER_ROLES + PROJECT_ROLES,
}


def _join(words: list[str], last: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def who_may(
    permission: Permission | None, side: Side, *, creator: bool = False, support: bool = False
) -> str:
    """The people who may use a permission on one side, named from the role table, e.g. "organisation
    owners, project administrators and project managers"."""
    if permission is None or side == Side.STAFF:
        return "staff"
    granted = PERMISSION_ROLES[permission]
    names = [f"{role.label.lower()}s" for role in SIDE_ROLES[side] if role in granted]
    if side == Side.PROVIDER and names:
        names[0] = f"the provider's {names[0]}"
    if support:
        names.insert(0, "support")
    text = _join(names)
    return f"{text}, or whoever placed the order," if creator else text


def forbidden_message(verb: Verb) -> str:
    who = who_may(verb.permission, verb.side, creator=verb.creator_may, support=verb.support_may)
    return f"Only {who} may {verb.phrase}."
