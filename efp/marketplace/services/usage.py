"""Usage verbs: with `user_usage` (per-user rows, the GUI's month report), the only code that writes
component usage and its revisions.

Rules (docs/contract.md §7.3-§7.5): one ComponentUsage per (resource, component, plan period, billing month),
overwritten by every report; the billing month is computed in `settings.TIME_ZONE`; validation runs
before the permission check for `set_usage`. Writes lock the resource row, so concurrent reports for one
resource are serialised and cannot race to create duplicate rows; an IntegrityError is still retried once.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput
from efp.events.recorder import NewEvent, record_many
from efp.marketplace import events, selectors
from efp.marketplace.billing_months import add_months, billing_period_of, month_start, zone
from efp.marketplace.models import (
    ComponentUsage,
    Offering,
    OfferingComponent,
    Resource,
    ResourcePlanPeriod,
    UsageRevision,
    scope_of,
)
from efp.marketplace.services import coverage_months, limit_usage
from efp.marketplace.services.usage_limits import check_limits
from efp.marketplace.services.usage_periods import find_usage, plan_period_for
from efp.marketplace.states import USAGE_REPORTABLE_STATES
from efp.marketplace.verbs import Side, who_may
from efp.rawsql import Column, by_column, insert_row, table_name, update_row
from efp.structure.permissions import NEVER, OuterColumn, has_permission, permission_sql
from efp.structure.roles import Permission

BT = OfferingComponent.BillingType
# Components whose usage is reported (docs/contract.md §7.3 rule 5; prepaid `one` since 8.x).
REPORTABLE_BILLING_TYPES = frozenset({BT.USAGE, BT.LIMIT, BT.ONE})
# Components a service provider (not staff) may back-fill for past months (docs/contract.md §7.3 rule 7).
PROVIDER_BACKFILL_BILLING_TYPES = frozenset({BT.LIMIT, BT.ONE})
# How far back the month selector of the GUI goes at least, for those allowed to back-fill.
BACKFILL_MONTHS = 12
MAX_INTEGER_DIGITS = 18
AGENT_MARKER = "waldur-site-agent"
# The most items one call takes. An offering has a handful of components, so 100 is generous; per-user
# usage is an upsert per username, so a site with more users reports them in several calls of at most
# 1,000 (each item is a few queries, and a request must finish well within the worker timeout).
MAX_USAGE_ITEMS = 100
MAX_USER_USAGE_ITEMS = 1000

MSG_FUTURE = "Cannot submit usage for future dates"
MSG_PROVIDER_BACKFILL = (
    "Service providers can only specify date for limit-based or prepaid billing components "
    "when backfilling past billing periods."
)
MSG_BACKFILL_ROLE = "Only staff users and service providers can specify date for backfilling"
MSG_INVALID_STATE = "Resource is not in valid state."
MSG_NO_PLAN = "Resource must have a plan to report usage"
MSG_CLOSED = "Billing period is closed."
REPORTABLE = ", ".join(sorted(s.value for s in USAGE_REPORTABLE_STATES))
MSG_DOES_NOT_EXIST = 'Invalid pk "{value}" - object does not exist.'  # DRF's words for an unknown object

T = TypeVar("T")


@dataclass(frozen=True)
class UsageItem:
    type: str
    amount: Decimal
    description: str = ""
    recurring: bool = False


@dataclass(frozen=True)
class UserUsageItem:
    username: str
    usage: Decimal
    user: User | None = None
    date: datetime.datetime | None = None


def source_for(user_agent: str, default: str = UsageRevision.Source.API) -> str:
    """API calls from the Waldur site agent are recorded as such."""
    return UsageRevision.Source.AGENT if AGENT_MARKER in (user_agent or "").lower() else default


# --- permissions --------------------------------------------------------------------------------


def can_report_usage(user: Any, resource: Resource) -> bool:
    """Staff, the provider's owner and offering managers (RESOURCE.SET_USAGE on the offering side)."""
    offering = resource.offering
    return has_permission(
        user, Permission.RESOURCE_SET_USAGE, customers=[offering.customer_id], offerings=[offering]
    )


def _may_report_sql(user: Any) -> tuple[str, list[Any]]:
    """`can_report_usage` as a column of the locking query (resource `r`, its offering `o`)."""
    return permission_sql(
        user,
        Permission.RESOURCE_SET_USAGE,
        customers=OuterColumn("o.customer_id"),
        offerings=OuterColumn("r.offering_id"),
    )


