"""CSV imports of usage with a preview (issue 16, point 5): plan every line, then write all or none.

`import_usage` reads a file (`usage_import_file.parse`), decides for each line whether it is new, changes
a value (from → to), leaves it unchanged or is in error (and why), and with `dry_run=False` writes every
line in one transaction, or nothing when any line is in error (`ImportRefused`).

The rules are those of the writers: a current-month line follows the reporting rule of `usage` (who may
report, the resource's state and plan, the component's billing type); a closed month is a correction
(`corrections.correction_refusal`, and a reason). The month's record is the one `set_usage` would write
(`usage_periods.pick_plan_period`, `month_record`); a total left at 0 takes the sum of its per-user rows,
as `set_user_usages` does. The plan reads in a fixed number of batched statements whatever the number of
lines; the apply writes rows, revisions (verb `import`, with the line's reason) and events in bulk.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from efp.errors import InvalidInput
from efp.events.recorder import NewEvent, record_many
from efp.marketplace import events, selectors
from efp.marketplace.billing_months import billing_period_of, month_start
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    OfferingUser,
    Resource,
    ResourcePlanPeriod,
    UsageRevision,
    scope_of,
)
from efp.marketplace.services import coverage_months, limit_usage
from efp.marketplace.services.corrections import correction_refusal
from efp.marketplace.services.usage import (
    MSG_INVALID_STATE,
    MSG_NO_PLAN,
    REPORTABLE_BILLING_TYPES,
    _may_report_sql,
)
from efp.marketplace.services.usage_import_file import ImportLine, parse
from efp.marketplace.services.usage_periods import month_record, pick_plan_period, plan_period_for
from efp.marketplace.states import USAGE_REPORTABLE_STATES
from efp.rawsql import insert_many, one_of, prepare, table_name

Outcome = Literal["new", "changed", "unchanged", "error"]
OUTCOMES: tuple[Outcome, ...] = ("new", "changed", "unchanged", "error")
MSG_NOT_FOUND = "Resource not found."
MSG_MAY_NOT_REPORT = "You may not report usage of this resource."
MSG_FUTURE = "Usage of a future month cannot be imported."
MSG_REASON = "{month} is closed: a correction needs a reason (the reason column)."


@dataclass
class PlannedLine:
    """A line of the file and what importing it does."""

    source: ImportLine
    outcome: Outcome = "error"
    old_amount: Decimal | None = None
    error: str = ""
    resource: Resource | None = None
    component: OfferingComponent | None = None
    record: ComponentUsage | None = None  # the month's record the line writes to (None: to be created)
    user_row: ComponentUserUsage | None = None
    plan_period: ResourcePlanPeriod | None = None

    @property
    def new_amount(self) -> Decimal | None:
        return self.source.value

    def refuse(self, message: str) -> None:
        self.outcome, self.error = "error", message


@dataclass
class ImportPlan:
    lines: list[PlannedLine]
    applied: bool = False
    user_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (offering, username) → user

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for line in self.lines:
            counts[line.outcome] += 1
        return {**counts, "total": len(self.lines)}

    @property
    def has_errors(self) -> bool:
        return any(line.outcome == "error" for line in self.lines)


class ImportRefused(InvalidInput):
    """`dry_run=False` with a line in error: nothing was written; `plan` says which lines and why."""

    def __init__(self, plan: ImportPlan) -> None:
        errors = plan.summary["error"]
        super().__init__({"file": [f"{errors} line(s) are in error; nothing was imported."]})
        self.plan = plan


def import_usage(
    *,
    user: Any,
    content: bytes,
    dry_run: bool = True,
    source: str = UsageRevision.Source.API,
    user_agent: str = "",
) -> ImportPlan:
    """Plans the file's lines; unless `dry_run`, writes them all in one transaction (or raises
    `ImportRefused` and writes nothing). A file that is not a usage CSV raises InvalidInput on `file`."""
    lines = parse(content)
    if dry_run:
        return plan_import(user=user, lines=lines)
    with transaction.atomic():
        plan = plan_import(user=user, lines=lines, lock=True)
        if plan.has_errors:
            raise ImportRefused(plan)
        _apply(plan, user=user, source=source, user_agent=user_agent)
    plan.applied = True
    return plan


# --- planning -------------------------------------------------------------------------------------


def _prep(model: Any, column: str, values: Any) -> list[Any]:
    field = model._meta.get_field(column)
    return [field.get_db_prep_value(value, connection) for value in values]


def _resources(user: Any, uuids: set[Any], lock: bool) -> dict[str, Resource]:
    """The named resources by uuid hex, each with `may_report` and its event keys, in one statement;
    under a row lock for an apply (on SQLite a no-op write first takes the database's write lock)."""
    if not uuids:
        return {}
    values = _prep(Resource, "uuid", uuids)
    where, params = one_of("r.uuid", values)
    if lock and connection.vendor == "sqlite":
        bare, bare_params = one_of("uuid", values)
        sql = f"UPDATE {table_name(Resource)} SET modified = modified WHERE {bare}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, bare_params)
    may_report, may_params = _may_report_sql(user)
    event_columns, event_joins = events.locked_key_sql()
    suffix = " FOR UPDATE OF r" if lock and connection.features.has_select_for_update_of else ""
    sql = (
        "SELECT r.id, r.uuid, r.name, r.state, r.plan_id, r.project_id, r.offering_id, r.created,"  # noqa: S608
        f" r.current_usages, {may_report} AS may_report, {event_columns} FROM {table_name(Resource)} r"
        f" JOIN {table_name(Offering)} o ON o.id = r.offering_id{event_joins} WHERE {where}"
        f" ORDER BY r.id{suffix}"  # two imports lock their resources in the same order: no deadlock
    )
    return {resource.uuid.hex: resource for resource in Resource.objects.raw(sql, [*may_params, *params])}


def _rows(model: Any, sql_where: str, params: list[Any], order: str = "id") -> list[Any]:
    sql = f"SELECT * FROM {table_name(model)} WHERE {sql_where} ORDER BY {order}"  # noqa: S608
    return list(model.objects.raw(sql, params))


class _World:
    """Everything the lines name, read in a fixed number of statements."""

    def __init__(self, user: Any, lines: list[ImportLine], lock: bool) -> None:
        good = [line for line in lines if not line.errors]
        self.now = timezone.now()
        self.current = billing_period_of(self.now)
        self.resources = _resources(user, {line.uuid for line in good}, lock)
        allowed = [r for r in self.resources.values() if r.may_report]  # type: ignore[attr-defined]
        others = [r.pk for r in self.resources.values() if not r.may_report]  # type: ignore[attr-defined]
        self.visible: set[int] = set()
        if others:
            visible = selectors.usage_visible_resources(user).filter(pk__in=others)
            self.visible = set(visible.values_list("pk", flat=True))
        ids = [r.pk for r in allowed]
        offering_ids = {r.offering_id for r in allowed}
        self.offerings = {o.pk: o for o in Offering.objects.filter(pk__in=offering_ids)}
        self.components: dict[tuple[int, str], OfferingComponent] = {
            (c.offering_id, c.type): c for c in OfferingComponent.objects.filter(offering_id__in=offering_ids)
        }
        months = {line.period for line in good}
        rid, rparams = one_of("resource_id", _prep(ComponentUsage, "resource_id", ids))
        month_sql, mparams = one_of("billing_period", _prep(ComponentUsage, "billing_period", months))
        self.records: dict[tuple[int, int, datetime.date], list[ComponentUsage]] = defaultdict(list)
        for row in _rows(
            ComponentUsage, f"{rid} AND {month_sql}", [*rparams, *mparams], "plan_period_id, id"
        ):
            self.records[(row.resource_id, row.component_id, row.billing_period)].append(row)
        start = connection.ops.quote_name("start")
        self.periods: dict[int, list[ResourcePlanPeriod]] = defaultdict(list)
        for period in _rows(ResourcePlanPeriod, rid, rparams, f"{start} DESC, id DESC"):
            self.periods[period.resource_id].append(period)
        self.user_rows: dict[tuple[int, str], ComponentUserUsage] = {}
        self.known: dict[int, set[str]] = defaultdict(set)  # resource → the usernames it knows
        self.user_ids: dict[tuple[int, str], int] = {}
        if any(line.username for line in good):
            self._load_users(ids, offering_ids, months)
        self.refusals: dict[tuple[int, datetime.date], str] = {}

    def _load_users(self, ids: list[int], offering_ids: set[int], months: set[Any]) -> None:
        """Per-user rows of the months named, the usernames each resource knows (its per-user rows of
        any month, its offering's offering users) and the users behind them: three statements."""
        usage, user_usage = table_name(ComponentUsage), table_name(ComponentUserUsage)
        rid, rparams = one_of("cu.resource_id", ids)
        month_sql, mparams = one_of("cu.billing_period", _prep(ComponentUsage, "billing_period", months))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT cu.resource_id, u.username FROM {user_usage} u"  # noqa: S608
                f" JOIN {usage} cu ON cu.id = u.component_usage_id WHERE {rid}",
                rparams,
            )
            for resource_id, username in cursor.fetchall():
                self.known[resource_id].add(username)
        sql = (
            f"SELECT u.* FROM {user_usage} u JOIN {usage} cu ON cu.id = u.component_usage_id"  # noqa: S608
            f" WHERE {rid} AND {month_sql} ORDER BY u.id"
        )
        for row in ComponentUserUsage.objects.raw(sql, [*rparams, *mparams]):
            self.user_rows[(row.component_usage_id, row.username)] = row
        by_offering: dict[int, set[str]] = defaultdict(set)
        offering_users = OfferingUser.objects.filter(offering_id__in=offering_ids).exclude(username="")
        for offering_id, username, user_id in offering_users.values_list(
            "offering_id", "username", "user_id"
        ):
            by_offering[offering_id].add(username)
            self.user_ids[(offering_id, username)] = user_id
        for resource in self.resources.values():
            self.known[resource.pk] |= by_offering.get(resource.offering_id, set())

    def date_of(self, period: datetime.date) -> datetime.datetime:
        """When a line of `period` is reported: now for the current month, else the month's first instant."""
        return self.now if period == self.current else month_start(period)

    def closed_refusal(self, user: Any, resource: Resource, period: datetime.date) -> str:
        """`correction_refusal`, asked once per offering and month: it reads of the resource only its
        offering (and the reporting rule, which is the offering's too)."""
        key = (resource.offering_id, period)
        if key not in self.refusals:
            resource.offering = self.offerings[resource.offering_id]
            refusal = correction_refusal(user=user, resource=resource, month=period)
            self.refusals[key] = refusal.message if refusal is not None else ""
        return self.refusals[key]


