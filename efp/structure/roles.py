"""Roles and Waldur's default permission table (docs/contract.md §2.1), as data."""

from __future__ import annotations

import uuid

from django.db import models


class Role(models.TextChoices):
    CUSTOMER_OWNER = "CUSTOMER.OWNER", "Organisation owner"
    CUSTOMER_MANAGER = "CUSTOMER.MANAGER", "Service manager"
    CUSTOMER_SUPPORT = "CUSTOMER.SUPPORT", "Organisation support"
    CUSTOMER_READER = "CUSTOMER.READER", "Organisation reader"
    PROJECT_ADMIN = "PROJECT.ADMIN", "Project administrator"
    PROJECT_MANAGER = "PROJECT.MANAGER", "Project manager"
    PROJECT_MEMBER = "PROJECT.MEMBER", "Project member"
    OFFERING_MANAGER = "OFFERING.MANAGER", "Offering manager"


CUSTOMER_ROLES = (Role.CUSTOMER_OWNER, Role.CUSTOMER_MANAGER, Role.CUSTOMER_SUPPORT, Role.CUSTOMER_READER)
PROJECT_ROLES = (Role.PROJECT_ADMIN, Role.PROJECT_MANAGER, Role.PROJECT_MEMBER)
OFFERING_ROLES = (Role.OFFERING_MANAGER,)


class Permission(models.TextChoices):
    ORDER_APPROVE = "ORDER.APPROVE"
    ORDER_APPROVE_PRIVATE = "ORDER.APPROVE_PRIVATE"
    ORDER_REJECT = "ORDER.REJECT"
    ORDER_DESTROY = "ORDER.DESTROY"
    ORDER_CANCEL = "ORDER.CANCEL"
    ORDER_CREATE = "ORDER.CREATE"
    RESOURCE_TERMINATE = "RESOURCE.TERMINATE"
    RESOURCE_SET_LIMITS = "RESOURCE.SET_LIMITS"
    RESOURCE_SET_PLAN = "RESOURCE.SET_PLAN"
    RESOURCE_SET_USAGE = "RESOURCE.SET_USAGE"
    RESOURCE_SET_BACKEND_ID = "RESOURCE.SET_BACKEND_ID"
    RESOURCE_SET_BACKEND_METADATA = "RESOURCE.SET_BACKEND_METADATA"
    RESOURCE_SUBMIT_REPORT = "RESOURCE.SUBMIT_REPORT"
    RESOURCE_SET_END_DATE = "RESOURCE.SET_END_DATE"
    RESOURCE_CONSUMPTION_LIMITATION = "RESOURCE.CONSUMPTION_LIMITATION"
    RESOURCE_SET_STATE = "RESOURCE.SET_STATE"
    OFFERING_UPDATE = "OFFERING.UPDATE"
    PROJECT_CREATE = "PROJECT.CREATE"
    PROJECT_UPDATE = "PROJECT.UPDATE"
    PROJECT_DELETE = "PROJECT.DELETE"
    CUSTOMER_MANAGE_TEAM = "CUSTOMER.MANAGE_TEAM"
    PROJECT_MANAGE_TEAM = "PROJECT.MANAGE_TEAM"


R = Role
# Which roles carry which permission. Waldur's shipped defaults (docker permissions.yaml, 7.0.7) with the
# 8.x additions the contract names: ORDER.CREATE, and offering managers approving on the provider side.
# Offering managers may also reject what they may approve: a provider GUI with Approve but no Reject
# would leave them stuck.
PERMISSION_ROLES: dict[Permission, frozenset[Role]] = {
    Permission.ORDER_APPROVE: frozenset({R.CUSTOMER_OWNER, R.OFFERING_MANAGER}),
    Permission.ORDER_APPROVE_PRIVATE: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.ORDER_REJECT: frozenset({R.CUSTOMER_OWNER, R.OFFERING_MANAGER}),
    Permission.ORDER_DESTROY: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.ORDER_CANCEL: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.ORDER_CREATE: frozenset(
        {R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER, R.PROJECT_MEMBER}
    ),
    Permission.RESOURCE_TERMINATE: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.RESOURCE_SET_LIMITS: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.RESOURCE_SET_PLAN: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN, R.PROJECT_MANAGER}),
    Permission.RESOURCE_SET_USAGE: frozenset({R.CUSTOMER_OWNER, R.OFFERING_MANAGER}),
    Permission.RESOURCE_SET_BACKEND_ID: frozenset({R.CUSTOMER_OWNER, R.CUSTOMER_MANAGER, R.OFFERING_MANAGER}),
    Permission.RESOURCE_SET_BACKEND_METADATA: frozenset(
        {R.CUSTOMER_OWNER, R.CUSTOMER_MANAGER, R.OFFERING_MANAGER}
    ),
    Permission.RESOURCE_SUBMIT_REPORT: frozenset({R.CUSTOMER_OWNER, R.CUSTOMER_MANAGER}),
    Permission.RESOURCE_SET_END_DATE: frozenset({R.CUSTOMER_OWNER, R.CUSTOMER_MANAGER}),
    # Per-user limits of a resource's components: the consumer's owners and project managers (Waldur's
    # tests grant it so; project administrators are refused).
    Permission.RESOURCE_CONSUMPTION_LIMITATION: frozenset({R.CUSTOMER_OWNER, R.PROJECT_MANAGER}),
    # Restoring a terminated resource (Waldur's SET_RESOURCE_STATE on the offering's organisation).
    Permission.RESOURCE_SET_STATE: frozenset({R.CUSTOMER_OWNER}),
    Permission.OFFERING_UPDATE: frozenset({R.CUSTOMER_OWNER, R.CUSTOMER_MANAGER, R.OFFERING_MANAGER}),
    # Structure management (issue 5): owners run their organisation's projects and team; project
    # administrators run their project's team.
    Permission.PROJECT_CREATE: frozenset({R.CUSTOMER_OWNER}),
    Permission.PROJECT_UPDATE: frozenset({R.CUSTOMER_OWNER}),
    Permission.PROJECT_DELETE: frozenset({R.CUSTOMER_OWNER}),
    Permission.CUSTOMER_MANAGE_TEAM: frozenset({R.CUSTOMER_OWNER}),
    Permission.PROJECT_MANAGE_TEAM: frozenset({R.CUSTOMER_OWNER, R.PROJECT_ADMIN}),
}


def roles_with(permission: Permission) -> frozenset[Role]:
    return PERMISSION_ROLES[permission]


# Waldur names roles by UUID as well as by name; ours are fixed, so their UUIDs are derived from the name.
_ROLE_NAMESPACE = uuid.UUID("6f1d1c9e-5b7a-4c55-9a53-3f0e2f6c7a10")


def role_uuid(role: Role) -> uuid.UUID:
    return uuid.uuid5(_ROLE_NAMESPACE, role.value)


def role_from(value: str) -> Role | None:
    """A role given by its name ("PROJECT.MEMBER") or by its UUID (hex or dashed); None if unknown."""
    text = str(value).strip()
    for role in Role:
        if text == role.value:
            return role
    try:
        wanted = uuid.UUID(text)
    except ValueError:
        return None
    return next((role for role in Role if role_uuid(role) == wanted), None)
