"""Who may correct which month of a resource's usage, with a reason (issue 16).

The rule is written once here and read by the correction verb, CSV imports of closed months, the GUI's
buttons and the API. The current month is corrected by whoever may report usage; a closed (past) month by
staff always, otherwise by the roles the offering names (`Offering.usage_corrected_by`), and only
`Offering.usage_correction_months` months back.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.errors import InvalidInput
from efp.marketplace import events
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    ComponentUsage,
    Offering,
    OfferingComponent,
    Resource,
    UsageRevision,
    scope_of,
)
from efp.marketplace.services import coverage_months, limit_usage
from efp.marketplace.services.guard import Kind, Refusal
from efp.marketplace.services.usage import (
    PROVIDER_BACKFILL_BILLING_TYPES,
    _amount_errors,
    _locked,
    _revision,
    can_report_usage,
    set_current_usage,
)
from efp.marketplace.services.usage_periods import find_usage, plan_period_for
from efp.rawsql import update_row
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission

MSG_REASON = "A reason is required for a correction."
MAX_REASON = 2000
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


class _Roles:
    """What `correction_refusal` asks of the user's roles, asked at most once each (a form asks it of every
    month of its selector)."""

    def __init__(self, user: Any, resource: Resource) -> None:
        self.user, self.resource = user, resource

    @cached_property
    def may_report(self) -> bool:
        return can_report_usage(self.user, self.resource)

    @cached_property
    def may_correct_closed(self) -> bool:
        return may_correct_closed(self.user, self.resource.offering)


def correction_refusal(*, user: Any, resource: Resource, month: datetime.date) -> Refusal | None:
    """None when `user` may correct `resource`'s usage of `month` (its first day), else why not."""
    return _refusal(_Roles(user, resource), month)


def _refusal(roles: _Roles, month: datetime.date) -> Refusal | None:
    current = billing_period_of(timezone.now())
    offering = roles.resource.offering
    if month > current:
        return Refusal(Kind.INVALID, "Usage of a future month cannot be corrected.")
    if getattr(roles.user, "is_staff", False):
        return None
    if month == current:
        if roles.may_report:
            return None
        return Refusal(Kind.FORBIDDEN, "Only the provider's owners and offering managers may correct it.")
    if not roles.may_correct_closed:
        who = By(offering.usage_corrected_by).label.removesuffix(
            " only"
        )  # "Staff only": not "staff only only"
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


def report_corrections(
    *, user: Any, resource: Resource, components: list[OfferingComponent], months: list[datetime.date]
) -> dict[str, dict[datetime.date, Refusal | None]]:
    """What Report usage (`report_month_usage`) does with a value of each component for each month, where it
    is not a plain report: per component type, the months whose value is a correction (`needs_correction`),
    each with None (taken, with a reason) or the refusal of `correction_refusal`."""
    roles = _Roles(user, resource)
    refusals: dict[datetime.date, Refusal | None] = {}
    answer: dict[str, dict[datetime.date, Refusal | None]] = {}
    for component in components:
        for month in months:
            if needs_correction(user, component, month):
                if month not in refusals:
                    refusals[month] = _refusal(roles, month)
                answer.setdefault(component.type, {})[month] = refusals[month]
    return answer


def needs_correction(user: Any, component: OfferingComponent, month: datetime.date) -> bool:
    """Whether a value for `month` goes the correction way (with a reason) rather than a report: a closed
    month of a component that `set_usage` lets only staff back-fill (docs/contract.md §7.3 rule 7)."""
    closed = month < billing_period_of(timezone.now())
    staff = getattr(user, "is_staff", False)
    return closed and not staff and component.billing_type not in PROVIDER_BACKFILL_BILLING_TYPES


