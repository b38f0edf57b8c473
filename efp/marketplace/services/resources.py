"""Provider verbs on resources (docs/contract.md §6.3): the site agent's and the provider GUI's writes.

State changes go through `transition_resource`; other fields are plain updates of the one row.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput
from efp.marketplace.models import Resource, ResourceEndpoint
from efp.marketplace.services._transitions import require_resource_state, transition_resource
from efp.marketplace.services.history import record_deletion
from efp.marketplace.states import ResourceState
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission

END_DATE_NOTICE_DAYS = 7


def can_act_as_provider(user: Any, permission: Permission, resource: Resource) -> bool:
    """`permission` through a role in the offering's organisation or on the offering itself."""
    offering = resource.offering
    return has_permission(user, permission, customers=[offering.customer], offerings=[offering])


# The permission each provider verb needs. Waldur has no dedicated permission for the agent's
# synchronisation calls (set_limits, set_as_erred/ok, refresh_last_sync); they take the backend-id one,
# which the provider's owner, service managers and offering managers hold.
SYNC_PERMISSION = Permission.RESOURCE_SET_BACKEND_ID


def can_set_backend_id(user: Any, resource: Resource) -> bool:
    return can_act_as_provider(user, Permission.RESOURCE_SET_BACKEND_ID, resource)


def can_sync(user: Any, resource: Resource) -> bool:
    return can_act_as_provider(user, SYNC_PERMISSION, resource)


def can_set_backend_metadata(user: Any, resource: Resource) -> bool:
    return can_act_as_provider(user, Permission.RESOURCE_SET_BACKEND_METADATA, resource)


def can_submit_report(user: Any, resource: Resource) -> bool:
    return can_act_as_provider(user, Permission.RESOURCE_SUBMIT_REPORT, resource)


def can_set_end_date(user: Any, resource: Resource) -> bool:
    return bool(getattr(user, "is_support", False)) or can_act_as_provider(
        user, Permission.RESOURCE_SET_END_DATE, resource
    )


def _require(allowed: bool) -> None:
    if not allowed:
        raise Forbidden()


def _update(resource: Resource, **fields: Any) -> Resource:
    Resource.objects.filter(pk=resource.pk).update(modified=timezone.now(), **fields)
    resource.refresh_from_db()
    return resource


@transaction.atomic
def set_resource_backend_id(*, resource: Resource, user: User, backend_id: str) -> bool:
    """Returns whether the value changed."""
    _require(can_set_backend_id(user, resource))
    if resource.backend_id == backend_id:
        return False
    _update(resource, backend_id=backend_id)
    return True


def clean_limits(resource: Resource, limits: Any) -> dict[str, int]:
    """Whole, non-negative numbers for components of the resource's offering."""
    if not isinstance(limits, dict):
        raise InvalidInput({"limits": ["Expected a dictionary of items."]})
    types = {c.type for c in resource.offering.components.all()}
    unknown = sorted(str(key) for key in limits if key not in types)
    if unknown:
        raise InvalidInput({"limits": [f"Invalid types: {', '.join(unknown)}"]})
    clean: dict[str, int] = {}
    problems = []
    for key, raw in limits.items():
        whole = isinstance(raw, int) or (isinstance(raw, float) and math.isfinite(raw) and raw.is_integer())
        if isinstance(raw, bool) or not whole or raw < 0:
            problems.append(f"The limit of {key} must be a whole number not below 0.")
            continue
        clean[key] = int(raw)
    if problems:
        raise InvalidInput({"limits": problems})
    return clean


@transaction.atomic
def set_resource_limits(*, resource: Resource, user: User, limits: dict[str, Any]) -> Resource:
    """A direct change of the limits, with no order: the backend already has them (agent sync)."""
    _require(can_sync(user, resource))
    require_resource_state(resource, [s for s in ResourceState if s != ResourceState.TERMINATED])
    return _update(resource, limits=clean_limits(resource, limits))


