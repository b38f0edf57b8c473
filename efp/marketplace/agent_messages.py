"""What site agents' event queues are told: Waldur's messages about orders, resources, offering users and
project roles.

A service calls `order_changed`, `resource_changed` or `offering_user_changed` inside its transaction
(`events.py` does for orders and resources, `services/offering_users.py` for offering users); a role
granted or revoked in a project reaches `role_changed`, the events dispatcher (registered in `apps.py`),
which runs in the worker after commit and enqueues a `user_role` message per offering. With
`EFP_RABBITMQ_URL` set, that enqueues one task (`tasks.publish_agent_message`, one INSERT, no read), so
the message leaves after commit, from the worker; unset, it does nothing and agents poll. The worker puts
the message on the queue of every agent identity of the offering that registered one and asked for the
type (`register_queue`'s `object_types`; none: every type), as Waldur's prepare_messages does: the payload
carries `object_type` and `offering_uuid`, by which the agent routes it, plus the fields its handler reads
(docs/compatibility.md, "Event queues"). Delivery is at most once; an agent catches a lost message up by
its periodic reconciliation.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder

from efp.events.models import Event
from efp.marketplace import rabbitmq
from efp.marketplace.models import AgentIdentity, Offering, OfferingUser, Order, Resource
from efp.marketplace.states import ResourceState
from efp.structure.access import project_roles

logger = logging.getLogger(__name__)

ORDER, RESOURCE, OFFERING_USER, USER_ROLE = "order", "resource", "offering_user", "user_role"
# What `register_queue` accepts in `object_types` (Waldur's ObservableObjectTypeEnum); we send four.
OBJECT_TYPES = (
    "course_account",
    "importable_resources",
    "offering_resources_sync",
    "offering_user",
    "order",
    "resource",
    "resource_api_key_rotation",
    "resource_end_date_change_request",
    "resource_periodic_limits",
    "service_account",
    "user_lifecycle",
    "user_profile",
    "user_role",
    "user_ssh_key",
)


def pushing() -> bool:
    return bool(settings.EFP_RABBITMQ_URL)


def _push(offering_id: int, object_type: str, payload: dict[str, Any]) -> None:
    if not pushing():
        return
    from efp.marketplace.tasks import publish_agent_message  # the task module imports this one

    plain = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))  # task arguments are JSON
    publish_agent_message.enqueue(offering_id, object_type, plain)


def order_changed(order: Order, keys: dict[str, Any]) -> None:
    """An order was created or moved; `keys`: its event keys (`events.order_keys`)."""
    if not pushing():
        return
    payload = {
        "order_uuid": order.uuid.hex,
        "order_state": order.state,
        "order_type": order.type,
        "resource_uuid": keys.get("resource_uuid"),
        "resource_backend_id": order.resource.backend_id if order.resource is not None else "",
        "resource_name": keys.get("resource_name"),
        "project_uuid": keys.get("project_uuid"),
        "project_name": keys.get("project_name"),
        "attributes": order.attributes,
        "limits": order.limits,
    }
    _push(order.offering_id, ORDER, payload)


def resource_changed(resource: Resource, keys: dict[str, Any]) -> None:
    """A resource's state, limits or end date changed; `keys`: its event keys (`events.resource_keys`)."""
    if not pushing():
        return
    payload = {
        "resource_uuid": resource.uuid.hex,
        "resource_backend_id": resource.backend_id,
        "resource_name": resource.name,
        "resource_state": resource.state,
        "project_uuid": keys.get("project_uuid"),
        "project_name": keys.get("project_name"),
        "limits": resource.limits,
        "downscaled": resource.downscaled,
        "restrict_member_access": resource.restrict_member_access,
        "paused": resource.paused,
    }
    _push(resource.offering_id, RESOURCE, payload)


