"""Usage verbs: the only code that writes component usage (overall and per user) and its revisions.

Rules (docs/contract.md §7.3-§7.5): one ComponentUsage per (resource, component, plan period, billing month),
overwritten by every report; the billing month is computed in `settings.TIME_ZONE`; validation runs
before the permission check for `set_usage`. Writes lock the resource row, so concurrent reports for one
resource are serialised and cannot race to create duplicate rows; an IntegrityError is still retried once.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import Forbidden, InvalidInput
from efp.marketplace import selectors
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    Resource,
    ResourcePlanPeriod,
    UsageRevision,
)
from efp.marketplace.states import USAGE_REPORTABLE_STATES
from efp.rawsql import Column, convert, insert_row, table_name, update_row
from efp.structure.names import NAME_MESSAGE, has_control_characters
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


# --- billing months -----------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def billing_period_of(moment: datetime.datetime) -> datetime.date:
    """The first day of the month of `moment` in settings.TIME_ZONE."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, _zone())
    return moment.astimezone(_zone()).date().replace(day=1)


def month_start(period: datetime.date) -> datetime.datetime:
    """The instant a billing month starts, in settings.TIME_ZONE."""
    return datetime.datetime(period.year, period.month, 1, tzinfo=_zone())


def add_months(period: datetime.date, months: int) -> datetime.date:
    index = period.year * 12 + period.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


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
    `covering_plan_period_id` (the plan period covering it, as `_plan_period_for` picks it, or None).

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
    sql = (
        "SELECT r.id, r.uuid, r.name, r.state, r.plan_id, r.project_id, r.offering_id, r.created,"  # noqa: S608
        f" o.customer_id AS offering_customer_id, {may_report} AS may_report,"
        f" {covering} AS covering_plan_period_id FROM {table_name(Resource)} r"
        f" JOIN {table_name(Offering)} o ON o.id = r.offering_id WHERE r.{column} = %s{lock}"
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
) -> None:
    insert_row(
        UsageRevision(
            component_usage=component_usage,
            username=username,
            old_value=old,
            new_value=new,
            description=description[:1000],
            actor=user if getattr(user, "is_authenticated", False) else None,
            source=source,
            user_agent=(user_agent or "")[:255],
        )
    )


# --- plan periods -------------------------------------------------------------------------------


def _plan_period_for(resource: Resource, date: datetime.datetime) -> ResourcePlanPeriod | None:
    """The plan period covering `date`; else one overlapping its month (a period starting later that month
    still takes month-start dated usage); else, for the current month of a resource that has none at all,
    a period created now. Back-filled months without a period stay without one.

    A resource read by `_lock(at=date)` for this very date knows the covering period already (its key is
    enough here)."""
    covering = getattr(resource, "covering_plan_period_id", None)
    if covering is not None and getattr(resource, "covering_at", None) == date:
        return ResourcePlanPeriod.from_db(resource._state.db, ["id"], [covering])
    start = connection.ops.quote_name("start")
    sql = f"SELECT * FROM {table_name(ResourcePlanPeriod)} WHERE resource_id = %s"  # noqa: S608
    periods = list(ResourcePlanPeriod.objects.raw(f"{sql} ORDER BY {start} DESC, id DESC", [resource.pk]))
    for period in periods:
        if period.start <= date and (period.end is None or period.end > date):
            return period
    period_month = billing_period_of(date)
    begins, ends = month_start(period_month), month_start(add_months(period_month, 1))
    for period in periods:
        if period.start < ends and (period.end is None or period.end > begins):
            return period
    if not periods and resource.plan_id is not None and period_month == billing_period_of(timezone.now()):
        return ResourcePlanPeriod.objects.create(resource=resource, plan_id=resource.plan_id, start=begins)
    return None


def _month_rows(
    resource: Resource, component: OfferingComponent, period: datetime.date
) -> list[ComponentUsage]:
    """Every record of the component for the month, whatever its plan period (one query)."""
    sql = (
        f"SELECT * FROM {table_name(ComponentUsage)} WHERE resource_id = %s AND component_id = %s"  # noqa: S608
        " AND billing_period = %s ORDER BY plan_period_id, id"
    )
    params = [resource.pk, component.pk, connection.ops.adapt_datefield_value(period)]
    return list(ComponentUsage.objects.raw(sql, params))


