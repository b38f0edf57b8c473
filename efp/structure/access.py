"""Who may see and do what: every visibility and permission rule, written once as SQL with bound parameters.

A rule is a `Rows`: the keys of one table's rows that satisfy a condition (a `Fragment`: SQL and its
parameters). Every path reads the same `Rows`:
- the ORM selectors filter with `pk__in=RawSQL(...)` (`Rows.q`, `Rows.filter`): one flat subquery with bound
  parameters, cheaper to compile than nested querysets (docs/performance.md);
- hand-written SQL tests a column of its own query (`Rows.contains(OuterColumn("r.project_id"))`);
- `has_permission` asks one statement over given keys (`Rows.any_of`), `permission_sql` per row (`Rows.at`);
- the GUI grants read a rule's keys once per page (`Rows.keys`).
`efp/marketplace/tests/test_access_agreement.py` runs every rule for every persona through every path.

Meanings (docs/architecture.md): a customer or project role grants nothing from its `expiration_time` on
(offering roles do not expire); a removed project is nobody's (hidden, and its project roles grant nothing);
a blocked organisation is seen and managed as before, only the order services refuse it. Staff see and may
do everything; support users see everything and may do what their roles allow.

The module lives beside both apps and looks their tables up through the app registry, so that `structure`
(which reads it) never imports `marketplace`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db import connection
from django.db.models import BooleanField, Model, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from efp.events.catalogue import ACCESS_TYPES
from efp.structure.roles import Permission, Role, roles_with

# What a token limited to one offering may do: its own module (data and one predicate), read from here.
from efp.structure.scope_rules import NOT_FOUND as OUT_OF_SCOPE  # noqa: F401 - re-exported
from efp.structure.scope_rules import SCOPED_BODY_TARGETS, SCOPED_ROUTES  # noqa: F401 - re-exported
from efp.structure.scope_rules import narrowed as token_scope_narrowed  # noqa: F401 - re-exported
from efp.structure.scope_rules import refusal as token_scope_refusal  # noqa: F401 - re-exported

M = TypeVar("M", bound=Model)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


@dataclass(frozen=True)
class OuterColumn:
    """A column of the query a rule is put into (`r.project_id`): the only text a caller adds to a rule's
    SQL, checked to be an identifier; values always travel as parameters. The rules name their own tables
    in full and their columns unqualified, so an alias of the outer query (`r`, `o`) is never shadowed."""

    name: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(f"Not a column name: {self.name!r}")


@dataclass(frozen=True)
class Fragment:
    """A SQL condition and its bound parameters; `&` and `|` combine two, folding ALWAYS and NEVER."""

    sql: str
    params: tuple[Any, ...] = ()

    def __and__(self, other: Fragment) -> Fragment:
        if self is NEVER or other is NEVER:
            return NEVER
        if self is ALWAYS or other is ALWAYS:
            return other if self is ALWAYS else self
        return Fragment(f"({self.sql} AND {other.sql})", (*self.params, *other.params))

    def __or__(self, other: Fragment) -> Fragment:
        if self is ALWAYS or other is ALWAYS:
            return ALWAYS
        if self is NEVER or other is NEVER:
            return other if self is NEVER else self
        return Fragment(f"({self.sql} OR {other.sql})", (*self.params, *other.params))

    def holds(self) -> bool:
        """Ask the condition alone: one statement (none for ALWAYS and NEVER)."""
        if self is ALWAYS or self is NEVER:
            return self is ALWAYS
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {self.sql}", list(self.params))
            (holds,) = cursor.fetchone()
        return bool(holds)


ALWAYS, NEVER = Fragment("1 = 1"), Fragment("1 = 0")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


@dataclass(frozen=True)
class Rows:
    """The `key` column of the rows of `table` where `where` holds: a set of ids (of organisations,
    projects or offerings). With `where` ALWAYS it is every row of the table, with NEVER none."""

    table: str
    key: str
    where: Fragment

    def select(self) -> Fragment:
        """The ids as a subquery (`... IN (<this>)`)."""
        return Fragment(f"SELECT {self.key} FROM {self.table} WHERE {self.where.sql}", self.where.params)  # noqa: S608 - names from our models

    def contains(self, column: OuterColumn) -> Fragment:
        """`column IN (the ids)`: for a list, the database answers it once for all rows."""
        if self.where is ALWAYS or self.where is NEVER:
            return self.where
        select = self.select()
        return Fragment(f"{column.name} IN ({select.sql})", select.params)

    def at(self, column: OuterColumn) -> Fragment:
        """Is `column` one of the ids (EXISTS, for a query that reads one row)."""
        if self.where is ALWAYS or self.where is NEVER:
            return self.where
        return Fragment(
            f"EXISTS (SELECT 1 FROM {self.table} WHERE {self.key} = {column.name} AND {self.where.sql})",  # noqa: S608
            self.where.params,
        )

    def any_of(self, keys: Sequence[int]) -> Fragment:
        """Is one of `keys` among the ids."""
        if not keys or self.where is NEVER:
            return NEVER
        if self.where is ALWAYS:
            return ALWAYS
        return Fragment(
            f"EXISTS (SELECT 1 FROM {self.table} WHERE {self.key} IN ({_marks(keys)}) AND {self.where.sql})",  # noqa: S608
            (*keys, *self.where.params),
        )

    def exists(self) -> Fragment:
        if self.where is ALWAYS or self.where is NEVER:
            return self.where
        return Fragment(f"EXISTS (SELECT 1 FROM {self.table} WHERE {self.where.sql})", self.where.params)  # noqa: S608

    def q(self, field: str) -> Q:
        """ORM: `<field> IN (the ids)` as a `Q` to combine with others (`field` as in `filter()`)."""
        if self.where is ALWAYS or self.where is NEVER:
            return Q(RawSQL(self.where.sql, (), output_field=BooleanField()))  # noqa: S611 - a constant
        select = self.select()
        return Q(**{f"{field}__in": RawSQL(select.sql, select.params)})  # noqa: S611 - bound parameters

    def filter(self, qs: QuerySet[M], field: str = "pk") -> QuerySet[M]:
        """ORM: the rows of `qs` whose `field` is one of the ids."""
        if self.where is NEVER:
            return qs.none()
        if self.where is ALWAYS:
            return qs
        return qs.filter(self.q(field))

    def keys(self) -> set[int]:
        """The ids themselves (one query; none for NEVER)."""
        if self.where is NEVER:
            return set()
        select = self.select()
        with connection.cursor() as cursor:
            cursor.execute(select.sql, list(select.params))
            return {key for (key,) in cursor.fetchall()}


@dataclass(frozen=True)
class Union:
    """The ids in any of `parts`: a rule read from several role tables. Asked for a few keys, each part is
    its own EXISTS, which the database answers from the role table's indexes (`has_permission`)."""

    parts: tuple[Rows, ...]

    def select(self) -> Fragment:
        selects = [part.select() for part in self.parts]
        return Fragment(" UNION ".join(s.sql for s in selects), tuple(p for s in selects for p in s.params))

    def contains(self, column: OuterColumn) -> Fragment:
        return _either(part.contains(column) for part in self.parts)

    def at(self, column: OuterColumn) -> Fragment:
        return _either(part.at(column) for part in self.parts)

    def any_of(self, keys: Sequence[int]) -> Fragment:
        return _either(part.any_of(keys) for part in self.parts)

    def q(self, field: str) -> Q:
        first, *others = self.parts
        combined = first.q(field)
        for part in others:
            combined |= part.q(field)
        return combined

    def filter(self, qs: QuerySet[M], field: str = "pk") -> QuerySet[M]:
        return qs.filter(self.q(field))

    def keys(self) -> set[int]:
        return set().union(*(part.keys() for part in self.parts))


