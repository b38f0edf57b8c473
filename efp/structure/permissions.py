"""Pure predicates: does a user hold a role carrying a permission in one of the given scopes?"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import QuerySet

from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import Permission, Role, roles_with


def _ids(objects: Iterable[Any]) -> list[int]:
    return [obj.pk for obj in objects if obj is not None]


def has_permission(
    user: Any,
    permission: Permission,
    *,
    customers: Iterable[Customer | None] = (),
    projects: Iterable[Project | None] = (),
    offerings: Iterable[Any] = (),
) -> bool:
    """Staff pass; otherwise the user needs a role with `permission` in one of the scopes."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    roles = [role.value for role in roles_with(permission)]
    customer_ids, project_ids, offering_ids = _ids(customers), _ids(projects), _ids(offerings)
    if (
        customer_ids
        and CustomerRole.objects.filter(user=user, customer_id__in=customer_ids, role__in=roles).exists()
    ):
        return True
    if (
        project_ids
        and ProjectRole.objects.filter(user=user, project_id__in=project_ids, role__in=roles).exists()
    ):
        return True
    if offering_ids:
        offering_role = apps.get_model("marketplace", "OfferingRole")
        return bool(
            offering_role.objects.filter(user=user, offering_id__in=offering_ids, role__in=roles).exists()
        )
    return False


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
