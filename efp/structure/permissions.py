"""Pure predicates: does a user hold a role carrying a permission in one of the given scopes?"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from efp.structure.models import ActiveRoleManager, Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import Permission, Role, roles_with


def _ids(objects: Iterable[Any]) -> list[int]:
    """Primary keys of model instances, or the keys themselves."""
    return [obj if isinstance(obj, int) else obj.pk for obj in objects if obj is not None]


ALWAYS, NEVER = "1 = 1", "1 = 0"

# A scope: model instances or their keys, or (for `permission_sql`) a column of the outer query.
Scope = Iterable[Any] | str


def permission_sql(
    user: Any, permission: Permission, *, customers: Scope = (), projects: Scope = (), offerings: Scope = ()
) -> tuple[str, list[Any]]:
    """`has_permission` as a SQL condition and its parameters, for a query that asks it along with its
    rows. A scope given as a string is a column of that query (`"o.customer_id"`)."""
    if not getattr(user, "is_authenticated", False):
        return NEVER, []
    if user.is_staff:
        return ALWAYS, []
    offering_role = apps.get_model("marketplace", "OfferingRole")
    roles = sorted(role.value for role in roles_with(permission))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    tests: list[str] = []
    params: list[Any] = []
    for model, column, scope, expires in (
        (CustomerRole, "customer_id", customers, True),
        (ProjectRole, "project_id", projects, True),
        (offering_role, "offering_id", offerings, False),
    ):
        if isinstance(scope, str):
            keys, match = [], f"= {scope}"
        else:
            keys = _ids(scope)
            if not keys:
                continue
            match = f"IN ({', '.join(['%s'] * len(keys))})"
        in_force = f" AND {ActiveRoleManager.IN_FORCE_SQL}" if expires else ""
        tests.append(
            f"EXISTS (SELECT 1 FROM {model._meta.db_table} WHERE user_id = %s AND {column} {match}"  # noqa: S608
            f" AND role IN ({', '.join(['%s'] * len(roles))}){in_force})"
        )
        params += [user.pk, *keys, *roles, *([now] if expires else [])]
    if not tests:
        return NEVER, []
    return f"({' OR '.join(tests)})", params


def has_permission(
    user: Any,
    permission: Permission,
    *,
    customers: Iterable[Customer | int | None] = (),
    projects: Iterable[Project | int | None] = (),
    offerings: Iterable[Any] = (),
) -> bool:
    """Staff pass; otherwise the user needs a role with `permission` in one of the scopes (instances or
    their keys): a customer or project role in force, or an offering role.

    One statement for every scope: this runs on most writes, and three ORM queries cost more than the
    rest of a usage report."""
    condition, params = permission_sql(
        user, permission, customers=list(customers), projects=list(projects), offerings=list(offerings)
    )
    if condition in (ALWAYS, NEVER):
        return condition == ALWAYS
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {condition}", params)
        (allowed,) = cursor.fetchone()
    return bool(allowed)


def has_any_role(user: Any, *, customer: Customer | None = None, project: Project | None = None) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    if customer is not None and CustomerRole.objects.filter(user=user, customer=customer).exists():
        return True
    return project is not None and ProjectRole.objects.filter(user=user, project=project).exists()


def is_owner(user: Any, customer: Customer) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and CustomerRole.objects.filter(user=user, customer=customer, role=Role.CUSTOMER_OWNER).exists()
    )


def customers_where(user: Any, permission: Permission) -> QuerySet[CustomerRole]:
    """Role rows through which `user` holds `permission` on a customer (for subqueries)."""
    return CustomerRole.objects.filter(user=user, role__in=[r.value for r in roles_with(permission)])


def projects_where(user: Any, permission: Permission) -> QuerySet[ProjectRole]:
    return ProjectRole.objects.filter(user=user, role__in=[r.value for r in roles_with(permission)])


def offerings_where(user: Any, permission: Permission) -> QuerySet[Any]:
    offering_role = apps.get_model("marketplace", "OfferingRole")
    return offering_role.objects.filter(user=user, role__in=[r.value for r in roles_with(permission)])