def _either(conditions: Iterable[Fragment]) -> Fragment:
    combined = NEVER
    for condition in conditions:
        combined = combined | condition
    return combined


IdSet = Rows | Union


# --- who is asking ------------------------------------------------------------------------------


def is_anonymous(user: Any) -> bool:
    return not getattr(user, "is_authenticated", False)


def sees_everything(user: Any) -> bool:
    """Staff and support users see every organisation, project, offering, order and resource."""
    return not is_anonymous(user) and bool(user.is_staff or getattr(user, "is_support", False))


def may_do_everything(user: Any) -> bool:
    """Staff hold every permission; support users only what their roles give."""
    return not is_anonymous(user) and bool(user.is_staff)


@functools.cache
def _table(app: str, model: str) -> str:
    return str(apps.get_model(app, model)._meta.db_table)


# --- the rules ------------------------------------------------------------------------------------


def in_force() -> Fragment:
    """A customer or project role grants nothing from its expiration time on (the role table's columns)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return Fragment("(expiration_time IS NULL OR expiration_time > %s)", (now,))


LIVE = Fragment("is_removed = %s", (False,))  # a project that is not removed (the project table's column)


def _roles(model: str, key: str, user: Any, permission: Permission | None) -> Rows:
    """Scopes (`key`) where `user` holds a role of `model` (one carrying `permission` if given), in force."""
    table = _table("marketplace" if model == "OfferingRole" else "structure", model)
    if is_anonymous(user):
        return Rows(table, key, NEVER)
    where = Fragment("user_id = %s", (user.pk,))
    if permission is not None:
        roles = _role_names(permission)
        where = Fragment(f"({where.sql} AND role IN ({_marks(roles)}))", (*where.params, *roles))
    if model != "OfferingRole":
        where = where & in_force()
    return Rows(table, key, where)


@functools.cache
def _role_names(permission: Permission) -> tuple[str, ...]:
    return tuple(sorted(role.value for role in roles_with(permission)))


def customer_roles(user: Any, permission: Permission | None = None) -> Rows:
    """Organisations where the user holds a role in force (carrying `permission` if given)."""
    return _roles("CustomerRole", "customer_id", user, permission)


def project_roles(user: Any, permission: Permission | None = None) -> Rows:
    """Projects (removed ones too) where the user holds a project role in force."""
    return _roles("ProjectRole", "project_id", user, permission)


def offering_roles(user: Any, permission: Permission | None = None) -> Rows:
    """Offerings where the user holds an offering role (these do not expire)."""
    return _roles("OfferingRole", "offering_id", user, permission)


def _rows(app: str, model: str, where: Fragment) -> Rows:
    return Rows(_table(app, model), "id", where)


def _visible(user: Any, app: str, model: str, everything: Fragment, mine: Fragment) -> Rows:
    """What staff and support see (`everything`), what others see (`mine`), and nothing for the anonymous."""
    if is_anonymous(user):
        return _rows(app, model, NEVER)
    return _rows(app, model, everything if sees_everything(user) else mine)


def _permitted(user: Any, app: str, model: str, *parts: Rows) -> IdSet:
    """Where `user` holds a permission: through any of `parts` (staff: every row, the anonymous none)."""
    if is_anonymous(user) or may_do_everything(user):
        return _rows(app, model, NEVER if is_anonymous(user) else ALWAYS)
    return parts[0] if len(parts) == 1 else Union(parts)


ID, CUSTOMER_ID = OuterColumn("id"), OuterColumn("customer_id")


def my_projects(user: Any) -> Rows:
    """Live projects where the user holds a project role in force, or any role in force in the project's
    organisation (staff and support: every live project)."""
    mine = LIVE & (project_roles(user).contains(ID) | customer_roles(user).contains(CUSTOMER_ID))
    return _visible(user, "structure", "Project", LIVE, mine)


def my_customers(user: Any) -> Rows:
    """Organisations where the user holds a role in force, and those of the live projects where they hold
    a project role in force (staff and support: every organisation)."""
    member_of = _rows("structure", "Project", LIVE & project_roles(user).contains(ID))
    of_projects = Fragment(
        f"id IN (SELECT customer_id FROM {member_of.table} WHERE {member_of.where.sql})",  # noqa: S608
        member_of.where.params,
    )
    return _visible(user, "structure", "Customer", ALWAYS, customer_roles(user).contains(ID) | of_projects)


def _offering_side_customers(user: Any) -> Rows:
    """Organisations whose offerings the provider workspace shows through a customer role in force: every
    such role but the service manager role an offering manager holds with it (Waldur grants CUSTOMER.MANAGER
    with OFFERING.MANAGER, `grant_offering_manager`): an offering manager sees the offerings they manage,
    not the organisation's others. A service manager who manages none of its offerings sees them all."""
    roles = customer_roles(user)
    if roles.where is NEVER:
        return roles
    manager = Role.CUSTOMER_MANAGER.value
    offering_role, offering = _table("marketplace", "OfferingRole"), _table("marketplace", "Offering")
    manages_one = Fragment(
        f"(role = %s AND EXISTS (SELECT 1 FROM {offering_role} JOIN {offering} "  # noqa: S608 - our tables
        f"ON {offering}.id = {offering_role}.offering_id WHERE {offering_role}.user_id = %s "
        f"AND {offering}.customer_id = {roles.table}.customer_id))",
        (manager, user.pk),
    )
    where = roles.where & Fragment(f"NOT {manages_one.sql}", manages_one.params)
    return Rows(roles.table, roles.key, where)