def offering_user_changed(offering_user: OfferingUser, action: str) -> None:
    """`action`: create, update, username_set (the agent then adds the account to the user's resources)."""
    if not pushing():
        return
    payload = {
        "offering_user_uuid": offering_user.uuid.hex,
        "user_uuid": offering_user.user.uuid.hex,
        "username": offering_user.username,
        "state": offering_user.state,
        "action": action,
        "attributes": {},
        "changed_attributes": [],
    }
    _push(offering_user.offering_id, OFFERING_USER, payload)


ROLE_GRANTED = {"role_granted": True, "role_revoked": False}  # role_updated moves an end: no message


def role_changed(event: Event) -> None:
    """The events dispatcher: a project role granted or revoked → a `user_role` message (Waldur's fields)
    to each offering with an OK resource in the project, as Waldur's process_role_changed; the agent then
    adds the person's offering user to those accounts or removes it."""
    granted = ROLE_GRANTED.get(event.event_type)
    if granted is None or event.project_id is None or event.user_id is None or not pushing():
        return
    context = event.context
    if not str(context.get("role", "")).startswith("PROJECT."):
        return
    offering_ids = list(
        Resource.objects.filter(project_id=event.project_id, state=ResourceState.OK)
        .values_list("offering_id", flat=True)
        .distinct()
        .order_by("offering_id")
    )
    if not offering_ids:
        return
    email = get_user_model().objects.filter(pk=event.user_id).values_list("email", flat=True).first()
    payload = {
        "user_uuid": context.get("affected_user_uuid"),
        "user_username": context.get("affected_user_username"),
        "user_email": email or "",
        "user_full_name": context.get("affected_user_full_name"),
        "project_uuid": context.get("project_uuid"),
        "project_name": context.get("project_name"),
        "role_name": context.get("role"),
        "granted": granted,
    }
    for offering_id in offering_ids:
        _push(offering_id, USER_ROLE, payload)


# --- the worker's side ----------------------------------------------------------------------------


def _backend_ids_of(offering_user: OfferingUser) -> list[str]:
    """The backend ids of the offering's live resources in projects where the account's person works."""
    resources = project_roles(offering_user.user).filter(
        Resource.objects.filter(
            offering_id=offering_user.offering_id, state__in=[ResourceState.OK, ResourceState.ERRED]
        ).exclude(backend_id=""),
        "project_id",
    )
    return sorted(resources.values_list("backend_id", flat=True))


def message(offering: Offering, object_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The message as sent: the payload with `object_type` and `offering_uuid` (and, for `username_set`,
    the resources to add the account to, read now)."""
    found = {**payload, "object_type": object_type, "offering_uuid": offering.uuid.hex}
    if object_type == OFFERING_USER and payload.get("action") == "username_set":
        accounts = OfferingUser.objects.select_related("user")
        account = accounts.filter(uuid=payload["offering_user_uuid"]).first()
        found["resource_backend_ids"] = _backend_ids_of(account) if account is not None else []
    return found


def publish(*, offering_id: int, object_type: str, payload: dict[str, Any]) -> str:
    """Sends the message to every registered queue of the offering that wants the type; a queue that
    fails is logged and skipped (the others still get it). Says what was done."""
    offering = Offering.objects.filter(pk=offering_id).first()
    if offering is None or not pushing():
        return "nothing to do"
    queues = [
        identity
        for identity in AgentIdentity.objects.filter(offering_id=offering_id).exclude(rmq_username="")
        if not identity.object_types or object_type in identity.object_types
    ]
    if not queues:
        return "no queue wants it"
    body = message(offering, object_type, payload)
    sent: list[str] = []
    failed: list[str] = []
    for identity in queues:
        try:
            routed = rabbitmq.publish(vhost=identity.rmq_vhost, queue=identity.queue_name, message=body)
        except rabbitmq.BrokerError as error:
            logger.warning("Could not publish to %s: %s", identity.queue_name, error)
            failed.append(identity.queue_name)
            continue
        (sent if routed else failed).append(identity.queue_name)
    return f"sent to {len(sent)} queue(s)" + (f"; not to {', '.join(failed)}" if failed else "")
