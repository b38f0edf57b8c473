"""Pure predicates: does a user hold a role carrying a permission in one of the given scopes?"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from efp.structure import access
from efp.structure.access import OuterColumn, Scope
from efp.structure.models import Customer, CustomerRole, Project
from efp.structure.roles import Permission, Role

ALWAYS, NEVER = access.ALWAYS.sql, access.NEVER.sql

__all__ = ["ALWAYS", "NEVER", "OuterColumn", "has_permission", "is_owner", "permission_sql"]


def permission_sql(
    user: Any, permission: Permission, *, customers: Scope = (), projects: Scope = (), offerings: Scope = ()
) -> tuple[str, list[Any]]:
    """`has_permission` as a SQL condition and its parameters, for a query that asks it along with its
    rows. A scope given as a `OuterColumn` is a column of that query (`OuterColumn("o.customer_id")`)."""
    condition = access.permission_condition(
        user, permission, customers=customers, projects=projects, offerings=offerings
    )
    return condition.sql, list(condition.params)


def has_permission(
    user: Any,
    permission: Permission,
    *,
    customers: Iterable[Customer | int | None] = (),
    projects: Iterable[Project | int | None] = (),
    offerings: Iterable[Any] = (),
) -> bool:
    """Staff pass; otherwise the user needs a role in force with `permission` in one of the scopes
    (instances or their keys): the organisation, the (live) project or the offering, where a project and
    an offering also answer through their organisation's roles (`efp.structure.access.permission_condition`).

    One statement for every scope: this runs on most writes, and three ORM queries cost more than the
    rest of a usage report."""
    return access.permission_condition(
        user, permission, customers=list(customers), projects=list(projects), offerings=list(offerings)
    ).holds()


def is_owner(user: Any, customer: Customer) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and CustomerRole.objects.filter(user=user, customer=customer, role=Role.CUSTOMER_OWNER).exists()
    )