def my_offerings(user: Any) -> Rows:
    """Offerings of organisations where the user holds a role in force, and offerings they manage: the
    provider side of orders, resources and usage (staff and support: every offering)."""
    mine = customer_roles(user).contains(CUSTOMER_ID) | offering_roles(user).contains(ID)
    return _visible(user, "marketplace", "Offering", ALWAYS, mine)


def workspace_offerings(user: Any) -> Rows:
    """The offerings of `my_offerings` the provider workspace (GUI lists, dashboard, landing page) shows:
    those of `_offering_side_customers` and those the user manages. An offering manager works on their
    offerings; the API keeps Waldur's wider view (`my_offerings`) and permissions are unchanged."""
    mine = _offering_side_customers(user).contains(CUSTOMER_ID) | offering_roles(user).contains(ID)
    return _visible(user, "marketplace", "Offering", ALWAYS, mine)


def offerings_a_token_may_serve(user: Any) -> QuerySet[Any]:
    """The offerings a token of `user` may be limited to (a site agent's): those of `my_offerings`."""
    return my_offerings(user).filter(apps.get_model("marketplace", "Offering").objects.order_by("name", "pk"))


def public_offerings(user: Any) -> Rows:
    """Offerings a signed-in user may look at: shared ones that are Active or Paused, those of their
    provider side, and private ones of the organisations they see."""
    state = apps.get_model("marketplace", "Offering").State
    shown = Fragment("(shared = %s AND state IN (%s, %s))", (True, state.ACTIVE.value, state.PAUSED.value))
    private = Fragment("shared = %s", (False,)) & my_customers(user).contains(CUSTOMER_ID)
    return _visible(
        user, "marketplace", "Offering", ALWAYS, shown | my_offerings(user).contains(ID) | private
    )