def reportable_months(*, user: Any, resource: Resource) -> list[datetime.date]:
    """First days of the months `user` may report for `resource`, newest first.

    Empty when the user may not report at all; otherwise the current month comes first. Staff may back-fill
    every component, providers only limit and prepaid ones, so providers get past months only when the
    offering has such components. Past months reach back to the resource's creation month, and at least
    BACKFILL_MONTHS months.
    """
    if not can_report_usage(user, resource):
        return []
    current = billing_period_of(timezone.now())
    backfills = bool(user.is_staff) or any(
        c.billing_type in PROVIDER_BACKFILL_BILLING_TYPES for c in resource.offering.components.all()
    )
    if not backfills:
        return [current]
    oldest = min(billing_period_of(resource.created), add_months(current, -(BACKFILL_MONTHS - 1)))
    months, month = [], current
    while month >= oldest:
        months.append(month)
        month = add_months(month, -1)
    return months


def report_usage_refusal(resource: Resource, has_components: bool, allowed: bool) -> str:
    """Why Report usage does not apply, or "" when it does (the service checks again on submit)."""
    if not has_components:
        return "This offering has no usage- or limit-billed components."
    if resource.state not in USAGE_REPORTABLE_STATES:
        return (
            f"Usage can be reported only for resources in state {REPORTABLE}; this one is {resource.state}."
        )
    if resource.plan_id is None:
        return "The resource has no plan, so usage cannot be reported."
    if not allowed:
        return f"Only {who_may(Permission.RESOURCE_SET_USAGE, Side.PROVIDER)} may report usage."
    return ""


# --- validation helpers -------------------------------------------------------------------------


def _amount_errors(amount: Any) -> list[str]:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return ["A valid number is required."]
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    problems = []
    if amount < 0:
        problems.append("Ensure this value is greater than or equal to 0.")
    if exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        problems.append("Ensure that there are no more than 2 decimal places.")
    if len(digits) + min(exponent, 0) > MAX_INTEGER_DIGITS:
        problems.append(
            f"Ensure that there are no more than {MAX_INTEGER_DIGITS} digits before the decimal point."
        )
    return problems


def too_many(limit: int) -> str:
    return f"Ensure this field has no more than {limit} elements."


def _raise_item_errors(field: str, errors: list[dict[str, list[str]]]) -> None:
    if any(errors):
        raise InvalidInput({field: errors})


def _check_date(
    *,
    user: Any,
    may_report: Callable[[], bool],
    date: datetime.datetime,
    components: Iterable[OfferingComponent],
) -> None:
    """Future dates never; past months by staff, or by the provider for limit and prepaid components only.

    `may_report`: whether the user may report usage of the resource (`can_report_usage`), asked only for
    a past month."""
    now = timezone.now()
    if date > now:
        raise InvalidInput({"date": [MSG_FUTURE]})
    if billing_period_of(date) >= billing_period_of(now) or user.is_staff:
        return
    if not may_report():
        raise InvalidInput({"date": [MSG_BACKFILL_ROLE]})
    if any(c.billing_type not in PROVIDER_BACKFILL_BILLING_TYPES for c in components):
        raise InvalidInput({"date": [MSG_PROVIDER_BACKFILL]})


# The reads of a usage report are hand-written SQL through `Model.objects.raw()`: the same rows and model
# instances as the ORM's querysets, without compiling four querysets per report (that compiling cost more
# than everything the database did for the report). Each reads only what the report needs.


