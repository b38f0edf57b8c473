"""Every event type the service writes, with its group, as data (Waldur's names where Waldur has one).

Waldur's hooks subscribe by `event_types` or `event_groups`; a group expands to its types here. Types
that Waldur does not have are marked `ours`, listed in docs/compatibility.md and kept in a group of their
own (`efp`): Waldur's groups expand to Waldur's types only, so a hook subscribed to them stays readable
by Waldur's SDK, whose enums of types and groups are closed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    group: str
    ours: bool = False  # not one of Waldur's names


def _types(group: str, *names: str, ours: bool = False) -> tuple[EventType, ...]:
    return tuple(EventType(name, group, ours) for name in names)


EVENT_TYPES: tuple[EventType, ...] = (
    *_types(
        "resources",
        "marketplace_order_created",
        "marketplace_order_approved",
        "marketplace_order_rejected",
        "marketplace_order_completed",
        "marketplace_order_terminated",
        "marketplace_order_failed",
        "marketplace_resource_create_requested",
        "marketplace_resource_create_succeeded",
        "marketplace_resource_create_failed",
        "marketplace_resource_create_canceled",
        "marketplace_resource_update_requested",
        "marketplace_resource_update_succeeded",
        "marketplace_resource_update_failed",
        "marketplace_resource_update_canceled",
        "marketplace_resource_terminate_requested",
        "marketplace_resource_terminate_succeeded",
        "marketplace_resource_terminate_failed",
        "marketplace_resource_terminate_canceled",
        "marketplace_resource_update_limits_succeeded",
        "marketplace_resource_update_limits_failed",
        "marketplace_resource_update_end_date_succeeded",
        "marketplace_resource_erred_on_backend",
    ),
    *_types(
        "efp",
        "marketplace_order_updated",  # an order's other state changes (pending-provider, executing, ...)
        "marketplace_resource_state_changed",  # a resource state change no Waldur type names
        "marketplace_component_usage_reported",  # set_usage / set_user_usage(s): a month's value
        "marketplace_component_usage_corrected",  # a month's value corrected, with a reason
        ours=True,
    ),
    *_types(
        "users",
        "marketplace_offering_user_created",
        "marketplace_offering_user_deleted",
        "role_granted",
        "role_revoked",
        "role_updated",
    ),
    *_types(
        "projects", "project_creation_succeeded", "project_update_succeeded", "project_deletion_succeeded"
    ),
    *_types("customers", "customer_creation_succeeded", "customer_update_succeeded"),
    *_types(
        "providers",
        "marketplace_offering_created",
        "marketplace_offering_updated",
        "marketplace_plan_created",
        "marketplace_offering_component_created",
    ),
    *_types("efp", "webhook_deactivated", "webhook_test", ours=True),
    # The record of access (efp/events/audit.py): sign-ins, API tokens; their context names the address.
    *_types(
        "auth",
        "auth_logged_in_with_username",
        "auth_logged_in_with_oauth",
        "auth_login_failed_with_username",
        "pat_created",
        "pat_revoked",
        "pat_used_from_new_ip",
    ),
    *_types("efp", "auth_locked_out", ours=True),  # a username and address locked out (django-axes)
)

BY_NAME: dict[str, EventType] = {t.name: t for t in EVENT_TYPES}
# What the access audit lists (`structure.access.access_events`): the "auth" group, lockouts, role changes.
ACCESS_TYPES: tuple[str, ...] = (
    *(t.name for t in EVENT_TYPES if t.group == "auth"),
    "auth_locked_out",
    "role_granted",
    "role_updated",
    "role_revoked",
)
GROUPS: dict[str, tuple[str, ...]] = {}
for _t in EVENT_TYPES:
    GROUPS[_t.group] = (*GROUPS.get(_t.group, ()), _t.name)


def expand(event_types: list[str] | tuple[str, ...], event_groups: list[str] | tuple[str, ...]) -> list[str]:
    """The types a subscription to these types and groups receives, sorted."""
    names = set(event_types)
    for group in event_groups:
        names.update(GROUPS.get(group, ()))
    return sorted(names)
