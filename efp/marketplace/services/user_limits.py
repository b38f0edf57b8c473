"""Per-user usage limits of a resource's components (Waldur's `ComponentUserUsageLimit`): how much of a
component one offering user may use. The consumer sets them; the site agent's membership sync reads them
and applies them to each user's backend association.

Who may set, change and remove them: staff, and whoever holds `RESOURCE.CONSUMPTION_LIMITATION` on the
resource's project (its organisation's owners, the project's managers), as in Waldur.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from efp.errors import Forbidden, InvalidInput
from efp.marketplace.models import ComponentUserUsageLimit, OfferingComponent, OfferingUser, Resource
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission

UNIQUE = "The fields resource, component, user must make a unique set."


def may_limit_users(user: Any, resource: Resource) -> bool:
    return has_permission(user, Permission.RESOURCE_CONSUMPTION_LIMITATION, projects=[resource.project_id])


@dataclass(frozen=True)
class UserLimit:
    resource: Resource
    component: OfferingComponent
    user: OfferingUser
    limit: Decimal


def _check(actor: Any, limit: UserLimit) -> None:
    if not may_limit_users(actor, limit.resource):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    if limit.component.offering_id != limit.resource.offering_id:
        errors["component"] = ["The component is not a component of the resource's offering."]
    if limit.user.offering_id != limit.resource.offering_id:
        errors["user"] = ["The offering user is not a user of the resource's offering."]
    if limit.limit < 0:
        errors["limit"] = ["Ensure this value is greater than or equal to 0."]
    if errors:
        raise InvalidInput(errors)


def _save(row: ComponentUserUsageLimit) -> ComponentUserUsageLimit:
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as error:
        raise InvalidInput({"non_field_errors": [UNIQUE]}) from error
    return row


@transaction.atomic
def set_user_limit(*, actor: Any, limit: UserLimit) -> ComponentUserUsageLimit:
    _check(actor, limit)
    taken = ComponentUserUsageLimit.objects.filter(
        resource=limit.resource, component=limit.component, user=limit.user
    )
    if taken.exists():
        raise InvalidInput({"non_field_errors": [UNIQUE]})
    return _save(
        ComponentUserUsageLimit(
            resource=limit.resource, component=limit.component, user=limit.user, limit=limit.limit
        )
    )


@transaction.atomic
def change_user_limit(
    *, actor: Any, row: ComponentUserUsageLimit, limit: UserLimit
) -> ComponentUserUsageLimit:
    """Replaces every field of `row` with `limit` (a PATCH fills in the row's own values first)."""
    if not may_limit_users(actor, row.resource):
        raise Forbidden()
    _check(actor, limit)
    row.resource, row.component, row.user = limit.resource, limit.component, limit.user
    row.limit = limit.limit
    row.modified = timezone.now()
    return _save(row)


@transaction.atomic
def remove_user_limit(*, actor: Any, row: ComponentUserUsageLimit) -> None:
    if not may_limit_users(actor, row.resource):
        raise Forbidden()
    row.delete()