def plan_import(*, user: Any, lines: list[ImportLine], lock: bool = False) -> ImportPlan:
    """What importing `lines` would do, line by line (nothing written)."""
    world = _World(user, lines, lock)
    planned = [PlannedLine(source=line) for line in lines]
    for line in planned:
        if line.source.errors:
            line.refuse(" ".join(line.source.errors))
            continue
        _plan_line(line, user, world)
    return ImportPlan(lines=planned, user_ids=world.user_ids)


def _plan_line(line: PlannedLine, user: Any, world: _World) -> None:
    source = line.source
    assert source.uuid is not None and source.period is not None and source.value is not None
    resource = world.resources.get(source.uuid.hex)
    if resource is None or not resource.may_report:  # type: ignore[attr-defined]
        visible = resource is not None and resource.pk in world.visible
        line.refuse(MSG_MAY_NOT_REPORT if visible else MSG_NOT_FOUND)
        return
    line.resource = resource
    component = world.components.get((resource.offering_id, source.component))
    if component is None or component.billing_type not in REPORTABLE_BILLING_TYPES:
        names = sorted(
            c.type
            for (offering_id, _), c in world.components.items()
            if offering_id == resource.offering_id and c.billing_type in REPORTABLE_BILLING_TYPES
        )
        line.refuse(
            f"component: {source.component!r} is not a usage-reported component of this offering"
            f" (those are: {', '.join(names) or 'none'})."
        )
        return
    line.component = component
    period = source.period
    if period > world.current:
        line.refuse(MSG_FUTURE)
        return
    if period == world.current:
        if resource.state not in USAGE_REPORTABLE_STATES:
            line.refuse(MSG_INVALID_STATE)
            return
        if resource.plan_id is None:
            line.refuse(MSG_NO_PLAN)
            return
    else:
        refusal = world.closed_refusal(user, resource, period)
        if refusal:
            line.refuse(refusal)
            return
        if not source.reason:
            line.refuse(MSG_REASON.format(month=f"{period:%Y-%m}"))
            return
    if source.username and source.username not in world.known[resource.pk]:
        line.refuse(
            f"username: {source.username!r} is not known to this resource"
            " (no offering user of its offering, no per-user usage reported for it)."
        )
        return
    line.plan_period = pick_plan_period(world.periods[resource.pk], world.date_of(period))
    rows = world.records.get((resource.pk, component.pk, period), [])
    line.record = month_record(rows, line.plan_period)
    if source.username:
        if line.record is not None:
            line.user_row = world.user_rows.get((line.record.pk, source.username))
        old = line.user_row.usage if line.user_row is not None else None
    else:
        old = line.record.usage if line.record is not None else None
    line.old_amount = old
    line.outcome = "new" if old is None else "unchanged" if old == source.value else "changed"