def _lock(reporter: Any = None, at: datetime.datetime | None = None, **key: Any) -> Resource | None:
    """Reads the resource matching `key` (`uuid=` or `pk=`) under a row lock: every usage write for one
    resource is serialised here. None when there is none. Its offering comes with it (its key and its
    organisation's; any other field of it loads when read). Asked in the same statement: with a
    `reporter`, `may_report` (`can_report_usage(reporter, resource)`); with a date `at`,
    `covering_plan_period_id` (the plan period covering it, as `plan_period_for` picks it, or None).

    SQLite ignores FOR UPDATE; there a no-op write as the transaction's first statement takes the database
    write lock at once, so concurrent reports queue (busy timeout) instead of failing with "database is
    locked" when a reader later tries to become a writer.
    """
    if connection.vendor == "sqlite":
        Resource.objects.filter(**key).update(modified=F("modified"))
    [(name, value)] = key.items()
    column = {"uuid": "uuid", "pk": "id"}[name]
    value = cast("Field[Any, Any]", Resource._meta.get_field(column)).get_db_prep_value(value, connection)
    lock = " FOR UPDATE OF r" if connection.features.has_select_for_update_of else ""
    may_report, params = _may_report_sql(reporter) if reporter is not None else (NEVER, [])
    covering = "NULL"
    if at is not None:
        start, end = connection.ops.quote_name("start"), connection.ops.quote_name("end")
        covering = (
            f"(SELECT pp.id FROM {table_name(ResourcePlanPeriod)} pp WHERE pp.resource_id = r.id"  # noqa: S608
            f" AND pp.{start} <= %s AND (pp.{end} IS NULL OR pp.{end} > %s)"
            f" ORDER BY pp.{start} DESC, pp.id DESC LIMIT 1)"
        )
        params += [connection.ops.adapt_datetimefield_value(at)] * 2
    event_columns, event_joins = events.locked_key_sql()  # what its usage events name
    sql = (
        "SELECT r.id, r.uuid, r.name, r.state, r.plan_id, r.project_id, r.offering_id, r.created,"  # noqa: S608
        f" o.customer_id AS offering_customer_id, {may_report} AS may_report,"
        f" {covering} AS covering_plan_period_id, {event_columns} FROM {table_name(Resource)} r"
        f" JOIN {table_name(Offering)} o ON o.id = r.offering_id{event_joins} WHERE r.{column} = %s{lock}"
    )
    found = list(Resource.objects.raw(sql, [*params, value]))
    if not found:
        return None
    resource = found[0]
    resource.covering_at = at  # type: ignore[attr-defined]  # the date covering_plan_period_id answers for
    customer_id = resource.offering_customer_id  # type: ignore[attr-defined]  # selected above
    resource.offering = Offering.from_db(
        resource._state.db, ["id", "customer_id"], [resource.offering_id, customer_id]
    )
    return resource


def _locked(resource: Resource, reporter: Any = None, at: datetime.datetime | None = None) -> Resource:
    locked = _lock(reporter, at, pk=resource.pk)
    if locked is None:
        raise Resource.DoesNotExist
    return locked


def _may_see_usage(user: Any, resource: Resource) -> bool:
    """Whether the resource's usage is visible to the user (asked only of those who may not report it)."""
    return selectors.usage_visible_resources(user).filter(pk=resource.pk).exists()


