from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from efp.structure.names import validate_name
from efp.structure.roles import CUSTOMER_ROLES, PROJECT_ROLES


class Customer(models.Model):
    """An organisation: a consumer of offerings, a service provider, or both."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150, validators=[validate_name])
    slug = models.SlugField(max_length=100, unique=True)
    abbreviation = models.CharField(max_length=12, blank=True, default="")
    native_name = models.CharField(max_length=160, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    blocked = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class ProjectQuerySet(models.QuerySet["Project"]):
    def alive(self) -> ProjectQuerySet:
        return self.filter(is_removed=False)


class Project(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=500, validators=[validate_name])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    backend_id = models.CharField(max_length=255, blank=True, default="")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    end_date_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_industry = models.BooleanField(default=False)
    oecd_fos_2007_code = models.CharField(max_length=80, blank=True, default="")
    type = models.CharField(max_length=100, blank=True, default="")
    # Soft delete: a removed project keeps its orders and resources but is hidden from lists.
    is_removed = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def is_expired(self, today: object | None = None) -> bool:
        today = today or timezone.localdate()
        return self.end_date is not None and self.end_date <= today  # type: ignore[operator]

    def starts_in_future(self) -> bool:
        return self.start_date is not None and self.start_date > timezone.localdate()


class ActiveRoleManager(models.Manager[Any]):
    """Roles in force: an expired role grants nothing and is not listed (`all_objects` still has it).

    The ORM form of `efp.structure.access.in_force`, for listing roles (teams, `is_owner`); every
    visibility and permission rule reads `efp.structure.access`, and test_access_agreement.py holds this
    manager to the same test."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return (
            super()
            .get_queryset()
            .filter(Q(expiration_time__isnull=True) | Q(expiration_time__gt=timezone.now()))
        )


class RoleGrant(models.Model):
    """What a customer and a project role share: who granted it, when, and until when (role expiry)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expiration_time = models.DateTimeField(null=True, blank=True)

    objects = ActiveRoleManager()
    all_objects = models.Manager()  # noqa: DJ012 - ruff takes it for a field; it is the unfiltered manager

    class Meta:
        abstract = True


class CustomerRole(RoleGrant):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_roles"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=40, choices=[(r.value, r.label) for r in CUSTOMER_ROLES])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "customer", "role"], name="unique_customer_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.customer}"


class ProjectRole(RoleGrant):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_roles")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=40, choices=[(r.value, r.label) for r in PROJECT_ROLES])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project", "role"], name="unique_project_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.project}"
