from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from efp.structure.models import Customer
from efp.structure.names import validate_name
from efp.structure.roles import OFFERING_ROLES


class OfferingType:
    """Offering types that change behaviour; Waldur's type is a loose string."""

    BASIC = "Marketplace.Basic"
    SLURM = "Marketplace.Slurm"
    SUPPORT = "Support.OfferingTemplate"
    REMOTE = "Waldur.RemoteOffering"

    # Orders of these types always wait for the provider (docs/contract.md §5.2).
    NEEDS_PROVIDER_REVIEW = frozenset({BASIC, SLURM})
    # Types whose orders can be canceled (docs/contract.md §5.4 #10).
    CANCELABLE = frozenset({BASIC, SUPPORT})
    # set_state_executing / set_state_erred are site-agent calls (docs/contract.md §5.4 #11, #13).
    AGENT_DRIVEN = frozenset({SLURM})
    # set_state_done (docs/contract.md §5.4 #12).
    COMPLETABLE = frozenset({SLURM, BASIC, SUPPORT})
    # Types processed at once when the order starts executing.
    PROCESSED_AT_ONCE = frozenset({BASIC})


class ServiceProvider(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="service_provider")
    description = models.TextField(blank=True, default="")
    enable_notifications = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Provider {self.customer.name}"


class Category(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=255, validators=[validate_name])
    description = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title


class Offering(models.Model):
    class State(models.TextChoices):
        DRAFT = "Draft"
        ACTIVE = "Active"
        PAUSED = "Paused"
        ARCHIVED = "Archived"
        UNAVAILABLE = "Unavailable"

    class CorrectedBy(models.TextChoices):
        """Who may correct a closed month's usage of the offering's resources (staff always may)."""

        OWNERS_AND_MANAGERS = "owners_and_managers", "The provider's owners and offering managers"
        OWNERS = "owners", "The provider's owners"
        STAFF = "staff", "Staff only"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150, validators=[validate_name])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="offerings")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="offerings")
    type = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    shared = models.BooleanField(default=True)
    billable = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    plugin_options = models.JSONField(default=dict, blank=True)
    backend_id = models.CharField(max_length=255, blank=True, default="")
    terms_of_service = models.TextField(blank=True, default="")
    # Corrections of closed months (services/corrections.py): who, and how many months back.
    usage_corrected_by = models.CharField(
        max_length=20, choices=CorrectedBy.choices, default=CorrectedBy.OWNERS_AND_MANAGERS
    )
    usage_correction_months = models.PositiveSmallIntegerField(default=3)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_private(self) -> bool:
        return not self.shared and not self.billable


class OfferingComponent(models.Model):
    class BillingType(models.TextChoices):
        FIXED = "fixed", "Fixed price"
        USAGE = "usage", "Usage-based"
        LIMIT = "limit", "Limit-based"
        ONE = "one", "One-time"
        FEW = "few", "One-time on plan switch"

    class LimitPeriod(models.TextChoices):
        MONTH = "month", "Maximum monthly"
        QUARTERLY = "quarterly", "Maximum quarterly"
        ANNUAL = "annual", "Maximum annually"
        TOTAL = "total", "Maximum total"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="components")
    type = models.CharField(
        max_length=50, validators=[RegexValidator(r"^[a-zA-Z0-9_\-/:]+$", "Enter a valid component type.")]
    )
    name = models.CharField(max_length=150, validators=[validate_name])
    description = models.TextField(blank=True, default="")
    measured_unit = models.CharField(max_length=30, blank=True, default="")
    billing_type = models.CharField(max_length=5, choices=BillingType.choices, default=BillingType.FIXED)
    limit_period = models.CharField(max_length=10, choices=LimitPeriod.choices, null=True, blank=True)
    limit_amount = models.IntegerField(null=True, blank=True)
    min_value = models.IntegerField(null=True, blank=True)
    max_value = models.IntegerField(null=True, blank=True)
    max_available_limit = models.IntegerField(null=True, blank=True)
    default_limit = models.IntegerField(null=True, blank=True)
    is_boolean = models.BooleanField(default=False)
    article_code = models.CharField(max_length=30, blank=True, default="")
    unit_factor = models.IntegerField(default=1)
    factor = models.IntegerField(default=1)
    is_prepaid = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["offering", "type"], name="unique_component_type")]

    def __str__(self) -> str:
        return f"{self.offering.name} / {self.type}"


class Plan(models.Model):
    class Unit(models.TextChoices):
        MONTH = "month"
        QUARTER = "quarter"
        HALF_MONTH = "half_month"
        DAY = "day"
        HOUR = "hour"
        QUANTITY = "quantity"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=150, validators=[validate_name])
    description = models.TextField(blank=True, default="")
    unit = models.CharField(max_length=15, choices=Unit.choices, default=Unit.MONTH)
    unit_price = models.DecimalField(
        max_digits=22, decimal_places=10, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    archived = models.BooleanField(default=False)
    max_amount = models.PositiveIntegerField(null=True, blank=True)
    article_code = models.CharField(max_length=30, blank=True, default="")
    backend_id = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.offering.name} / {self.name}"


class PlanComponent(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(OfferingComponent, on_delete=models.CASCADE, related_name="plan_components")
    amount = models.PositiveIntegerField(default=0)
    price = models.DecimalField(
        max_digits=22, decimal_places=10, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    future_price = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["plan", "component"], name="unique_plan_component")]

    def __str__(self) -> str:
        return f"{self.plan} / {self.component.type}"


class OfferingRole(models.Model):
    """OFFERING.MANAGER on one offering (granting it also makes the user a service manager, see services)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="offering_roles"
    )
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=40, choices=[(r.value, r.label) for r in OFFERING_ROLES])
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "offering", "role"], name="unique_offering_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.offering}"
