"""The context of events about organisations, projects and roles, with Waldur's keys.

Builders read only what the caller has loaded (ids, names, uuids of the objects it holds); they never
query. `efp/marketplace/events.py` extends them for offerings, resources, orders and usage. Keys
(docs/architecture.md, "Events"): uuids as hex without dashes, like Waldur; the actor as `user_*`.
"""

from __future__ import annotations

import datetime
from typing import Any

from efp.events.recorder import Scopes, record
from efp.rest.addresses import current_address
from efp.structure.models import Customer, Project
from efp.structure.roles import Role


def actor_keys(actor: Any) -> dict[str, str]:
    """`user_uuid`, `user_username`, `user_full_name` of whoever acted (nothing for the system)."""
    if not getattr(actor, "is_authenticated", False):
        return {}
    return {
        "user_uuid": actor.uuid.hex,
        "user_username": actor.username,
        "user_full_name": actor.get_full_name(),
    }


def customer_keys(customer: Customer) -> dict[str, str]:
    return {"customer_uuid": customer.uuid.hex, "customer_name": customer.name}


def project_keys(project: Project) -> dict[str, str]:
    """The project and its organisation (`project.customer` loaded by the caller)."""
    return {**customer_keys(project.customer), "project_uuid": project.uuid.hex, "project_name": project.name}


# --- roles ----------------------------------------------------------------------------------------

ROLE_MESSAGES = {
    "role_granted": "User {user} has gained role of {role} in {scope}.",
    "role_updated": "Role of user {user} in {scope} has been updated.",
    "role_revoked": "User {user} has lost role of {role} in {scope}.",
}


def record_role_event(
    event_type: str,
    *,
    holder: Any,
    role: Role | str,
    actor: Any,
    scopes: Scopes,
    scope_keys: dict[str, str],
    scope_name: str,
    expiration_time: datetime.datetime | None = None,
) -> None:
    """A role event: scopes name the organisation (and the project or offering) and `user_id` the holder."""
    role = Role(role)
    context = {
        **scope_keys,
        **actor_keys(actor),
        "role": role.value,
        "role_name": role.label,
        "affected_user_uuid": holder.uuid.hex,
        "affected_user_username": holder.username,
        "affected_user_full_name": holder.get_full_name(),
        "expiration_time": expiration_time.isoformat() if expiration_time else None,
        "ip_address": current_address(),  # the access audit: where the change came from ("": no request)
    }
    message = ROLE_MESSAGES[event_type].format(user=holder.username, role=role.label, scope=scope_name)
    record(event_type, message, scopes=scopes, context=context, actor=actor)


def record_team_role_event(
    event_type: str,
    *,
    scope: Customer | Project,
    holder: Any,
    role: Role | str,
    actor: Any,
    expiration_time: datetime.datetime | None = None,
) -> None:
    """A role in an organisation or a project."""
    if isinstance(scope, Customer):
        scopes = Scopes(customer_id=scope.pk, user_id=holder.pk)
        keys = customer_keys(scope)
    else:
        scopes = Scopes(customer_id=scope.customer_id, project_id=scope.pk, user_id=holder.pk)
        keys = project_keys(scope)
    record_role_event(
        event_type,
        holder=holder,
        role=role,
        actor=actor,
        scopes=scopes,
        scope_keys=keys,
        scope_name=scope.name,
        expiration_time=expiration_time,
    )