def _find_usage(
    resource: Resource,
    component: OfferingComponent,
    period: datetime.date,
    plan_period: ResourcePlanPeriod | None,
    month: list[ComponentUsage] | None = None,
) -> ComponentUsage | None:
    """The month's record, consolidating a plan_period=null record with the plan period's one.

    `month` is `_month_rows(...)` when the caller has it already; consolidated duplicates leave it."""
    if month is None:
        month = _month_rows(resource, component, period)
    wanted = {plan_period.pk, None} if plan_period is not None else {None}
    rows = [row for row in month if row.plan_period_id in wanted]
    if not rows:
        return None
    keep = next((row for row in rows if row.plan_period_id is not None), rows[0])
    for duplicate in rows:
        if duplicate.pk == keep.pk:
            continue
        taken = set(keep.user_usages.values_list("username", flat=True))
        duplicate.user_usages.exclude(username__in=taken).update(component_usage=keep)
        duplicate.delete()
        month.remove(duplicate)
    if plan_period is not None and keep.plan_period_id is None:
        keep.plan_period = plan_period
    return keep


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
    with them, in the same statement, each component's records of the month (`_month_rows` of each)."""
    component_columns = ("id", "offering_id", "type", "billing_type")
    usage_fields = ComponentUsage._meta.concrete_fields
    usage_columns = tuple(
        Column(f"cu.{connection.ops.quote_name(str(field.column))}", ComponentUsage, field.name)
        for field in usage_fields
    )
    sql = (
        f"SELECT {', '.join(f'oc.{name}' for name in component_columns)},"  # noqa: S608
        f" {', '.join(column.sql for column in usage_columns)} FROM {table_name(OfferingComponent)} oc"
        f" LEFT JOIN {table_name(ComponentUsage)} cu ON cu.component_id = oc.id AND cu.resource_id = %s"
        " AND cu.billing_period = %s WHERE oc.offering_id = %s ORDER BY oc.id, cu.plan_period_id, cu.id"
    )
    params = [resource.pk, connection.ops.adapt_datefield_value(period), resource.offering_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_type: dict[str, OfferingComponent] = {}
    months: dict[int, list[ComponentUsage]] = {}
    width = len(component_columns)
    db = resource._state.db
    for row in rows:
        component_id = row[0]
        if component_id not in months:
            loaded = OfferingComponent.from_db(db, list(component_columns), list(row[:width]))
            by_type[loaded.type] = loaded
            months[component_id] = []
        if row[width] is not None:  # the record's id: a component without records of the month has none
            [values] = convert([row[width:]], usage_columns)
            months[component_id].append(ComponentUsage.from_db(db, [f.attname for f in usage_fields], values))
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
) -> list[ComponentUsage]:
    """Stores the month-to-date usage of each component (overwrite, not accumulate), docs/contract.md §7.3.

    `resource` may be given by its uuid (the API): it is then looked up in the query that locks it, and a
    resource the user may not see is reported as not existing."""
    now = timezone.now()
    date = date or now
    if timezone.is_naive(date):
        date = timezone.make_aware(date, _zone())
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
            plan_period = _plan_period_for(resource, date)
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
            )
            for item, component in zip(usages, components, strict=True)
        ]
        if period == billing_period_of(now):
            # Contract §7.3: replaced by the types of this request ([8.x] numbers, not strings).
            current = {item.type: float(item.amount) for item in usages}
            update_row(Resource, resource.pk, current_usages=current)
    return written


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
) -> ComponentUsage:
    """Overwrites the month's record, or creates it (in a savepoint, retried once on a uniqueness race).

    `month`: the component's records of the month, read under the resource's lock (`_components_of`)."""
    actor = user if getattr(user, "is_authenticated", False) else None
    amount = item.amount.quantize(Decimal("0.01"))
    usage = _find_usage(resource, component, period, plan_period, month)
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
                    component=component,
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
            usage = _find_usage(resource, component, period, plan_period)
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
    )
    return usage


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
        date = timezone.make_aware(date, _zone())
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
    return ComponentUsage.objects.create(
        resource=resource,
        component=component_usage.component,
        plan_period=_plan_period_for(resource, date),
        usage=Decimal(0),
        date=date,
        billing_period=period,
        modified_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _write_user_usages(
    *, writes: list[tuple[ComponentUsage, UserUsageItem]], user: Any, source: str, user_agent: str
) -> list[ComponentUserUsage]:
    """Upserts the items in order, a handful of statements for the whole call: existing rows are read in
    one query, new ones inserted in one, changed ones updated in one, and a revision per value written
    (an unchanged value writes nothing)."""
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
        ComponentUserUsage.objects.bulk_update(list(changed.values()), ["usage", "modified"])
    UsageRevision.objects.bulk_create(revisions)
    return rows


def _sync_totals(
    parents: dict[int, tuple[ComponentUsage, Decimal]], *, user: Any, source: str, user_agent: str
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
        _revision(
            component_usage=parent, old=old_total, new=total, user=user, source=source, user_agent=user_agent
        )
        if parent.billing_period == current_period:
            resource = Resource.objects.get(pk=parent.resource_id)
            current = dict(resource.current_usages or {})
            current[parent.component.type] = float(total)
            update_row(Resource, resource.pk, current_usages=current)


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
        parents: dict[int, tuple[ComponentUsage, Decimal]] = {}
        writes = []
        for item, target in zip(items, targets, strict=True):
            parent = _user_usage_target(
                user=user, resource=resource, component_usage=component_usage, target=target
            )
            parents.setdefault(parent.pk, (parent, parent.usage))
            writes.append((parent, item))
        rows = _with_retry(
            partial(_write_user_usages, writes=writes, user=user, source=source, user_agent=user_agent)
        )
        _sync_totals(parents, user=user, source=source, user_agent=user_agent)
    return rows