def _with_retry(write: Callable[[], T]) -> T:
    """Runs `write` in a savepoint; a uniqueness race (IntegrityError) is retried once."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        with transaction.atomic():
            return write()


def _revision(
    *,
    component_usage: ComponentUsage,
    old: Decimal | None,
    new: Decimal,
    user: Any,
    source: str,
    user_agent: str,
    username: str = "",
    description: str = "",
    verb: str = UsageRevision.Verb.SET_USAGE,
    reason: str = "",
) -> None:
    insert_row(
        UsageRevision(
            component_usage=component_usage,
            username=username,
            old_value=old,
            new_value=new,
            description=description[:1000],
            verb=verb,
            reason=reason,
            actor=user if getattr(user, "is_authenticated", False) else None,
            source=source,
            user_agent=(user_agent or "")[:255],
        )
    )


# --- overall usage ------------------------------------------------------------------------------


def _validate_usage_items(usages: list[UsageItem]) -> None:
    if not usages:
        raise InvalidInput({"usages": ["This list may not be empty."]})
    if len(usages) > MAX_USAGE_ITEMS:
        raise InvalidInput({"usages": [too_many(MAX_USAGE_ITEMS)]})
    errors: list[dict[str, list[str]]] = []
    seen: set[str] = set()
    for item in usages:
        item_errors: dict[str, list[str]] = {}
        if not item.type:
            item_errors["type"] = ["This field is required."]
        elif item.type in seen:
            item_errors["type"] = [f"Component {item.type} is reported more than once."]
        seen.add(item.type)
        amount_errors = _amount_errors(item.amount)
        if amount_errors:
            item_errors["amount"] = amount_errors
        if len(item.description or "") > 1000:
            item_errors["description"] = ["Ensure this field has no more than 1000 characters."]
        errors.append(item_errors)
    _raise_item_errors("usages", errors)


def _components_of(
    resource: Resource, usages: list[UsageItem], period: datetime.date
) -> tuple[list[OfferingComponent], dict[int, list[ComponentUsage]]]:
    """The offering's components named by `usages` (400 for a type it has not, or cannot report), and
    with them, in the same statement, each component's records of the month (`month_rows` of each)."""
    oc = {
        name: Column(f"oc.{name}", OfferingComponent, name)
        for name in ("id", "offering_id", "type", "billing_type", "limit_period", "limit_amount")  # limits
    }
    cu = {
        field.attname: Column(
            f"cu.{connection.ops.quote_name(str(field.column))}", ComponentUsage, field.name
        )
        for field in ComponentUsage._meta.concrete_fields
    }
    columns = (*oc.values(), *cu.values())
    sql = (
        f"SELECT {', '.join(column.sql for column in columns)} FROM {table_name(OfferingComponent)} oc"  # noqa: S608
        f" LEFT JOIN {table_name(ComponentUsage)} cu ON cu.component_id = oc.id AND cu.resource_id = %s"
        " AND cu.billing_period = %s WHERE oc.offering_id = %s ORDER BY oc.id, cu.plan_period_id, cu.id"
    )
    params = [resource.pk, connection.ops.adapt_datefield_value(period), resource.offering_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_type: dict[str, OfferingComponent] = {}
    months: dict[int, list[ComponentUsage]] = {}
    db = resource._state.db
    for values in by_column(rows, columns):
        component_id = values[oc["id"]]
        if component_id not in months:
            loaded = OfferingComponent.from_db(db, list(oc), [values[column] for column in oc.values()])
            by_type[loaded.type] = loaded
            months[component_id] = []
        if values[cu["id"]] is not None:  # a component without records of the month has none
            usage = ComponentUsage.from_db(db, list(cu), [values[column] for column in cu.values()])
            months[component_id].append(usage)
    errors: list[dict[str, list[str]]] = []
    for item in usages:
        component = by_type.get(item.type)
        if component is None or component.billing_type not in REPORTABLE_BILLING_TYPES:
            errors.append({"type": [f"These components are invalid: {item.type}."]})
        else:
            errors.append({})
    _raise_item_errors("usages", errors)
    return [by_type[item.type] for item in usages], months


def set_usage(
    *,
    user: Any,
    resource: Resource | uuid.UUID | None = None,
    plan_period: ResourcePlanPeriod | None = None,
    usages: list[UsageItem],
    date: datetime.datetime | None = None,
    source: str = UsageRevision.Source.API,
    user_agent: str = "",
    reason: str = "",
) -> list[ComponentUsage]:
    """Stores the month-to-date usage of each component (overwrite, not accumulate), docs/contract.md §7.3.

    `resource` may be given by its uuid (the API): it is then looked up in the query that locks it, and a
    resource the user may not see is reported as not existing."""
    now = timezone.now()
    date = date or now
    if timezone.is_naive(date):
        date = timezone.make_aware(date, zone())
    _validate_usage_items(usages)
    if plan_period is not None:
        if plan_period.end is not None and plan_period.end < month_start(billing_period_of(now)):
            raise InvalidInput({"plan_period": [MSG_CLOSED]})
        resource = plan_period.resource
    if resource is None:
        raise InvalidInput({"non_field_errors": ["Either plan_period or resource should be provided."]})
    with transaction.atomic():
        if isinstance(resource, uuid.UUID):
            locked = _lock(user, date, uuid=resource)
        else:
            locked = _locked(resource, user, date)
        allowed = locked is not None and bool(locked.may_report)  # type: ignore[attr-defined]  # selected
        if locked is None or not (allowed or _may_see_usage(user, locked)):
            raise InvalidInput({"resource": [MSG_DOES_NOT_EXIST.format(value=resource)]})
        resource = locked
        if resource.state not in USAGE_REPORTABLE_STATES:
            raise InvalidInput({"resource": [MSG_INVALID_STATE]})
        period = billing_period_of(date)
        components, months = _components_of(resource, usages, period)
        if resource.plan_id is None:
            raise InvalidInput({"resource": [MSG_NO_PLAN]})
        _check_date(user=user, may_report=lambda: allowed, date=date, components=components)
        if not allowed:
            raise Forbidden()
        if plan_period is None:
            plan_period = plan_period_for(resource, date)
        check_limits(
            resource=resource,
            reports=[(component, item.amount) for item, component in zip(usages, components, strict=True)],
            period=period,
            plan_period=plan_period,
            month_rows=months,
        )
        reported: list[NewEvent] = []
        # A component without a record of the month gets one: maybe the resource's first report of it.
        creates = any(
            c.billing_type == OfferingComponent.BillingType.USAGE and not months[c.pk] for c in components
        )
        with coverage_months.kept([resource.pk], [period]) if creates else nullcontext():
            written = [
                _write_usage(
                    resource=resource,
                    component=component,
                    plan_period=plan_period,
                    period=period,
                    month=months[component.pk],
                    item=item,
                    date=date,
                    user=user,
                    source=source,
                    user_agent=user_agent,
                    reason=reason,
                    reported=reported,
                )
                for item, component in zip(usages, components, strict=True)
            ]
        if reported:
            record_many(reported, actor=user)
        limit_usage.refresh_after_usage(resource.pk, components)
        if period == billing_period_of(now):
            # Contract §7.3: replaced by the types of this request ([8.x] numbers, not strings).
            current = {item.type: float(item.amount) for item in usages}
            update_row(Resource, resource.pk, current_usages=current)
    return written


def set_current_usage(resource_id: int, component_type: str, amount: Decimal) -> None:
    """One component's value in the resource's `current_usages` (the current month's totals), the
    others kept; a full report replaces them all (`set_usage`)."""
    current = dict(Resource.objects.values_list("current_usages", flat=True).get(pk=resource_id) or {})
    current[component_type] = float(amount)
    update_row(Resource, resource_id, current_usages=current)


def _write_usage(
    *,
    resource: Resource,
    component: OfferingComponent,
    plan_period: ResourcePlanPeriod | None,
    period: datetime.date,
    month: list[ComponentUsage],
    item: UsageItem,
    date: datetime.datetime,
    user: Any,
    source: str,
    user_agent: str,
    reported: list[NewEvent],
    reason: str = "",
) -> ComponentUsage:
    """Overwrites the month's record, or creates it (in a savepoint, retried once on a uniqueness race).
    Its event goes to `reported` (the caller records the call's events together: one dispatch task).

    `month`: the component's records of the month, read under the resource's lock (`_components_of`)."""
    actor = user if getattr(user, "is_authenticated", False) else None
    amount = item.amount.quantize(Decimal("0.01"))
    usage = find_usage(resource, component, period, plan_period, month)
    # A recurring flag belongs to one record of the month only.
    others = [row.pk for row in month if row.recurring and (usage is None or row.pk != usage.pk)]
    if others:
        ComponentUsage.objects.filter(pk__in=others).update(recurring=False)
    created = False
    if usage is None:
        try:
            with transaction.atomic():
                usage = ComponentUsage.objects.create(
                    resource=resource,
                    **scope_of(resource),
                    component=component,
                    component_type=component.type,
                    plan_period=plan_period,
                    usage=amount,
                    date=date,
                    billing_period=period,
                    recurring=item.recurring,
                    description=item.description or "",
                    modified_by=actor,
                )
            created = True
        except IntegrityError:  # created meanwhile by a concurrent report: overwrite that one
            usage = find_usage(resource, component, period, plan_period)
            if usage is None:
                raise
    old: Decimal | None = None
    if not created:
        old = usage.usage
        usage.usage = amount
        usage.date = date
        usage.description = item.description or ""
        usage.recurring = item.recurring
        usage.modified_by = actor
        usage.modified = timezone.now()
        update_row(
            ComponentUsage,
            usage.pk,
            usage=usage.usage,
            date=usage.date,
            description=usage.description,
            recurring=usage.recurring,
            modified_by=actor,
            modified=usage.modified,
            plan_period=usage.plan_period_id,
        )
    _revision(
        component_usage=usage,
        old=old,
        new=amount,
        user=user,
        source=source,
        user_agent=user_agent,
        description=item.description or "",
        reason=reason,
    )
    reported.append(
        events.usage_event(
            resource,
            component_type=component.type,
            billing_period=period,
            usage=amount,
            old_usage=old,
            actor=user,
        )
    )
    return usage
