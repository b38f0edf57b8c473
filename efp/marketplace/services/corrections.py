"""Who may correct which month of a resource's usage, with a reason (issue 16).

The rule is written once here and read by the correction verb, CSV imports of closed months, the GUI's
buttons and the API. The current month is corrected by whoever may report usage; a closed (past) month by
staff always, otherwise by the roles the offering names (`Offering.usage_corrected_by`), and only
`Offering.usage_correction_months` months back.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of
from efp.marketplace.models import Offering, Resource
from efp.marketplace.services.guard import Kind, Refusal
from efp.marketplace.services.usage import can_report_usage
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission

MSG_REASON = "A reason is required for a correction."
By = Offering.CorrectedBy


def oldest_correctable(offering: Offering, today: datetime.date | None = None) -> datetime.date:
    """The first day of the oldest closed month the offering's correctors may still correct."""
    current = billing_period_of(timezone.now()) if today is None else today.replace(day=1)
    return add_months(current, -offering.usage_correction_months)


def may_correct_closed(user: Any, offering: Offering) -> bool:
    """Whether `user` has the role the offering asks of correctors of closed months (window aside)."""
    if getattr(user, "is_staff", False):
        return True
    if offering.usage_corrected_by == By.STAFF:
        return False
    if offering.usage_corrected_by == By.OWNERS:
        # The organisation half of RESOURCE.SET_USAGE: the provider's owners, not offering managers.
        return has_permission(user, Permission.RESOURCE_SET_USAGE, customers=[offering.customer_id])
    return has_permission(
        user, Permission.RESOURCE_SET_USAGE, customers=[offering.customer_id], offerings=[offering]
    )


def correction_refusal(*, user: Any, resource: Resource, month: datetime.date) -> Refusal | None:
    """None when `user` may correct `resource`'s usage of `month` (its first day), else why not."""
    current = billing_period_of(timezone.now())
    offering = resource.offering
    if month > current:
        return Refusal(Kind.INVALID, "Usage of a future month cannot be corrected.")
    if getattr(user, "is_staff", False):
        return None
    if month == current:
        if can_report_usage(user, resource):
            return None
        return Refusal(Kind.FORBIDDEN, "Only the provider's owners and offering managers may correct it.")
    if not may_correct_closed(user, offering):
        who = By(offering.usage_corrected_by).label
        who = who[0].lower() + who[1:]
        return Refusal(Kind.FORBIDDEN, f"Closed months of {offering.name} may be corrected by {who} only.")
    oldest = oldest_correctable(offering)
    if month < oldest:
        return Refusal(
            Kind.FORBIDDEN,
            f"Usage of {offering.name} may be corrected back to {oldest:%B %Y} only;"
            " ask staff for older months.",
        )
    return None
