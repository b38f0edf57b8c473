"""Organisation and project changes."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import CUSTOMER_ROLES, PROJECT_ROLES, Role


def unique_slug(model: Any, text: str) -> str:
    """`text` slugified, with `-2`, `-3`, ... appended when taken (one query)."""
    base = (slugify(text) or "x")[:90]
    taken = set(model.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@transaction.atomic
def create_customer(*, name: str, abbreviation: str = "", email: str = "", country: str = "") -> Customer:
    return Customer.objects.create(
        name=name, slug=unique_slug(Customer, name), abbreviation=abbreviation, email=email, country=country
    )


@transaction.atomic
def create_project(
    *,
    customer: Customer,
    name: str,
    description: str = "",
    start_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
) -> Project:
    return Project.objects.create(
        customer=customer,
        name=name,
        slug=unique_slug(Project, name),
        description=description,
        start_date=start_date,
        end_date=end_date,
    )


def grant_customer_role(*, customer: Customer, user: Any, role: Role) -> CustomerRole:
    if role not in CUSTOMER_ROLES:
        raise ValueError(f"{role} is not an organisation role")
    grant, _ = CustomerRole.objects.get_or_create(customer=customer, user=user, role=role)
    return grant


def grant_project_role(*, project: Project, user: Any, role: Role) -> ProjectRole:
    if role not in PROJECT_ROLES:
        raise ValueError(f"{role} is not a project role")
    grant, _ = ProjectRole.objects.get_or_create(project=project, user=user, role=role)
    return grant


@transaction.atomic
def remove_project(*, project: Project) -> Project:
    """Soft delete: the project disappears from lists; its orders and resources stay."""
    Project.objects.filter(pk=project.pk).update(is_removed=True)
    project.refresh_from_db()
    return project
