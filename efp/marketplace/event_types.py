"""Which event each order and resource change writes, as data, the way Waldur names them.

No database code here (like `states.py` and `verbs.py`, beside which it stands). `events.py` reads these
tables; the services call it from `services/_transitions.py` and their verbs. Waldur's rules
(marketplace/handlers.py `log_order_events`, marketplace/log.py): an order entering `executing` is
approved, and each outcome of an order writes the order's event and its resource's
(`marketplace_resource_<create|update|terminate>_<outcome>`, `update_limits` for a limits update).
Types Waldur does not have are marked `ours` in `efp/events/catalogue.py`.
"""

from __future__ import annotations

from efp.marketplace.states import OrderState, OrderType, ResourceState

OS, RS = OrderState, ResourceState

ORDER_CREATED = "marketplace_order_created"
ORDER_UPDATED = "marketplace_order_updated"  # ours: a move Waldur logs nothing for
RESOURCE_STATE_CHANGED = "marketplace_resource_state_changed"  # ours: a resource move no order explains
USAGE_REPORTED = "marketplace_component_usage_reported"  # ours
USAGE_CORRECTED = "marketplace_component_usage_corrected"  # ours: a correction with a reason (issue 16)
OFFERING_UPDATED = "marketplace_offering_updated"
LIMITS_SET = "marketplace_resource_update_limits_succeeded"
END_DATE_SET = "marketplace_resource_update_end_date_succeeded"
RESOURCE_ERRED = "marketplace_resource_erred_on_backend"

# The order's event by the state it enters, and the outcome its resource's event names (None: none).
ORDER_ENTERS: dict[OrderState, tuple[str, str | None]] = {
    OS.EXECUTING: ("marketplace_order_approved", None),
    OS.REJECTED: ("marketplace_order_rejected", None),
    OS.DONE: ("marketplace_order_completed", "succeeded"),
    OS.ERRED: ("marketplace_order_failed", "failed"),
    OS.CANCELED: ("marketplace_order_terminated", "canceled"),
}
# Moves that are not what the state they enter says: a retry is not an approval.
ORDER_MOVES: dict[tuple[OrderState, OrderState], tuple[str, str | None]] = {
    (OS.ERRED, OS.EXECUTING): (ORDER_UPDATED, None),
}
ORDER_OTHER_MOVE: tuple[str, str | None] = (ORDER_UPDATED, None)  # pending-provider, pending-project, ...

ORDER_MESSAGES: dict[str, str] = {
    ORDER_CREATED: "Marketplace order has been created.",
    "marketplace_order_approved": "Marketplace order has been approved.",
    "marketplace_order_rejected": "Marketplace order has been rejected.",
    "marketplace_order_completed": "Marketplace order has been completed.",
    "marketplace_order_terminated": "Marketplace order has been terminated.",
    "marketplace_order_failed": "Marketplace order has been marked as failed.",
    ORDER_UPDATED: "Marketplace order has moved from {old_state} to {new_state}.",
}

# The resource family an order speaks for, by order type; a limits update has its own family for its
# outcomes (Waldur has no update_limits_requested or _canceled: those stay `update`).
FAMILY: dict[str, str] = {
    OrderType.CREATE: "create",
    OrderType.UPDATE: "update",
    OrderType.TERMINATE: "terminate",
    OrderType.RESTORE: "restore",
}
LIMITS_FAMILY_OUTCOMES = frozenset({"succeeded", "failed"})

