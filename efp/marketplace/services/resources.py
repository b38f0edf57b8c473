"""Provider verbs on resources (docs/contract.md §6.3): the site agent's and the provider GUI's writes.

Each verb starts with `guard.check` on its entry in `verbs.py`. State changes go through
`transition_resource`; other fields are plain updates of the one row.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import InvalidInput
from efp.marketplace import events
from efp.marketplace.models import Resource, ResourceEndpoint
from efp.marketplace.services import coverage_months, limit_usage
from efp.marketplace.services._transitions import refresh, transition_resource
from efp.marketplace.services.guard import check, may
from efp.marketplace.services.history import record_deletion
from efp.marketplace.states import ResourceState
from efp.marketplace.verbs import RESOURCE_VERBS

END_DATE_NOTICE_DAYS = 7


def _may(verb: str, user: Any, resource: Resource) -> bool:
    return may(RESOURCE_VERBS[verb], resource, user)


# For the API, which asks who may before it reads the body (docs/contract.md §1.6).
def can_set_backend_id(user: Any, resource: Resource) -> bool:
    return _may("set_backend_id", user, resource)


def can_sync(user: Any, resource: Resource) -> bool:
    return _may("set_limits", user, resource)


def can_set_backend_metadata(user: Any, resource: Resource) -> bool:
    return _may("set_backend_metadata", user, resource)


def can_submit_report(user: Any, resource: Resource) -> bool:
    return _may("submit_report", user, resource)


def can_set_end_date(user: Any, resource: Resource) -> bool:
    return _may("set_end_date_by_provider", user, resource)


def _update(resource: Resource, **fields: Any) -> Resource:
    Resource.objects.filter(pk=resource.pk).update(modified=timezone.now(), **fields)
    refresh(resource)
    return resource


@transaction.atomic
def set_resource_backend_id(*, resource: Resource, user: User, backend_id: str) -> bool:
    """Returns whether the value changed."""
    check("set_backend_id", resource, user)
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
    check("set_limits", resource, user)
    clean = clean_limits(resource, limits)
    old = dict(resource.limits or {})
    if clean == old:
        return _update(resource)
    keys = events.resource_keys(resource)
    resource = _update(resource, limits=clean)
    limit_usage.refresh([resource.pk])
    events.limits_set(resource, old, keys=keys, actor=user)
    return resource


@transaction.atomic
def set_resource_backend_metadata(
    *, resource: Resource, user: User, backend_metadata: dict[str, Any]
) -> Resource:
    check("set_backend_metadata", resource, user)
    return _update(resource, backend_metadata=dict(backend_metadata))


@transaction.atomic
def set_resource_endpoints(*, resource: Resource, user: User, endpoints: list[dict[str, str]]) -> Resource:
    """Replaces the resource's access endpoints with `endpoints` ([{name, url}]); [] removes them all."""
    check("set_endpoints", resource, user)
    ResourceEndpoint.objects.filter(resource=resource).delete()
    ResourceEndpoint.objects.bulk_create(
        ResourceEndpoint(resource=resource, name=item["name"], url=item["url"]) for item in endpoints
    )
    return _update(resource)


@transaction.atomic
def submit_resource_report(*, resource: Resource, user: User, report: list[dict[str, str]]) -> Resource:
    check("submit_report", resource, user)
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
    check("set_end_date_by_provider", resource, user)
    if end_date is not None and end_date < timezone.localdate() + datetime.timedelta(
        days=END_DATE_NOTICE_DAYS
    ):
        raise InvalidInput({"end_date": [f"Please set at least {END_DATE_NOTICE_DAYS} days in advance."]})
    old = resource.end_date
    keys = events.resource_keys(resource)
    resource = _update(
        resource, end_date=end_date, end_date_requested_by=user if end_date is not None else None
    )
    if end_date != old:
        events.end_date_set(resource, old, keys=keys, actor=user)
    return resource


@transaction.atomic
def set_resource_erred(
    *, resource: Resource, user: User, error_message: str = "", error_traceback: str = ""
) -> Resource:
    check("set_as_erred", resource, user)
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
    check("set_as_ok", resource, user)
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
    check("set_state_ok", resource, user)
    return set_resource_ok(resource=resource, user=user)


@transaction.atomic
def refresh_resource_last_sync(*, resource: Resource, user: User) -> Resource:
    check("refresh_last_sync", resource, user)
    return _update(resource, last_sync=timezone.now())


@transaction.atomic
def unlink_resource(*, resource: Resource, user: User) -> None:
    """Deletes the resource and everything hanging off it from our database, with no backend call (staff)."""
    check("unlink", resource, user)
    record_deletion(resource, actor=user, reason="unlinked by staff")
    with coverage_months.kept([resource.pk], window=True):  # its live and reported months go with it
        Resource.objects.filter(pk=resource.pk).delete()