# --- applying -------------------------------------------------------------------------------------


@dataclass
class _Group:
    """The lines that write one month's record of one component of one resource."""

    resource: Resource
    component: OfferingComponent
    period: datetime.date
    record: ComponentUsage | None
    plan_period: ResourcePlanPeriod | None
    total: PlannedLine | None = None
    users: list[PlannedLine] = field(default_factory=list)
    created: bool = False


IMPORT = UsageRevision.Verb.IMPORT.value
REVISION_COLUMNS = [
    "component_usage",
    "username",
    "old_value",
    "new_value",
    "description",
    "verb",
    "reason",
    "actor",
    "source",
    "user_agent",
    "created",
]
USER_ROW_COLUMNS = [
    "uuid",
    "component_usage",
    "username",
    "user",
    "usage",
    "description",
    "backend_id",
    "created",
    "modified",
]


class _Writes:
    """The rows, revisions and events of an apply, written in bulk at the end."""

    def __init__(self, user: Any, source: str, user_agent: str) -> None:
        self.user = user
        self.actor = user if getattr(user, "is_authenticated", False) else None
        self.source, self.user_agent = source, (user_agent or "")[:255]
        self.now = timezone.now()
        self.revisions: list[tuple[Any, ...]] = []  # values of REVISION_COLUMNS
        self.new_rows: list[tuple[Any, ...]] = []  # values of USER_ROW_COLUMNS
        self.events: list[NewEvent] = []
        self.created = prepare(UsageRevision, "created")(self.now)
        self.records: dict[int, ComponentUsage] = {}  # changed records by key

    def note(self, group: _Group, old: Decimal | None, new: Decimal, username: str, reason: str) -> None:
        assert group.record is not None
        actor = self.actor.pk if self.actor is not None else None
        self.revisions.append(
            (
                group.record.pk,
                username,
                old,
                new,
                "",
                IMPORT,
                reason,
                actor,
                self.source,
                self.user_agent,
                self.created,
            )
        )
        self.events.append(
            events.usage_event(
                group.resource,
                component_type=group.component.type,
                billing_period=group.period,
                usage=new,
                old_usage=old,
                actor=self.user,
                username=username,
                reason=reason,
            )
        )

    def set_total(self, group: _Group, total: Decimal, date: datetime.datetime) -> None:
        record = group.record
        assert record is not None
        record.usage, record.date, record.modified, record.modified_by = total, date, self.now, self.actor
        if record.plan_period_id is None and group.plan_period is not None:
            record.plan_period = group.plan_period
        self.records[record.pk] = record


