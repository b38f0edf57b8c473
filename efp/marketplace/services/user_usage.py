"""Per-user usage verbs (docs/contract.md §7.4, §7.5) and the GUI's month report: totals with their
per-user rows in one transaction. The overall usage verbs and the locking read live in `usage`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from efp.errors import Forbidden, InvalidInput
from efp.events.recorder import record_many
from efp.marketplace import events
from efp.marketplace.billing_months import billing_period_of, month_start, zone
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    ComponentUserUsageLimit,
    OfferingComponent,
    Resource,
    UsageRevision,
    scope_of,
)
from efp.marketplace.services import coverage_months, limit_usage
from efp.marketplace.services.corrections import clean_reason, correct_month, needs_correction
from efp.marketplace.services.usage import (
    MAX_USER_USAGE_ITEMS,
    MSG_INVALID_STATE,
    UsageItem,
    UserUsageItem,
    _amount_errors,
    _check_date,
    _locked,
    _raise_item_errors,
    _revision,
    _with_retry,
    can_report_usage,
    set_current_usage,
    set_usage,
    too_many,
)
from efp.marketplace.services.usage_periods import plan_period_for
from efp.marketplace.states import USAGE_REPORTABLE_STATES
from efp.rawsql import update_each
from efp.structure.names import NAME_MESSAGE, has_control_characters

# --- per-user usage -----------------------------------------------------------------------------


def _validate_user_items(items: list[UserUsageItem], field: str | None) -> None:
    errors: list[dict[str, list[str]]] = []
    for item in items:
        item_errors: dict[str, list[str]] = {}
        if not item.username:
            item_errors["username"] = ["This field is required."]
        elif len(item.username) > 100:
            item_errors["username"] = ["Ensure this field has no more than 100 characters."]
        elif has_control_characters(item.username):
            item_errors["username"] = [NAME_MESSAGE]
        amount_errors = _amount_errors(item.usage)
        if amount_errors:
            item_errors["usage"] = amount_errors
        errors.append(item_errors)
    if field is None:
        if errors and errors[0]:
            raise InvalidInput(errors[0])
        return
    _raise_item_errors(field, errors)


def _target_usage(
    *, user: Any, resource: Resource, component_usage: ComponentUsage, date: datetime.datetime | None
) -> ComponentUsage | tuple[datetime.date, datetime.datetime]:
    """The record an item goes to: the given one, or (for a `date` in another month) that month's record,
    or the (month, date) for which one must be created."""
    if date is None:
        return component_usage
    if timezone.is_naive(date):
        date = timezone.make_aware(date, zone())
    _check_date(
        user=user,
        may_report=partial(can_report_usage, user, resource),
        date=date,
        components=[component_usage.component],
    )
    period = billing_period_of(date)
    if period == component_usage.billing_period:
        return component_usage
    existing = (
        ComponentUsage.objects.filter(
            resource=resource, component=component_usage.component, billing_period=period
        )
        .order_by("plan_period_id", "pk")
        .first()
    )
    return existing if existing is not None else (period, date)


def _user_usage_target(
    *,
    user: Any,
    resource: Resource,
    component_usage: ComponentUsage,
    target: ComponentUsage | tuple[datetime.date, datetime.datetime],
) -> ComponentUsage:
    if isinstance(target, ComponentUsage):
        return target
    period, date = target
    # An earlier item of the same call may have created that month's record already.
    existing = (
        ComponentUsage.objects.filter(
            resource=resource, component=component_usage.component, billing_period=period
        )
        .order_by("plan_period_id", "pk")
        .first()
    )
    if existing is not None:
        return existing
    with coverage_months.kept([resource.pk], [period]):  # maybe the resource's first report of the month
        return ComponentUsage.objects.create(
            resource=resource,
            **scope_of(resource),
            component=component_usage.component,
            component_type=component_usage.component.type,
            plan_period=plan_period_for(resource, date),
            usage=Decimal(0),
            date=date,
            billing_period=period,
            modified_by=user if getattr(user, "is_authenticated", False) else None,
        )


def _write_user_usages(
    *,
    resource: Resource,
    component_type: str,
    writes: list[tuple[ComponentUsage, UserUsageItem]],
    user: Any,
    source: str,
    user_agent: str,
) -> list[ComponentUserUsage]:
    """Upserts the items in order, a handful of statements for the whole call: existing rows are read in
    one query, new ones inserted in one, changed ones updated in one, and a revision and an event per
    value written (an unchanged value writes nothing). `resource`: read by the locking query."""
    keys = {(parent.pk, item.username) for parent, item in writes}
    existing: dict[tuple[int, str], ComponentUserUsage] = {}
    parent_ids = {parent_id for parent_id, _ in keys}
    names = {name for _, name in keys}
    for row in ComponentUserUsage.objects.filter(component_usage_id__in=parent_ids, username__in=names):
        existing[(row.component_usage_id, row.username)] = row
    now = timezone.now()
    new: dict[tuple[int, str], ComponentUserUsage] = {}
    changed: dict[int, ComponentUserUsage] = {}
    revisions: list[UsageRevision] = []
    rows: list[ComponentUserUsage] = []
    actor = user if getattr(user, "is_authenticated", False) else None
    for parent, item in writes:
        amount = item.usage.quantize(Decimal("0.01"))
        key = (parent.pk, item.username)
        found = existing.get(key) or new.get(key)
        old: Decimal | None = None
        if found is None:
            row = ComponentUserUsage(
                component_usage=parent, username=item.username, user=item.user, usage=amount, created=now
            )
            new[key] = row
        elif found.usage == amount:
            rows.append(
                found
            )  # the same value again (the site agent re-reports every cycle): nothing to write
            continue
        else:
            # Waldur updates only the value of an existing row; its user link stays.
            row = found
            old = row.usage
            row.usage = amount
            row.modified = now
            if row.pk is not None:
                changed[row.pk] = row
        revisions.append(
            UsageRevision(
                component_usage=parent,
                username=item.username,
                old_value=old,
                new_value=amount,
                verb=UsageRevision.Verb.SET_USER_USAGE,
                actor=actor,
                source=source,
                user_agent=(user_agent or "")[:255],
                created=now,
            )
        )
        rows.append(row)
    if new:
        ComponentUserUsage.objects.bulk_create(list(new.values()))
    if changed:
        update_each(ComponentUserUsage, "usage", {pk: row.usage for pk, row in changed.items()}, modified=now)
    UsageRevision.objects.bulk_create(revisions)
    # One event per value written, recorded together: one insert and one dispatch task for the call (the
    # site agent sends a site's users in one call; a task per user was 20 tasks per resource an hour).
    reported = []
    for revision in revisions:
        assert revision.new_value is not None  # reports write values; only a correction removes a row
        reported.append(
            events.usage_event(
                resource,
                component_type=component_type,
                billing_period=revision.component_usage.billing_period,
                usage=revision.new_value,
                old_usage=revision.old_value,
                actor=user,
                username=revision.username,
            )
        )
    if reported:
        record_many(reported, actor=user)
    return rows


def _sync_totals(
    parents: dict[int, tuple[ComponentUsage, Decimal]],
    *,
    resource: Resource,
    component_type: str,
    user: Any,
    source: str,
    user_agent: str,
) -> None:
    """A parent whose total was 0 before the call takes the sum of its user usages; others keep theirs."""
    current_period = billing_period_of(timezone.now())
    for parent, old_total in parents.values():
        if old_total != 0:
            continue
        total = sum(parent.user_usages.values_list("usage", flat=True), Decimal(0))
        if total == old_total:
            continue
        ComponentUsage.objects.filter(pk=parent.pk).update(usage=total, modified=timezone.now())
        limit_usage.refresh([resource.pk])
        _revision(
            component_usage=parent,
            old=old_total,
            new=total,
            user=user,
            source=source,
            user_agent=user_agent,
            verb=UsageRevision.Verb.SET_USER_USAGE,
        )
        events.usage_reported(
            resource,
            component_type=component_type,
            billing_period=parent.billing_period,
            usage=total,
            old_usage=old_total,
            actor=user,
        )
        if parent.billing_period == current_period:
            set_current_usage(parent.resource_id, component_type, total)


def set_user_usages(
    *,
    user: Any,
    component_usage: ComponentUsage,
    items: list[UserUsageItem],
    source: str = UsageRevision.Source.API,
    user_agent: str = "",
) -> list[ComponentUserUsage]:
    """Upserts usage per username within the component usage (or the month an item's `date` names).

    All or nothing: every item is validated before anything is written (docs/contract.md §7.5).
    """
    return _set_user_usages(
        user=user,
        component_usage=component_usage,
        items=items,
        source=source,
        user_agent=user_agent,
        field="usages",
    )


def set_user_usage(
    *,
    user: Any,
    component_usage: ComponentUsage,
    item: UserUsageItem,
    source: str = UsageRevision.Source.API,
    user_agent: str = "",
) -> ComponentUserUsage:
    """One user's usage within a component usage (docs/contract.md §7.4)."""
    rows = _set_user_usages(
        user=user,
        component_usage=component_usage,
        items=[item],
        source=source,
        user_agent=user_agent,
        field=None,
    )
    return rows[0]


def _limit_errors(
    resource: Resource, component_id: int, items: list[UserUsageItem]
) -> list[dict[str, list[str]]]:
    """Waldur's per-user limit (`/api/component-user-usage-limits/`): an item above the limit of its
    offering user (by `username` at the resource's offering, else by its `user`'s account there) for this
    component of this resource is refused. One query."""
    names = {item.username for item in items}
    people = {item.user.pk for item in items if item.user is not None}
    limits = ComponentUserUsageLimit.objects.filter(resource=resource, component_id=component_id).filter(
        Q(user__username__in=names) | Q(user__user_id__in=people)
    )
    by_name: dict[str, Decimal] = {}
    by_person: dict[int, Decimal] = {}
    for username, person, amount in limits.values_list("user__username", "user__user_id", "limit"):
        by_name[username] = amount
        by_person[person] = amount
    errors: list[dict[str, list[str]]] = []
    for item in items:
        limit: Decimal | None = by_name.get(item.username)
        if limit is None and item.user is not None:
            limit = by_person.get(item.user.pk)
        if limit is not None and item.usage > limit:
            message = f"Usage limit exceeded: {item.usage} for {item.username} is above the limit of {limit}."
            errors.append({"non_field_errors": [message]})
        else:
            errors.append({})
    return errors


def _set_user_usages(
    *,
    user: Any,
    component_usage: ComponentUsage,
    items: list[UserUsageItem],
    source: str,
    user_agent: str,
    field: str | None,
) -> list[ComponentUserUsage]:
    if not can_report_usage(user, component_usage.resource):
        raise Forbidden()
    if not items:
        raise InvalidInput({"usages": ["This list may not be empty."]})
    if len(items) > MAX_USER_USAGE_ITEMS:
        raise InvalidInput({"usages": [too_many(MAX_USER_USAGE_ITEMS)]})
    _validate_user_items(items, field)
    with transaction.atomic():
        resource = _locked(component_usage.resource)
        if resource.state not in USAGE_REPORTABLE_STATES:
            raise InvalidInput({"resource": [MSG_INVALID_STATE]})
        component_usage = ComponentUsage.objects.select_related("component").get(pk=component_usage.pk)
        targets = []
        errors: list[dict[str, list[str]]] = []
        for item in items:
            try:
                targets.append(
                    _target_usage(
                        user=user, resource=resource, component_usage=component_usage, date=item.date
                    )
                )
                errors.append({})
            except InvalidInput as error:
                errors.append(error.field_errors())
        if any(errors):
            raise InvalidInput({field: errors} if field else errors[0])
        errors = _limit_errors(resource, component_usage.component_id, items)
        if any(errors):
            raise InvalidInput({field: errors} if field else errors[0])
        parents: dict[int, tuple[ComponentUsage, Decimal]] = {}
        writes = []
        for item, target in zip(items, targets, strict=True):
            parent = _user_usage_target(
                user=user, resource=resource, component_usage=component_usage, target=target
            )
            parents.setdefault(parent.pk, (parent, parent.usage))
            writes.append((parent, item))
        component_type = component_usage.component.type  # every item names this component
        rows = _with_retry(
            partial(
                _write_user_usages,
                resource=resource,
                component_type=component_type,
                writes=writes,
                user=user,
                source=source,
                user_agent=user_agent,
            )
        )
        _sync_totals(
            parents,
            resource=resource,
            component_type=component_type,
            user=user,
            source=source,
            user_agent=user_agent,
        )
    return rows


# --- a month's report with its per-user rows (the GUI's Report usage) ---------------------------


@dataclass(frozen=True)
class MonthReportItem:
    """One component's total for the month and, optionally, how it splits over usernames."""

    usage: UsageItem
    users: list[UserUsageItem] = field(default_factory=list)


class UserUsagesInvalid(InvalidInput):
    """The per-user rows of one component of a month report are refused; `component_type` says which."""

    def __init__(self, component_type: str, error: InvalidInput) -> None:
        super().__init__(error.as_data())
        self.component_type = component_type


class Users:
    """What a month report does with per-user rows when its total is below their sum."""

    KEEP = "keep"  # keep every row (the month is flagged: users exceed the total)
    CLEAR = "clear"  # remove every per-user row of the month
    REPLACE = "replace"  # the rows become those of the report: rows it does not name are removed
    CHOICES = (KEEP, CLEAR, REPLACE)


class UsersExceedTotal(InvalidInput):
    """A total below the sum of its month's per-user rows, reported without saying what becomes of them
    (`users`) or without a reason. `exceeding`: component type → (sum of the users, new total)."""

    MESSAGE = "The users' usage adds up to more than the new total: keep, clear or replace the users' rows."

    def __init__(self, exceeding: dict[str, tuple[Decimal, Decimal]]) -> None:
        super().__init__({"users": [self.MESSAGE]})
        self.exceeding = exceeding


def remove_user_rows(
    *,
    user: Any,
    component_usage: ComponentUsage,
    keep: set[str] | None = None,
    reason: str = "",
    verb: str = UsageRevision.Verb.SET_USER_USAGE,
    source: str = UsageRevision.Source.GUI,
    user_agent: str = "",
) -> list[str]:
    """Removes the month's per-user rows (all, or all but the usernames in `keep`), each with a revision
    whose new value is None. Runs in the caller's transaction, under its lock of the resource."""
    rows = list(component_usage.user_usages.order_by("username"))
    gone = [row for row in rows if keep is None or row.username not in keep]
    if not gone:
        return []
    actor = user if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    UsageRevision.objects.bulk_create(
        [
            UsageRevision(
                component_usage=component_usage,
                username=row.username,
                old_value=row.usage,
                new_value=None,
                verb=verb,
                reason=reason,
                actor=actor,
                source=source,
                user_agent=(user_agent or "")[:255],
                created=now,
            )
            for row in gone
        ]
    )
    ComponentUserUsage.objects.filter(pk__in=[row.pk for row in gone]).delete()
    return [row.username for row in gone]


def users_sum(component_usage: ComponentUsage) -> Decimal | None:
    """The sum of the month's per-user rows, or None when it has none."""
    values = list(component_usage.user_usages.values_list("usage", flat=True))
    return sum(values, Decimal(0)) if values else None


def report_month_usage(
    *,
    user: Any,
    resource: Resource,
    month: datetime.date,
    items: list[MonthReportItem],
    source: str = UsageRevision.Source.GUI,
    user_agent: str = "",
    users: str | None = None,
    reason: str = "",
) -> list[ComponentUsage]:
    """Stores each component's total for `month` (`set_usage`) and its per-user rows (`set_user_usages`)
    in one transaction: a refused part leaves nothing written (docs/contract.md §7.3-§7.5).

    The current month is reported as of now, a past month as of its first instant. A closed month of a
    component that only staff may back-fill goes the correction way (`correct_month`, `reason` required).
    A total below the sum of its per-user rows raises `UsersExceedTotal` unless `users` says what becomes
    of them (`Users`) and a reason is given. The totals' errors are those of `set_usage`; a component's
    per-user errors come as `UserUsagesInvalid`."""
    if users is not None and users not in Users.CHOICES:
        raise InvalidInput({"users": [f"Choose one of: {', '.join(Users.CHOICES)}."]})
    date = None if month == billing_period_of(timezone.now()) else month_start(month)
    by_type = {c.type: c for c in OfferingComponent.objects.filter(offering_id=resource.offering_id)}
    corrected = {
        item.usage.type
        for item in items
        if item.usage.type in by_type and needs_correction(user, by_type[item.usage.type], month)
    }
    text = clean_reason(reason) if corrected or users is not None else reason.strip()
    with transaction.atomic():
        reported = [item for item in items if item.usage.type not in corrected]
        written_by_type: dict[str, ComponentUsage] = {}
        if reported:
            totals = set_usage(
                user=user,
                resource=resource,
                usages=[item.usage for item in reported],
                date=date,
                source=source,
                user_agent=user_agent,
                reason=text,
            )
            written_by_type.update(zip([item.usage.type for item in reported], totals, strict=True))
        for item in items:
            if item.usage.type in corrected:
                written_by_type[item.usage.type] = correct_month(
                    user=user,
                    resource=resource,
                    component=by_type[item.usage.type],
                    month=month,
                    amount=item.usage.amount,
                    reason=text,
                    source=source,
                    user_agent=user_agent,
                )
        exceeding: dict[str, tuple[Decimal, Decimal]] = {}
        for item in items:
            usage = written_by_type[item.usage.type]
            if item.users:
                try:
                    set_user_usages(
                        user=user,
                        component_usage=usage,
                        items=item.users,
                        source=source,
                        user_agent=user_agent,
                    )
                except InvalidInput as error:
                    raise UserUsagesInvalid(item.usage.type, error) from error
            total = usage.usage
            before = users_sum(usage)
            if before is None or before <= total:
                continue
            if users is None:
                exceeding[item.usage.type] = (before, total)
            elif users != Users.KEEP:
                keep = {u.username for u in item.users} if users == Users.REPLACE else set()
                remove_user_rows(
                    user=user,
                    component_usage=usage,
                    keep=keep,
                    reason=text,
                    source=source,
                    user_agent=user_agent,
                )
        if exceeding:
            raise UsersExceedTotal(exceeding)
    return [written_by_type[item.usage.type] for item in items]
