"""The states of orders and resources in words, as people read them: the one mapping the GUI (badges,
filters, timelines, messages) and the refusal texts of `services/guard.py` use.

The stored values and the API's strings stay Waldur's (`states.py`); only what a person reads is here.
"""

from __future__ import annotations

from typing import Any

from efp.marketplace.states import OrderState, ResourceState

OS, RS = OrderState, ResourceState

ORDER_STATE_WORDS: dict[str, str] = {
    OS.PENDING_CONSUMER: "waiting for the consumer",
    OS.PENDING_PROVIDER: "waiting for the provider",
    OS.PENDING_PROJECT: "waiting for the project to start",
    OS.PENDING_START_DATE: "waiting for its start date",
    OS.EXECUTING: "being carried out",
    OS.DONE: "done",
    OS.ERRED: "failed",
    OS.CANCELED: "canceled",
    OS.REJECTED: "rejected",
}

RESOURCE_STATE_WORDS: dict[str, str] = {
    RS.CREATING: "being set up",
    RS.OK: "active",
    RS.ERRED: "in error",
    RS.UPDATING: "being updated",
    RS.TERMINATING: "being terminated",
    RS.TERMINATED: "terminated",
}

# A resource whose create order still waits for a decision (the lists annotate `awaiting_approval`,
# `selectors.with_awaiting_approval`): not being set up yet.
AWAITING_APPROVAL = "awaiting approval"


def order_state_words(state: str) -> str:
    """ "pending-provider" → "waiting for the provider" (an unknown value as it is)."""
    return ORDER_STATE_WORDS.get(state, state)


def resource_state_words(resource: Any) -> str:
    """A resource's state in words; "awaiting approval" while its create order waits."""
    if resource.state == RS.CREATING and getattr(resource, "awaiting_approval", False):
        return AWAITING_APPROVAL
    return RESOURCE_STATE_WORDS.get(resource.state, resource.state)
