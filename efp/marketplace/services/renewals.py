"""Renewals and end dates (docs/compatibility.md "Renewals and end dates"): the consumer's `renew`
(an Update order carrying `action: "renew"`, the extension and, for an extension request, a
justification), the consumer's and staff's end-date edits, and the end-date job's terminations.

Who may and from which state is `verbs.py` (`renew`, `set_end_date_by_consumer`, `set_end_date_by_staff`);
the order then goes the usual way (`services/orders.py`): consumer approval rules, provider review, and
on done the resource's end date (and limits) change.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import InvalidInput
from efp.marketplace import events
from efp.marketplace.models import Order, Resource
from efp.marketplace.services.guard import check
from efp.marketplace.services.order_validation import validate_limits
from efp.marketplace.services.orders import create_order, terminate_by_system
from efp.marketplace.services.renewal_dates import MAX_EXTENSION_MONTHS, RENEW, new_end_date
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderType, ResourceState
from efp.marketplace.verbs import RESOURCE_VERBS

RV = RESOURCE_VERBS
ENDED_REASON = "The allocation's end date has passed."
JUSTIFICATION_MAX = 4000


def guard_renew_resource(*, resource: Resource, user: User) -> None:
    """403 / 409 before the body is read (docs/contract.md §1.6)."""
    check(RV["renew"], resource, user, conditions=False)


def guard_set_end_date_by_consumer(*, resource: Resource, user: User) -> None:
    check(RV["set_end_date_by_consumer"], resource, user, conditions=False)


def guard_set_end_date_by_staff(*, resource: Resource, user: User) -> None:
    check(RV["set_end_date_by_staff"], resource, user, conditions=False)


def clean_extension_months(value: Any, *, least: int = 1) -> int:
    if isinstance(value, bool) or value in (None, ""):
        raise InvalidInput({"extension_months": ["This field is required."]})
    try:
        months = int(str(value))
    except ValueError:
        raise InvalidInput({"extension_months": ["A valid integer is required."]}) from None
    if months < least:
        raise InvalidInput({"extension_months": [f"Ensure this value is greater than or equal to {least}."]})
    if months > MAX_EXTENSION_MONTHS:
        raise InvalidInput(
            {"extension_months": [f"Ensure this value is less than or equal to {MAX_EXTENSION_MONTHS}."]}
        )
    return months


def clean_upgrade(resource: Resource, limits: Any) -> dict[str, int]:
    """The resource's limits with the asked ones: upgrades only (a smaller limit is refused)."""
    asked = validate_limits(resource.offering, limits)
    current = {key: int(value) for key, value in (resource.limits or {}).items()}
    lower = [
        f"The limit of {key} must not be below the current {current[key]}: a renewal only raises limits."
        for key, value in sorted(asked.items())
        if value < current.get(key, 0)
    ]
    if lower:
        raise InvalidInput({"limits": lower})
    return {**current, **asked}


def renew_resource(
    *,
    resource: Resource,
    user: User,
    extension_months: Any,
    limits: Any = None,
    justification: str = "",
    request_comment: str | None = None,
    extension_request: bool = False,
) -> Order:
    """Places the renew order; nothing changes on the resource until the provider completes it.

    An extension request (the GUI's) needs a justification and may ask for larger limits only (0 months);
    the API's `renew` asks for at least one month, as Waldur's."""
    check(RV["renew"], resource, user)
    months = clean_extension_months(extension_months, least=0 if extension_request else 1)
    justification = (justification or "").strip()
    if extension_request and not justification:
        raise InvalidInput({"justification": ["Say why the allocation needs more."]})
    if len(justification) > JUSTIFICATION_MAX:
        raise InvalidInput({"justification": [f"At most {JUSTIFICATION_MAX} characters."]})
    current = {key: int(value) for key, value in (resource.limits or {}).items()}
    new_limits = clean_upgrade(resource, limits) if limits not in (None, {}, "") else current
    if months == 0 and new_limits == current:
        raise InvalidInput({"extension_months": ["Ask for more months, larger limits or both."]})
    today = timezone.localdate()
    new_end = new_end_date(resource.end_date, months, today=today) if months else resource.end_date
    attributes: dict[str, Any] = {
        "action": RENEW,
        "name": resource.name,
        "extension_months": months,
        "old_end_date": resource.end_date.isoformat() if resource.end_date else None,
        "new_end_date": new_end.isoformat() if new_end else None,
    }
    if new_limits != current:
        attributes["old_limits"] = current  # a limit change too (docs/contract.md §5.3)
    if justification:
        attributes["justification"] = justification
    return create_order(
        user=user,
        project=resource.project,
        offering=resource.offering,
        plan=resource.plan,
        order_type=OrderType.UPDATE,
        resource=resource,
        attributes=attributes,
        limits=new_limits if new_limits != current else {},
        request_comment=request_comment,
    )


def _set_end_date(resource: Resource, user: User, end_date: datetime.date | None) -> Resource:
    if end_date is not None and end_date < timezone.localdate():
        raise InvalidInput({"end_date": ["The end date must not be in the past."]})
    old, keys = resource.end_date, events.resource_keys(resource)
    Resource.objects.filter(pk=resource.pk).update(
        end_date=end_date,
        end_date_requested_by=user if end_date is not None else None,
        modified=timezone.now(),
    )
    resource.refresh_from_db()
    if end_date != old:
        events.end_date_set(resource, old, keys=keys, actor=user)
    return resource


@transaction.atomic
def set_end_date_by_consumer(*, resource: Resource, user: User, end_date: datetime.date | None) -> Resource:
    """`PATCH end_date` on the consumer's resource: not in the past; None clears it."""
    check(RV["set_end_date_by_consumer"], resource, user)
    return _set_end_date(resource, user, end_date)


@transaction.atomic
def set_end_date_by_staff(*, resource: Resource, user: User, end_date: datetime.date | None) -> Resource:
    check(RV["set_end_date_by_staff"], resource, user)
    return _set_end_date(resource, user, end_date)


def ended_resources(*, today: datetime.date, grace_days: int) -> list[Resource]:
    """Live resources whose end date is more than `grace_days` ago, with no open order (an extension
    request waits for its decision) and no Terminate order for this end date already."""
    cutoff = today - datetime.timedelta(days=grace_days)
    open_order = Order.objects.filter(resource=OuterRef("pk"), state__in=list(ACTIVE_ORDER_STATES))
    return list(
        Resource.objects.filter(end_date__isnull=False, end_date__lt=cutoff)
        .filter(state__in=[ResourceState.OK, ResourceState.ERRED])
        .exclude(Exists(open_order))
        .select_related("project__customer", "offering__customer", "plan")
        .order_by("end_date", "pk")
    )


def terminate_ended_resources(*, today: datetime.date | None = None, grace_days: int) -> list[Order]:
    """The daily job's work: one Terminate order per ended resource, each in its own transaction."""
    today = today or timezone.localdate()
    placed = []
    for resource in ended_resources(today=today, grace_days=grace_days):
        assert resource.end_date is not None
        ended_on = resource.end_date.isoformat()
        if Order.objects.filter(
            resource=resource, type=OrderType.TERMINATE, attributes__ended_on=ended_on
        ).exists():
            continue  # placed before and failed: a person decides now, the job never places a second
        with transaction.atomic():
            placed.append(
                terminate_by_system(resource=resource, attributes={"ended_on": ended_on}, reason=ENDED_REASON)
            )
    return placed
