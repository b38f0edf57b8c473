"""Every visibility and permission rule of `efp.structure.access`, for every persona, through every path,
agrees.

Paths: the rule's SQL run alone (`Rows.keys`), the rule as a condition on a column of a hand-written query
(`Rows.contains`, `permission_sql`, `usage_visibility_sql`), the ORM selectors, `has_permission` one object
at a time, and the GUI grants (`ProviderGrants`, `ProjectGrants`). Each is compared with what the role
tables say, read here in plain Python (the oracle): a customer or project role counts until its expiration
time, offering roles always; a removed project is nobody's; a blocked organisation is treated like any
other (only the order services refuse it).

Personas beyond those of `MarketplaceTestCase` (alice, bob, erin, carol, oscar, dave, staff):
  sam     support user, no role               mike   service manager (CUSTOMER.MANAGER) of provider P
  frank   owner of organisation A, expired    gina   admin of project A1, expired
  hank    admin of project A3 (removed)       paul   member of P1, a project of provider P (sees P-private)
  rob     member of P2 (removed, of P)        ivan   owner of organisation Z (blocked); judy member of Z1
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.models import Offering, OfferingRole, Order, Resource, ServiceProvider
from efp.marketplace.states import OrderState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import (
    make_customer,
    make_offering,
    make_order,
    make_project,
    make_resource,
)
from efp.marketplace.tests.factories import make_user as make
from efp.structure import access
from efp.structure import selectors as structure_selectors
from efp.structure.access import IdSet, OuterColumn
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.permissions import has_permission, is_owner, permission_sql
from efp.structure.roles import Permission, Role, roles_with
from efp.structure.services import grant_customer_role, remove_project
from efp.web.access import ProjectGrants, ProviderGrants

Paths = dict[str, set[int]]


def ids(rows: Iterable[Model]) -> set[int]:
    return {row.pk for row in rows}


def where(model: type[Model], alias: str, condition: tuple[str, list[Any]] | access.Fragment) -> set[int]:
    """The ids of `model`'s rows (aliased `alias`) where a hand-written condition holds."""
    sql, params = (
        (condition.sql, list(condition.params)) if isinstance(condition, access.Fragment) else condition
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {alias}.id FROM {model._meta.db_table} {alias} WHERE {sql}", params)  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def rule_paths(rows: IdSet, model: type[Model], orm: Iterable[Model] | None = None) -> Paths:
    paths = {"sql": rows.keys(), "column": where(model, "x", rows.contains(OuterColumn("x.id")))}
    if orm is not None:
        paths["orm"] = ids(orm)
    return paths


class Oracle:
    """What the role tables grant `user`, read in Python from every row (expired ones included)."""

    def __init__(self, user: User) -> None:
        now = timezone.now()
        self.user = user
        self.all = bool(user.is_staff or user.is_support)
        self.customer_roles = [r for r in CustomerRole.all_objects.filter(user=user) if self._on(r, now)]
        self.all_project_roles = [r for r in ProjectRole.all_objects.filter(user=user) if self._on(r, now)]
        self.project_roles = [r for r in self.all_project_roles if not r.project.is_removed]
        self.offering_roles = list(OfferingRole.objects.filter(user=user))
        self.live = {p.pk: p for p in Project.objects.filter(is_removed=False)}

    @staticmethod
    def _on(role: Any, now: datetime.datetime) -> bool:
        return role.expiration_time is None or role.expiration_time > now

    def customers(self, permission: Permission | None = None) -> set[int]:
        return {
            r.customer_id
            for r in self.customer_roles
            if permission is None or r.role in roles_with(permission)
        }

    def my_customers(self) -> set[int]:
        if self.all:
            return ids(Customer.objects.all())
        return self.customers() | {r.project.customer_id for r in self.project_roles}

    def projects(self, permission: Permission | None = None) -> set[int]:
        if permission is not None and self.user.is_staff:
            return ids(Project.objects.all())
        if permission is None and self.all:
            return set(self.live)
        mine = {
            r.project_id for r in self.project_roles if permission is None or r.role in roles_with(permission)
        }
        return {
            pk for pk, p in self.live.items() if pk in mine or p.customer_id in self.customers(permission)
        }

    def offerings(self, permission: Permission | None = None) -> set[int]:
        if (self.all and permission is None) or (self.user.is_staff and permission is not None):
            return ids(Offering.objects.all())
        managed = {
            r.offering_id
            for r in self.offering_roles
            if permission is None or r.role in roles_with(permission)
        }
        customers = self.customers(permission)
        return {o.pk for o in Offering.objects.all() if o.customer_id in customers or o.pk in managed}

    def workspace_offerings(self) -> set[int]:
        """My offerings, but an offering manager's service manager role shows only what they manage."""
        if self.all:
            return ids(Offering.objects.all())
        manages_in = {r.offering.customer_id for r in self.offering_roles}
        customers = {
            r.customer_id
            for r in self.customer_roles
            if not (r.role == Role.CUSTOMER_MANAGER and r.customer_id in manages_in)
        }
        managed = {r.offering_id for r in self.offering_roles}
        return {o.pk for o in Offering.objects.all() if o.customer_id in customers or o.pk in managed}

    def public_offerings(self) -> set[int]:
        if self.all:
            return ids(Offering.objects.all())
        shown = {"Active", "Paused"}
        return {
            o.pk
            for o in Offering.objects.all()
            if (o.shared and o.state in shown)
            or o.pk in self.offerings()
            or (not o.shared and o.customer_id in self.my_customers())
        }

    def provider_customers(self) -> set[int]:
        if self.all:
            return ids(Customer.objects.all())
        return self.customers() | {r.offering.customer_id for r in self.offering_roles}

    def provider_workspace(self) -> bool:
        providers = set(ServiceProvider.objects.values_list("customer_id", flat=True))
        return self.user.is_staff or bool(self.customers() & providers) or bool(self.offering_roles)

    def sees(self, rows: Iterable[Any]) -> set[int]:
        """Orders or resources: of my (live) projects, or of my offerings."""
        projects, offerings = self.projects(), self.offerings()
        return {x.pk for x in rows if self.all or x.project_id in projects or x.offering_id in offerings}


class AccessPersonas(MarketplaceTestCase):
    """The 16 personas and what they hold (the module's docstring); test_tallies.py reuses them."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        past = timezone.now() - datetime.timedelta(days=1)
        cls.sam = make("sam", is_support=True)
        cls.mike, cls.frank, cls.gina, cls.hank = make("mike"), make("frank"), make("gina"), make("hank")
        cls.paul, cls.rob, cls.ivan, cls.judy = make("paul"), make("rob"), make("ivan"), make("judy")
        grant_customer_role(customer=cls.provider_p, user=cls.mike, role=Role.CUSTOMER_MANAGER)
        CustomerRole.objects.create(
            customer=cls.org_a, user=cls.frank, role=Role.CUSTOMER_OWNER, expiration_time=past
        )
        ProjectRole.objects.create(
            project=cls.project_a1, user=cls.gina, role=Role.PROJECT_ADMIN, expiration_time=past
        )
        cls.private = make_offering(cls.provider_p, name="Offering P-private", shared=False)
        cls.project_p1 = make_project(cls.provider_p, "Project P1", members=[cls.paul])
        cls.project_p2 = make_project(cls.provider_p, "Project P2", members=[cls.rob])
        cls.project_a3 = make_project(cls.org_a, "Project A3", admins=[cls.hank])
        cls.org_z = make_customer("Organisation Z", owner=cls.ivan)
        cls.project_z1 = make_project(cls.org_z, "Project Z1", members=[cls.judy])
        for project in (cls.project_a1, cls.project_a3, cls.project_z1):
            make_resource(
                cls.alice if project.customer == cls.org_a else cls.ivan, cls.carol, project, cls.offering
            )
        make_order(cls.bob, cls.project_a1, cls.basic)  # waits for the consumer (a member asked)
        make_order(cls.hank, cls.project_a3, cls.basic)
        make_order(cls.judy, cls.project_z1, cls.offering)
        remove_project(project=cls.project_a3)
        remove_project(project=cls.project_p2)
        Customer.objects.filter(pk=cls.org_z.pk).update(blocked=True)
        cls.personas = [
            cls.staff, cls.sam, cls.alice, cls.erin, cls.bob, cls.carol, cls.mike, cls.oscar, cls.dave,
            cls.frank, cls.gina, cls.hank, cls.paul, cls.rob, cls.ivan, cls.judy,
        ]  # fmt: skip


class AccessAgreementTests(AccessPersonas):
    def visibility(self, user: User, oracle: Oracle) -> dict[str, tuple[Any, Paths]]:
        """Each visibility rule: what the oracle says, and what each path yields."""
        usage, usage_params = selectors.usage_visibility_sql(user, "x")
        manages = selectors.manages_service_provider
        providers = {p.customer_id: p for p in ServiceProvider.objects.all()}
        return {
            "organisation roles in force": (
                oracle.customers(),
                {
                    "sql": access.customer_roles(user).keys(),
                    "manager": {r.customer_id for r in CustomerRole.objects.filter(user=user)},
                },
            ),
            "project roles in force": (
                {r.project_id for r in oracle.all_project_roles},
                {
                    "sql": access.project_roles(user).keys(),
                    "manager": {r.project_id for r in ProjectRole.objects.filter(user=user)},
                },
            ),
            "organisations owned": (
                {r.customer_id for r in oracle.customer_roles if r.role == Role.CUSTOMER_OWNER},
                {"is_owner": {c.pk for c in Customer.objects.all() if is_owner(user, c)}},
            ),
            "my customers": (
                oracle.my_customers(),
                rule_paths(access.my_customers(user), Customer, structure_selectors.visible_customers(user)),
            ),
            "my projects": (
                oracle.projects(),
                rule_paths(access.my_projects(user), Project, structure_selectors.visible_projects(user)),
            ),
            "my offerings": (
                oracle.offerings(),
                rule_paths(access.my_offerings(user), Offering, selectors.provider_offerings(user)),
            ),
            "workspace offerings": (
                oracle.workspace_offerings(),
                rule_paths(access.workspace_offerings(user), Offering, selectors.workspace_offerings(user)),
            ),
            "public offerings": (
                oracle.public_offerings(),
                rule_paths(access.public_offerings(user), Offering, selectors.public_offerings(user)),
            ),
            "provider customers": (
                oracle.provider_customers(),
                rule_paths(access.provider_customers(user), Customer),
            ),
            "service providers managed": (
                oracle.provider_customers() & set(providers),
                {"manages_service_provider": {pk for pk, p in providers.items() if manages(user, p)}},
            ),
            "provider workspace": (
                {1} if oracle.provider_workspace() else set(),
                {
                    "sql": {1} if access.provider_workspace(user).holds() else set(),
                    "is_provider_user": {1} if selectors.is_provider_user(user) else set(),
                },
            ),
            "orders": (oracle.sees(Order.objects.all()), {"orm": ids(selectors.visible_orders(user))}),
            "resources with usage": (
                oracle.sees(Resource.objects.all()),
                {
                    "orm": ids(selectors.usage_visible_resources(user)),
                    "usage_visibility_sql": where(Resource, "x", (usage, usage_params)),
                },
            ),
            "orders awaiting the consumer": (
                {
                    o.pk
                    for o in Order.objects.filter(state=OrderState.PENDING_CONSUMER)
                    if (oracle.all or o.project_id in oracle.projects())
                    and o.project_id in oracle.projects(Permission.ORDER_APPROVE)
                },
                {"orm": ids(selectors.orders_awaiting_consumer(user))},
            ),
        }  # fmt: skip

    def permissions(self, user: User, oracle: Oracle, permission: Permission) -> dict[str, tuple[Any, Paths]]:
        def one_by_one(model: type[Model], scope: str) -> set[int]:
            return {
                pk for pk in ids(model.objects.all()) if has_permission(user, permission, **{scope: [pk]})
            }

        def column(model: type[Model], scope: str) -> set[int]:
            return where(model, "x", permission_sql(user, permission, **{scope: OuterColumn("x.id")}))

        provider, project = ProviderGrants(user, [permission]), ProjectGrants(user, [permission])
        offerings = Offering.objects.all()
        on_projects = [Order(project_id=pk) for pk in ids(Project.objects.all())]  # a row of each project
        return {
            f"{permission} on organisations": (
                oracle.customers(permission) if not user.is_staff else ids(Customer.objects.all()),
                {
                    **rule_paths(access.permitted_customers(user, permission), Customer),
                    "has_permission": one_by_one(Customer, "customers"),
                    "permission_sql": column(Customer, "customers"),
                },
            ),
            f"{permission} on projects": (
                oracle.projects(permission),
                {
                    **rule_paths(access.permitted_projects(user, permission), Project),
                    "has_permission": one_by_one(Project, "projects"),
                    "permission_sql": column(Project, "projects"),
                    "ProjectGrants": {o.project_id for o in on_projects if project.allows(permission, o)},
                },
            ),
            f"{permission} on visible projects": (
                oracle.projects(permission) & oracle.projects(),
                {"orm": ids(structure_selectors.projects_with_permission(user, permission))},
            ),
            f"{permission} on offerings": (
                oracle.offerings(permission),
                {
                    **rule_paths(access.permitted_offerings(user, permission), Offering),
                    "has_permission": one_by_one(Offering, "offerings"),
                    "permission_sql": column(Offering, "offerings"),
                    "ProviderGrants": {o.pk for o in offerings if provider.allows(permission, o)},
                },
            ),
        }  # fmt: skip

    def disagreements(self, user: User) -> list[str]:
        oracle = Oracle(user)
        rules = self.visibility(user, oracle)
        for permission in Permission:
            rules.update(self.permissions(user, oracle, permission))
        return [
            f"{user.username}, {rule}, {path}: {sorted(got)} instead of {sorted(expected)}"
            for rule, (expected, paths) in rules.items()
            for path, got in paths.items()
            if got != expected
        ]

    def test_it_gives_every_persona_the_same_rows_on_every_path(self) -> None:
        problems = [problem for user in self.personas for problem in self.disagreements(user)]
        assert problems == [], "\n".join(problems)

    def test_it_sees_the_world_it_describes(self) -> None:
        """The personas hold what the docstring says, so the agreement above is about something."""
        seen: Callable[[User], set[int]] = lambda user: Oracle(user).projects()  # noqa: E731
        assert self.project_a3.pk not in seen(self.alice) and seen(self.hank) == set()
        assert seen(self.frank) == set() and seen(self.gina) == set()
        assert seen(self.judy) == {self.project_z1.pk} and seen(self.ivan) == {self.project_z1.pk}
        assert self.private.pk in Oracle(self.paul).public_offerings()
        assert (
            self.private.pk not in Oracle(self.rob).public_offerings() | Oracle(self.bob).public_offerings()
        )
        assert Order.objects.filter(state=OrderState.PENDING_CONSUMER).count() == 3
        assert seen(self.sam) == seen(self.staff) and not Oracle(self.sam).customers(Permission.ORDER_APPROVE)

    def test_a_column_is_a_name_never_sql(self) -> None:
        for bad in ("x.id; DROP TABLE x", "1 = 1", "x.id OR 1", ""):
            with self.assertRaises(ValueError):
                OuterColumn(bad)