def clean_reason(reason: str | None) -> str:
    """The reason as stored; InvalidInput on `reason` when it is blank or too long."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput({"reason": [MSG_REASON]})
    if len(text) > MAX_REASON:
        raise InvalidInput({"reason": [f"Ensure this field has no more than {MAX_REASON} characters."]})
    return text


def _check(*, user: Any, resource: Resource, month: datetime.date, amount: Any, reason: str | None) -> str:
    """Refusal first (403/400 as its kind says), then the input (400 on `usage` or `reason`)."""
    refusal = correction_refusal(user=user, resource=resource, month=month)
    if refusal is not None:
        raise refusal.error()
    problems = _amount_errors(amount)
    if problems:
        raise InvalidInput({"usage": problems})
    return clean_reason(reason)


def correct_usage(
    *,
    user: Any,
    usage: ComponentUsage,
    amount: Decimal,
    reason: str,
    source: str = UsageRevision.Source.API,
    user_agent: str = "",
) -> ComponentUsage:
    """Sets a month's total to `amount` with a reason: the record, a revision (verb correction) and the
    event `marketplace_component_usage_corrected` in one transaction (the consumer is told by it).
    The value it already has writes nothing."""
    usage = ComponentUsage.objects.select_related("resource__offering", "component").get(pk=usage.pk)
    text = _check(
        user=user, resource=usage.resource, month=usage.billing_period, amount=amount, reason=reason
    )
    with transaction.atomic():
        resource = _locked(usage.resource, user)
        current = ComponentUsage.objects.select_related("component").get(pk=usage.pk)
        written = _write(user, resource, current, amount, text, source, user_agent)
        limit_usage.refresh_after_usage(resource.pk, [current.component])
        return written


def correct_month(
    *,
    user: Any,
    resource: Resource,
    component: OfferingComponent,
    month: datetime.date,
    amount: Decimal,
    reason: str,
    source: str = UsageRevision.Source.GUI,
    user_agent: str = "",
) -> ComponentUsage:
    """`correct_usage` for a month given by its first day; a month without a record gets one (from 0)."""
    resource = Resource.objects.select_related("offering").get(pk=resource.pk)  # the policy as it is now
    text = _check(user=user, resource=resource, month=month, amount=amount, reason=reason)
    with transaction.atomic():
        locked = _locked(resource, user)
        date = month_start(month)
        plan_period = plan_period_for(locked, date)
        current = find_usage(locked, component, month, plan_period)
        if current is None:
            with coverage_months.kept([locked.pk], [month]):  # maybe the resource's first report of the month
                current = ComponentUsage.objects.create(
                    resource=locked,
                    **scope_of(locked),
                    component=component,
                    component_type=component.type,
                    plan_period=plan_period,
                    usage=Decimal(0),
                    date=date,
                    billing_period=month,
                )
        elif current.plan_period_id is not None and current.pk is not None:
            update_row(ComponentUsage, current.pk, plan_period=current.plan_period_id)
        current.component = component
        written = _write(user, locked, current, amount, text, source, user_agent)
        limit_usage.refresh_after_usage(locked.pk, [component])
        return written


def _write(
    user: Any,
    resource: Resource,
    usage: ComponentUsage,
    amount: Decimal,
    reason: str,
    source: str,
    user_agent: str,
) -> ComponentUsage:
    amount = amount.quantize(Decimal("0.01"))
    old = usage.usage
    if old == amount:  # nothing to correct: no revision, no event, nobody told (as a repeated report)
        return usage
    actor = user if getattr(user, "is_authenticated", False) else None
    usage.usage, usage.modified_by, usage.modified = amount, actor, timezone.now()
    update_row(ComponentUsage, usage.pk, usage=amount, modified_by=actor, modified=usage.modified)
    _revision(
        component_usage=usage,
        old=old,
        new=amount,
        user=user,
        source=source,
        user_agent=user_agent,
        verb=UsageRevision.Verb.CORRECT,
        reason=reason,
    )
    component_type = usage.component.type
    if usage.billing_period == billing_period_of(timezone.now()):
        set_current_usage(resource.pk, component_type, amount)
    events.usage_corrected(
        resource,
        component_type=component_type,
        billing_period=usage.billing_period,
        usage=amount,
        old_usage=old,
        reason=reason,
        actor=user,
    )
    return usage
