"""A customer's monthly invoice and its items, as Waldur keeps them. Written only by `services.py`, which
computes the items from the resources, plans, components and usage of the month (`pricing.py`)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from efp.marketplace.models import Offering, OfferingComponent, Plan, Resource
from efp.structure.models import Customer, Project

# Waldur numbers its invoices from 100,000 on (`number = 100000 + id`).
FIRST_NUMBER = 100000


class Invoice(models.Model):
    class State(models.TextChoices):
        """Waldur's states; here an invoice is `pending` while its month runs and `created` after it."""

        PENDING = "pending"
        CREATED = "created"
        PAID = "paid"
        CANCELED = "canceled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=30, choices=State.choices, default=State.PENDING)
    invoice_date = models.DateField(null=True, blank=True)  # when it became `created`
    # The sum of its items' prices: kept by services.refresh_month in the transaction that writes them.
    total_price = models.DecimalField(max_digits=22, decimal_places=2, default=Decimal(0))
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "-month", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "year", "month"], name="unique_invoice_per_month")
        ]
        indexes = [models.Index(fields=["year", "month"], name="invoice_month_idx")]

    def __str__(self) -> str:
        return f"{self.customer} {self.year}-{self.month:02d}"

    @property
    def number(self) -> int:
        return FIRST_NUMBER + self.pk


class InvoiceItem(models.Model):
    """One line: a plan, or one component of a plan, of one resource over (part of) the month. The names
    are copied when the line is written, so a line still reads right once its resource is gone."""

    class BillingType(models.TextChoices):
        PLAN = "plan"  # ours: the plan's own unit price
        FIXED = "fixed"
        USAGE = "usage"
        LIMIT = "limit"
        ONE = "one"
        FEW = "few"  # Waldur's "one-time on plan switch"
        PREPAID = "prepaid"  # ours: a prepaid component (OfferingComponent.is_prepaid)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items")
    resource = models.ForeignKey(Resource, on_delete=models.SET_NULL, null=True, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True, related_name="+")
    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.SET_NULL, null=True, related_name="+")
    component = models.ForeignKey(OfferingComponent, on_delete=models.SET_NULL, null=True, related_name="+")
    billing_type = models.CharField(max_length=10, choices=BillingType.choices)
    name = models.TextField(default="")
    resource_name = models.CharField(max_length=150, blank=True, default="")
    resource_uuid = models.UUIDField(null=True)
    project_name = models.CharField(max_length=500, blank=True, default="")
    project_uuid = models.UUIDField(null=True)
    unit = models.CharField(max_length=15, choices=Plan.Unit.choices, default=Plan.Unit.MONTH)
    # Waldur 8's scale for both (PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES): 22 digits, 10 of them decimals.
    unit_price = models.DecimalField(max_digits=22, decimal_places=10)
    quantity = models.DecimalField(max_digits=22, decimal_places=10)
    price = models.DecimalField(max_digits=22, decimal_places=2)  # unit_price x quantity, rounded
    measured_unit = models.CharField(max_length=30, blank=True, default="")
    article_code = models.CharField(max_length=30, blank=True, default="")
    start = models.DateTimeField()
    end = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["invoice_id", "pk"]
        indexes = [
            models.Index(fields=["resource_uuid"], name="invoice_item_resource_idx"),
            models.Index(fields=["offering", "invoice"], name="invoice_item_offering_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class RefreshMark(models.Model):
    """When a refresh of the invoices last started, and the last full one (`changes.py` reads and writes
    it): one row per refresh job."""

    name = models.CharField(max_length=50, unique=True)
    refreshed_at = models.DateTimeField()
    full_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.refreshed_at:%Y-%m-%d %H:%M}"