# (family, outcome) → the resource event's type and message ({resource_name}).
RESOURCE_OUTCOMES: dict[tuple[str, str], tuple[str, str]] = {
    ("create", "requested"): (
        "marketplace_resource_create_requested",
        "Resource {resource_name} creation has been requested.",
    ),
    ("create", "succeeded"): (
        "marketplace_resource_create_succeeded",
        "Resource {resource_name} has been created.",
    ),
    ("create", "failed"): (
        "marketplace_resource_create_failed",
        "Resource {resource_name} creation has failed.",
    ),
    ("create", "canceled"): (
        "marketplace_resource_create_canceled",
        "Resource {resource_name} creation has been canceled.",
    ),
    # Waldur writes a restoration's outcomes with the create types (marketplace/callbacks.py).
    ("restore", "requested"): (
        "marketplace_resource_create_requested",
        "Resource {resource_name} restoration has been requested.",
    ),
    ("restore", "succeeded"): (
        "marketplace_resource_create_succeeded",
        "Resource {resource_name} has been restored.",
    ),
    ("restore", "failed"): (
        "marketplace_resource_create_failed",
        "Resource {resource_name} restoration has failed.",
    ),
    ("restore", "canceled"): (
        "marketplace_resource_create_canceled",
        "Resource {resource_name} restoration has been canceled.",
    ),
    ("update", "requested"): (
        "marketplace_resource_update_requested",
        "Resource {resource_name} update has been requested.",
    ),
    ("update", "succeeded"): (
        "marketplace_resource_update_succeeded",
        "Resource {resource_name} has been updated successfully.",
    ),
    ("update", "failed"): (
        "marketplace_resource_update_failed",
        "Resource {resource_name} update has failed.",
    ),
    ("update", "canceled"): (
        "marketplace_resource_update_canceled",
        "Resource {resource_name} update has been canceled.",
    ),
    ("update_limits", "succeeded"): (LIMITS_SET, "Limits of resource {resource_name} have been updated."),
    ("update_limits", "failed"): (
        "marketplace_resource_update_limits_failed",
        "Updating limits of resource {resource_name} has failed.",
    ),
    ("terminate", "requested"): (
        "marketplace_resource_terminate_requested",
        "Resource {resource_name} deletion has been requested.",
    ),
    ("terminate", "succeeded"): (
        "marketplace_resource_terminate_succeeded",
        "Resource {resource_name} has been deleted.",
    ),
    ("terminate", "failed"): (
        "marketplace_resource_terminate_failed",
        "Resource {resource_name} deletion has failed.",
    ),
    ("terminate", "canceled"): (
        "marketplace_resource_terminate_canceled",
        "Resource {resource_name} termination has been canceled.",
    ),
}

# A resource move of its own (a provider's or the site agent's verb, not an order's outcome).
RESOURCE_ENTERS: dict[ResourceState, tuple[str, str]] = {
    RS.ERRED: (RESOURCE_ERRED, "Resource {resource_name} has failed on the backend."),
}
RESOURCE_OTHER_MOVE = (
    RESOURCE_STATE_CHANGED,
    "Resource {resource_name} has moved from {old_state} to {new_state}.",
)

OTHER_MESSAGES: dict[str, str] = {
    USAGE_REPORTED: (
        "Usage of {component_type}{of_user} for {billing_period} of resource {resource_name}"
        " has been reported."
    ),
    USAGE_CORRECTED: (
        "Usage of {component_type} for {billing_period} of resource {resource_name} has been corrected"
        " from {old_usage} to {usage}: {reason}"
    ),
    OFFERING_UPDATED: "Offering {offering_name} has been updated.",
    END_DATE_SET: "End date of marketplace resource {resource_name} has been updated. End date: {end_date}.",
    "marketplace_offering_created": "Offering {offering_name} has been created.",
    "marketplace_plan_created": "Plan {plan_name} of offering {offering_name} has been created.",
    "marketplace_offering_component_created": (
        "Component {component_type} of offering {offering_name} has been created."
    ),
}


def order_move_events(old: OrderState | str, new: OrderState | str) -> tuple[str, str | None]:
    """The order's event type and its resource's outcome (or None) for a move."""
    old, new = OrderState(old), OrderState(new)
    return ORDER_MOVES.get((old, new)) or ORDER_ENTERS.get(new) or ORDER_OTHER_MOVE


def resource_outcome(order_type: str, outcome: str, *, limits_update: bool) -> tuple[str, str]:
    """The resource event (type, message) an order's outcome writes."""
    family = FAMILY[order_type]
    if limits_update and outcome in LIMITS_FAMILY_OUTCOMES:
        family = "update_limits"
    return RESOURCE_OUTCOMES[(family, outcome)]


def resource_move_event(new: ResourceState | str) -> tuple[str, str]:
    return RESOURCE_ENTERS.get(ResourceState(new), RESOURCE_OTHER_MOVE)
