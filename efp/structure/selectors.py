"""What a given user may see of organisations and projects (the rules are in `efp.structure.access`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from efp.structure import access
from efp.structure.models import Customer, Project
from efp.structure.roles import Permission


def visible_customers(user: Any) -> QuerySet[Customer]:
    """Organisations where the user holds a role, and those of their live projects (`access.my_customers`)."""
    return access.my_customers(user).filter(Customer.objects.all())


def visible_projects(user: Any) -> QuerySet[Project]:
    """Live projects where the user holds a project role or a role in the project's organisation."""
    return access.my_projects(user).filter(Project.objects.all())


def projects_with_permission(user: Any, permission: Permission) -> QuerySet[Project]:
    """Visible projects where the user holds `permission` through a project or an organisation role."""
    return access.permitted_projects(user, permission).filter(visible_projects(user))
