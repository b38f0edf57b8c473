"""What a given user may see of organisations and projects."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from efp.structure.models import Customer, CustomerRole, Project, ProjectRole


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