def _groups(plan: ImportPlan) -> list[_Group]:
    groups: dict[tuple[int, int, datetime.date], _Group] = {}
    for line in plan.lines:
        if line.outcome not in ("new", "changed"):
            continue
        assert line.resource is not None and line.component is not None and line.source.period is not None
        key = (line.resource.pk, line.component.pk, line.source.period)
        group = groups.get(key)
        if group is None:
            group = _Group(line.resource, line.component, line.source.period, line.record, line.plan_period)
            groups[key] = group
        if line.source.username:
            group.users.append(line)
        else:
            group.total = line
    return list(groups.values())


def _create_records(groups: list[_Group], writes: _Writes) -> None:
    """The months' records that do not exist yet, in one INSERT per batch. A current month of a resource
    without any plan period gets one, as `set_usage` gives it (`plan_period_for`)."""
    current = billing_period_of(writes.now)
    made: dict[int, ResourcePlanPeriod | None] = {}
    missing = [group for group in groups if group.record is None]
    for group in missing:
        plan_period = group.plan_period
        if plan_period is None and group.period == current:
            if group.resource.pk not in made:
                made[group.resource.pk] = plan_period_for(group.resource, writes.now)
            plan_period = group.plan_period = made[group.resource.pk]
        total = group.total.new_amount if group.total is not None else None
        group.record = ComponentUsage(
            resource_id=group.resource.pk,
            **scope_of(group.resource),
            component_id=group.component.pk,
            component_type=group.component.type,
            plan_period=plan_period,
            usage=total if total is not None else Decimal(0),
            date=writes.now if group.period == current else month_start(group.period),
            billing_period=group.period,
            modified_by=writes.actor,
            created=writes.now,
            modified=writes.now,
        )
        group.created = True
    if not missing:
        return
    # Maybe the first reports of some resources' months: the counts of reported months follow.
    with coverage_months.kept([group.resource.pk for group in missing], [group.period for group in missing]):
        ComponentUsage.objects.bulk_create([group.record for group in missing], batch_size=1000)  # type: ignore[misc]