@transaction.atomic
def set_resource_backend_metadata(
    *, resource: Resource, user: User, backend_metadata: dict[str, Any]
) -> Resource:
    _require(can_set_backend_metadata(user, resource))
    return _update(resource, backend_metadata=dict(backend_metadata))


@transaction.atomic
def set_resource_endpoints(*, resource: Resource, user: User, endpoints: list[dict[str, str]]) -> Resource:
    """Replaces the resource's access endpoints with `endpoints` ([{name, url}]); [] removes them all."""
    _require(can_sync(user, resource))
    require_resource_state(resource, [s for s in ResourceState if s != ResourceState.TERMINATED])
    ResourceEndpoint.objects.filter(resource=resource).delete()
    ResourceEndpoint.objects.bulk_create(
        ResourceEndpoint(resource=resource, name=item["name"], url=item["url"]) for item in endpoints
    )
    return _update(resource)


@transaction.atomic
def submit_resource_report(*, resource: Resource, user: User, report: list[dict[str, str]]) -> Resource:
    _require(can_submit_report(user, resource))
    if not report:
        raise InvalidInput({"report": ["Report object should contain at least one section."]})
    sections = []
    for section in report:
        if not isinstance(section, dict) or not section.get("header") or not section.get("body"):
            raise InvalidInput({"report": ["Each section needs a header and a body."]})
        sections.append({"header": str(section["header"]), "body": str(section["body"])})
    return _update(resource, report=sections)


@transaction.atomic
def set_resource_end_date_by_provider(
    *, resource: Resource, user: User, end_date: datetime.date | None
) -> Resource:
    """At least a week ahead, so the consumer has time to react; None clears the date."""
    _require(can_set_end_date(user, resource))
    require_resource_state(resource, [s for s in ResourceState if s != ResourceState.TERMINATED])
    if end_date is not None and end_date < timezone.localdate() + datetime.timedelta(
        days=END_DATE_NOTICE_DAYS
    ):
        raise InvalidInput({"end_date": [f"Please set at least {END_DATE_NOTICE_DAYS} days in advance."]})
    return _update(resource, end_date=end_date, end_date_requested_by=user if end_date is not None else None)


@transaction.atomic
def set_resource_erred(
    *, resource: Resource, user: User, error_message: str = "", error_traceback: str = ""
) -> Resource:
    _require(can_sync(user, resource))
    return transition_resource(
        resource,
        ResourceState.ERRED,
        actor=user,
        reason=error_message or "set as erred by provider",
        error_message=error_message or "",
        error_traceback=(error_traceback or "").strip(),
    )


@transaction.atomic
def set_resource_ok(*, resource: Resource, user: User) -> Resource:
    """→ OK from any live state, clearing the error fields (`set_as_ok`)."""
    _require(can_sync(user, resource))
    return transition_resource(
        resource,
        ResourceState.OK,
        actor=user,
        reason="set as OK by provider",
        error_message="",
        error_traceback="",
    )


@transaction.atomic
def recover_resource(*, resource: Resource, user: User) -> Resource:
    """Erred → OK (`set_state_ok`): `set_as_ok` restricted to erred resources."""
    _require(can_sync(user, resource))
    require_resource_state(resource, [ResourceState.ERRED])
    return set_resource_ok(resource=resource, user=user)


@transaction.atomic
def refresh_resource_last_sync(*, resource: Resource, user: User) -> Resource:
    _require(can_sync(user, resource))
    return _update(resource, last_sync=timezone.now())


@transaction.atomic
def unlink_resource(*, resource: Resource, user: User) -> None:
    """Deletes the resource and everything hanging off it from our database, with no backend call (staff)."""
    _require(bool(user.is_staff))
    record_deletion(resource, actor=user, reason="unlinked by staff")
    Resource.objects.filter(pk=resource.pk).delete()
