"""What a given user may see of organisations and projects."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.permissions import customers_where, projects_where
from efp.structure.roles import Permission


def visible_customers(user: Any) -> QuerySet[Customer]:
    if not getattr(user, "is_authenticated", False):
        return Customer.objects.none()
    if user.is_staff or user.is_support:
        return Customer.objects.all()
    return Customer.objects.filter(
        Q(pk__in=CustomerRole.objects.filter(user=user).values("customer_id"))
        | Q(
            pk__in=ProjectRole.objects.filter(user=user, project__is_removed=False).values(
                "project__customer_id"
            )
        )
    )


def visible_projects(user: Any) -> QuerySet[Project]:
    """Projects where the user holds a project role or a role in the project's organisation."""
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    qs = Project.objects.alive()
    if user.is_staff or user.is_support:
        return qs
    return qs.filter(
        Q(pk__in=ProjectRole.objects.filter(user=user).values("project_id"))
        | Q(customer_id__in=CustomerRole.objects.filter(user=user).values("customer_id"))
    )


def projects_with_permission(user: Any, permission: Permission) -> QuerySet[Project]:
    """Visible projects where the user holds `permission` through a project or an organisation role."""
    qs = visible_projects(user)
    if not getattr(user, "is_authenticated", False) or user.is_staff:
        return qs
    return qs.filter(
        Q(pk__in=projects_where(user, permission).values("project_id"))
        | Q(customer_id__in=customers_where(user, permission).values("customer_id"))
    )


def customers_with_permission(user: Any, permission: Permission) -> QuerySet[Customer]:
    """Visible organisations where the user holds `permission` through an organisation role."""
    qs = visible_customers(user)
    if not getattr(user, "is_authenticated", False) or user.is_staff:
        return qs
    return qs.filter(pk__in=customers_where(user, permission).values("customer_id"))