def _apply(plan: ImportPlan, *, user: Any, source: str, user_agent: str) -> None:
    """Writes every new or changed line of a plan without errors (inside the caller's transaction)."""
    groups = _groups(plan)
    if not groups:
        return
    writes = _Writes(user, source, user_agent)
    current = billing_period_of(writes.now)
    _create_records(groups, writes)
    as_uuid = prepare(ComponentUserUsage, "uuid")
    changed_rows: list[ComponentUserUsage] = []
    for group in groups:
        date = writes.now if group.period == current else month_start(group.period)
        if group.total is not None:
            total = group.total.new_amount
            assert total is not None
            if not group.created:
                writes.set_total(group, total, date)
            writes.note(group, group.total.old_amount, total, "", group.total.source.reason)
        for line in group.users:
            amount = line.new_amount
            assert amount is not None
            row = line.user_row
            if row is None:
                assert group.record is not None
                user_id = plan.user_ids.get((group.resource.offering_id, line.source.username))
                writes.new_rows.append(
                    (
                        as_uuid(uuid.uuid4()),
                        group.record.pk,
                        line.source.username,
                        user_id,
                        amount,
                        "",
                        "",
                        writes.created,
                        writes.created,
                    )
                )
            else:
                row.usage, row.modified = amount, writes.now
                changed_rows.append(row)
            writes.note(group, line.old_amount, amount, line.source.username, line.source.reason)
    insert_many(ComponentUserUsage, USER_ROW_COLUMNS, writes.new_rows)
    ComponentUserUsage.objects.bulk_update(changed_rows, ["usage", "modified"], batch_size=500)
    _totals_from_users(groups, writes)
    ComponentUsage.objects.bulk_update(
        list(writes.records.values()),
        ["usage", "date", "modified", "modified_by", "plan_period"],
        batch_size=500,
    )
    insert_many(UsageRevision, REVISION_COLUMNS, writes.revisions)
    record_many(writes.events, actor=user)
    _current_usages(groups, writes, current)
    limit_usage.refresh(group.resource.pk for group in groups)


def _totals_from_users(groups: list[_Group], writes: _Writes) -> None:
    """A month whose total was 0 (or that is new) and that the file gives per-user rows but no total
    takes the sum of its per-user rows, as `set_user_usages` does (one aggregate for all)."""
    pending = [
        group
        for group in groups
        if group.users
        and group.total is None
        and group.record is not None
        and (group.created or group.record.usage == 0)
    ]
    if not pending:
        return
    sums = dict(
        ComponentUserUsage.objects.filter(component_usage_id__in=[g.record.pk for g in pending if g.record])
        .values("component_usage_id")
        .annotate(total=Sum("usage"))
        .values_list("component_usage_id", "total")
    )
    current = billing_period_of(writes.now)
    for group in pending:
        assert group.record is not None
        total = sums.get(group.record.pk) or Decimal(0)
        old = None if group.created else group.record.usage
        if old is not None and total == old:
            continue
        date = writes.now if group.period == current else month_start(group.period)
        writes.set_total(group, total, date)
        writes.note(group, old, total, "", group.users[0].source.reason)


def _current_usages(groups: list[_Group], writes: _Writes, current: datetime.date) -> None:
    """A resource's `current_usages` take the current month's totals written (one UPDATE per batch)."""
    changed: dict[int, Resource] = {}
    for group in groups:
        record = group.record
        if group.period != current or record is None:
            continue
        if not group.created and record.pk not in writes.records:
            continue
        resource = group.resource
        usages = dict(resource.current_usages or {})
        usages[group.component.type] = float(record.usage)
        resource.current_usages = usages
        changed[resource.pk] = resource
    Resource.objects.bulk_update(list(changed.values()), ["current_usages"], batch_size=500)
