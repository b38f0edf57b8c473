"""The order and resource lifecycles: their vocabulary and one literal transition table each.

No database code here. Services move objects only along these edges (see services/_transitions.py).
Values are Waldur's wire strings, so what is stored is what the API shows.
"""

from __future__ import annotations

from django.db import models


class OrderState(models.TextChoices):
    PENDING_CONSUMER = "pending-consumer"
    PENDING_PROVIDER = "pending-provider"
    PENDING_PROJECT = "pending-project"
    PENDING_START_DATE = "pending-start-date"
    EXECUTING = "executing"
    DONE = "done"
    ERRED = "erred"
    CANCELED = "canceled"
    REJECTED = "rejected"


class OrderType(models.TextChoices):
    CREATE = "Create"
    UPDATE = "Update"
    TERMINATE = "Terminate"
    RESTORE = "Restore"


class ResourceState(models.TextChoices):
    CREATING = "Creating"
    OK = "OK"
    ERRED = "Erred"
    UPDATING = "Updating"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


OS = OrderState
ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    #                  approve / route                      decide            give up / fail
    OS.PENDING_CONSUMER: frozenset(
        {OS.PENDING_PROVIDER, OS.PENDING_PROJECT, OS.EXECUTING, OS.REJECTED, OS.CANCELED, OS.ERRED}
    ),
    OS.PENDING_PROJECT: frozenset({OS.PENDING_PROVIDER, OS.EXECUTING, OS.REJECTED, OS.CANCELED, OS.ERRED}),
    OS.PENDING_PROVIDER: frozenset({OS.EXECUTING, OS.PENDING_START_DATE, OS.REJECTED, OS.CANCELED, OS.ERRED}),
    OS.PENDING_START_DATE: frozenset({OS.EXECUTING, OS.CANCELED, OS.ERRED}),
    OS.EXECUTING: frozenset({OS.DONE, OS.CANCELED, OS.ERRED}),
    OS.ERRED: frozenset({OS.EXECUTING}),  # set_state_executing / retry
    OS.DONE: frozenset(),
    OS.CANCELED: frozenset(),
    OS.REJECTED: frozenset(),
}

PENDING_ORDER_STATES = frozenset(
    {OS.PENDING_CONSUMER, OS.PENDING_PROVIDER, OS.PENDING_PROJECT, OS.PENDING_START_DATE}
)
ACTIVE_ORDER_STATES = PENDING_ORDER_STATES | {OS.EXECUTING}
TERMINAL_ORDER_STATES = frozenset({OS.DONE, OS.ERRED, OS.CANCELED, OS.REJECTED})

RS = ResourceState
RESOURCE_TRANSITIONS: dict[ResourceState, frozenset[ResourceState]] = {
    RS.CREATING: frozenset({RS.OK, RS.ERRED, RS.TERMINATING, RS.TERMINATED}),
    RS.OK: frozenset({RS.UPDATING, RS.TERMINATING, RS.ERRED, RS.TERMINATED}),
    RS.UPDATING: frozenset({RS.OK, RS.ERRED, RS.TERMINATING, RS.TERMINATED}),
    RS.TERMINATING: frozenset({RS.OK, RS.ERRED, RS.TERMINATED}),
    RS.ERRED: frozenset({RS.OK, RS.CREATING, RS.UPDATING, RS.TERMINATING, RS.TERMINATED}),
    RS.TERMINATED: frozenset({RS.CREATING}),  # restored (a Restore order, `restore/`)
}

# States in which usage may be reported (docs/contract.md §7.3 rule 4).
USAGE_REPORTABLE_STATES = frozenset({RS.OK, RS.UPDATING, RS.TERMINATING})


def order_can_move(old: OrderState | str, new: OrderState | str) -> bool:
    return OrderState(new) in ORDER_TRANSITIONS[OrderState(old)]


def resource_can_move(old: ResourceState | str, new: ResourceState | str) -> bool:
    return ResourceState(new) in RESOURCE_TRANSITIONS[ResourceState(old)]


def order_states_leading_to(new: OrderState) -> list[OrderState]:
    return [old for old, targets in ORDER_TRANSITIONS.items() if new in targets]
