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


O = OrderState
ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    #                  approve / route                      decide            give up / fail
    O.PENDING_CONSUMER: frozenset({O.PENDING_PROVIDER, O.PENDING_PROJECT, O.EXECUTING, O.REJECTED, O.CANCELED, O.ERRED}),
    O.PENDING_PROJECT: frozenset({O.PENDING_PROVIDER, O.EXECUTING, O.REJECTED, O.CANCELED, O.ERRED}),
    O.PENDING_PROVIDER: frozenset({O.EXECUTING, O.PENDING_START_DATE, O.REJECTED, O.CANCELED, O.ERRED}),
    O.PENDING_START_DATE: frozenset({O.EXECUTING, O.CANCELED, O.ERRED}),
    O.EXECUTING: frozenset({O.DONE, O.CANCELED, O.ERRED}),
    O.ERRED: frozenset({O.EXECUTING}),  # set_state_executing / retry
    O.DONE: frozenset(),
    O.CANCELED: frozenset(),
    O.REJECTED: frozenset(),
}

PENDING_ORDER_STATES = frozenset({O.PENDING_CONSUMER, O.PENDING_PROVIDER, O.PENDING_PROJECT, O.PENDING_START_DATE})
ACTIVE_ORDER_STATES = PENDING_ORDER_STATES | {O.EXECUTING}
TERMINAL_ORDER_STATES = frozenset({O.DONE, O.ERRED, O.CANCELED, O.REJECTED})

S = ResourceState
RESOURCE_TRANSITIONS: dict[ResourceState, frozenset[ResourceState]] = {
    S.CREATING: frozenset({S.OK, S.ERRED, S.TERMINATING, S.TERMINATED}),
    S.OK: frozenset({S.UPDATING, S.TERMINATING, S.ERRED, S.TERMINATED}),
    S.UPDATING: frozenset({S.OK, S.ERRED, S.TERMINATING, S.TERMINATED}),
    S.TERMINATING: frozenset({S.OK, S.ERRED, S.TERMINATED}),
    S.ERRED: frozenset({S.OK, S.CREATING, S.UPDATING, S.TERMINATING, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}

# States in which usage may be reported (contract §7.3 rule 4).
USAGE_REPORTABLE_STATES = frozenset({S.OK, S.UPDATING, S.TERMINATING})


def order_can_move(old: OrderState | str, new: OrderState | str) -> bool:
    return OrderState(new) in ORDER_TRANSITIONS[OrderState(old)]


def resource_can_move(old: ResourceState | str, new: ResourceState | str) -> bool:
    return ResourceState(new) in RESOURCE_TRANSITIONS[ResourceState(old)]


def order_states_leading_to(new: OrderState) -> list[OrderState]:
    return [old for old, targets in ORDER_TRANSITIONS.items() if new in targets]