def provider_customers(user: Any) -> Rows:
    """Organisations whose provider side the user works for: a role in force there, or an offering role
    on one of its offerings (staff and support: every organisation)."""
    managed = offering_roles(user).select()
    of_offerings = Fragment(
        f"id IN (SELECT customer_id FROM {_table('marketplace', 'Offering')} WHERE id IN ({managed.sql}))",  # noqa: S608
        managed.params,
    )
    return _visible(user, "structure", "Customer", ALWAYS, customer_roles(user).contains(ID) | of_offerings)


def billing_customers(user: Any) -> Rows:
    """Organisations whose invoices the user reads: those they own, through a role in force (staff and
    support: every organisation). Waldur shows an organisation's invoices to its owners."""
    roles = customer_roles(user)
    owner = Fragment("role = %s", (Role.CUSTOMER_OWNER.value,))
    return _visible(
        user, "structure", "Customer", ALWAYS, Rows(roles.table, roles.key, roles.where & owner).contains(ID)
    )


def billing_offerings(user: Any) -> Rows:
    """Offerings whose invoice items the provider side reads: those of organisations the user owns and
    those they manage (staff and support: every offering)."""
    roles = customer_roles(user)
    owner = Fragment("role = %s", (Role.CUSTOMER_OWNER.value,))
    owned = Rows(roles.table, roles.key, roles.where & owner)
    return _visible(
        user,
        "marketplace",
        "Offering",
        ALWAYS,
        owned.contains(CUSTOMER_ID) | offering_roles(user).contains(ID),
    )


def provider_workspace(user: Any) -> Fragment:
    """May the user enter the provider workspace: staff, a role in force in a service provider's
    organisation, or any offering role (support users by their roles only)."""
    if is_anonymous(user):
        return NEVER
    if may_do_everything(user):
        return ALWAYS
    providers = Rows(
        _table("marketplace", "ServiceProvider"), "customer_id", customer_roles(user).contains(CUSTOMER_ID)
    )
    return providers.exists() | offering_roles(user).exists()


def visible_events(user: Any) -> Rows:
    """Events about an organisation where the user holds a role in force, a project of `my_projects`, an
    offering of `my_offerings` (its provider side), or the user themselves (a role they were given)
    (staff and support: every event). An event names its scopes by id (`efp.events.models.Event`)."""
    if is_anonymous(user):
        return _rows("events", "Event", NEVER)
    mine = (
        customer_roles(user).contains(CUSTOMER_ID)
        | my_projects(user).contains(OuterColumn("project_id"))
        | my_offerings(user).contains(OuterColumn("offering_id"))
        | Fragment("user_id = %s", (user.pk,))
    )
    return _visible(user, "events", "Event", ALWAYS, mine)


def access_events(user: Any) -> Rows:
    """The record of access (`events.catalogue.ACCESS_TYPES`: sign-ins, lockouts, API tokens, role changes):
    a person's own, those naming them (staff and support: everyone's)."""
    kinds = Fragment(f"event_type IN ({_marks(ACCESS_TYPES)})", ACCESS_TYPES)
    return _visible(user, "events", "Event", kinds, kinds & Fragment("user_id = %s", (user.pk,)))


def permitted_customers(user: Any, permission: Permission) -> IdSet:
    """Organisations where the user holds `permission` through a role in force (staff: all)."""
    return _permitted(user, "structure", "Customer", customer_roles(user, permission))


def permitted_projects(user: Any, permission: Permission) -> IdSet:
    """Live projects where the user holds `permission` through a project role in force or a role in force
    in the project's organisation (staff: all, removed ones too)."""
    through_project = _rows("structure", "Project", LIVE & project_roles(user, permission).contains(ID))
    through_customer = _rows(
        "structure", "Project", LIVE & customer_roles(user, permission).contains(CUSTOMER_ID)
    )
    return _permitted(user, "structure", "Project", through_project, through_customer)


def permitted_offerings(user: Any, permission: Permission) -> IdSet:
    """Offerings where the user holds `permission` through an offering role or a role in force in the
    offering's organisation (staff: all)."""
    through_customer = _rows(
        "marketplace", "Offering", customer_roles(user, permission).contains(CUSTOMER_ID)
    )
    return _permitted(user, "marketplace", "Offering", offering_roles(user, permission), through_customer)


# A scope of `permission`: model instances or their keys, or a column of the query the condition is in.
Scope = Iterable[Any] | OuterColumn


def _ids(objects: Iterable[Any]) -> list[int]:
    """Primary keys of model instances, or the keys themselves."""
    return [obj if isinstance(obj, int) else obj.pk for obj in objects if obj is not None]


def permission_condition(
    user: Any, permission: Permission, *, customers: Scope = (), projects: Scope = (), offerings: Scope = ()
) -> Fragment:
    """Does `user` hold `permission` on one of the scopes: an organisation (`permitted_customers`), a
    project (`permitted_projects`: its own roles and its organisation's) or an offering
    (`permitted_offerings`: the same)? One condition, asked in one statement."""
    if is_anonymous(user):
        return NEVER
    if may_do_everything(user):
        return ALWAYS
    condition = NEVER
    for rule, scope in (
        (permitted_customers, customers),
        (permitted_projects, projects),
        (permitted_offerings, offerings),
    ):
        if isinstance(scope, OuterColumn):
            condition = condition | rule(user, permission).at(scope)
        elif keys := _ids(scope):
            condition = condition | rule(user, permission).any_of(keys)
    return condition
