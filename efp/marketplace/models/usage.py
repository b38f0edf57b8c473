from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from efp.marketplace.models.history import AppendOnlyModel
from efp.marketplace.models.offerings import Offering, OfferingComponent
from efp.marketplace.models.resources import Resource, ResourcePlanPeriod
from efp.structure.models import Project
from efp.structure.names import validate_name


def scope_of(resource: Resource) -> dict[str, int]:
    """The columns a usage row copies from its resource (`ComponentUsage.offering`, `.project`): every
    writer of usage rows passes these, `test_usage_list_order.py` compares them with the resource's."""
    return {"offering_id": resource.offering_id, "project_id": resource.project_id}


class ComponentUsage(models.Model):
    """The month-to-date usage of one component of one resource in one billing month (overwritten)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="usages")
    component = models.ForeignKey(OfferingComponent, on_delete=models.PROTECT, related_name="usages")
    # The component's type, copied when the row is written (a component's type never changes): the lists'
    # order (-date, type) is then one index of this table (`usage_page_order`), walked a page at a time.
    component_type = models.CharField(max_length=50, default="", editable=False)
    # The resource's offering and project, copied when the row is written (`scope_of`; neither changes for
    # a resource, the admin shows them read-only): the lists test visibility on the row itself, from the
    # page-order indexes, without joining each row's resource (docs/performance.md, issue 18).
    # Deleting the resource deletes its rows; an offering or project with resources is protected by them.
    offering = models.ForeignKey(
        Offering, on_delete=models.DO_NOTHING, db_index=False, editable=False, related_name="+"
    )
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, db_index=False, editable=False, related_name="+"
    )
    plan_period = models.ForeignKey(
        ResourcePlanPeriod, on_delete=models.CASCADE, null=True, blank=True, related_name="usages"
    )
    usage = models.DecimalField(
        max_digits=20, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    date = models.DateTimeField()
    billing_period = models.DateField()
    recurring = models.BooleanField(default=False)
    description = models.CharField(max_length=1000, blank=True, default="")
    backend_id = models.CharField(max_length=255, blank=True, default="")
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "component_type", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "component", "plan_period", "billing_period"],
                name="unique_usage_per_plan_period_month",
            ),
            models.UniqueConstraint(
                fields=["resource", "component", "billing_period"],
                condition=Q(plan_period__isnull=True),
                name="unique_usage_per_month_without_plan_period",
            ),
            models.CheckConstraint(condition=Q(usage__gte=0), name="component_usage_not_negative"),
        ]
        indexes = [
            models.Index(fields=["resource", "billing_period"]),
            # The lists' order, unfiltered and for one month, with what the visibility rule reads of a row
            # (docs/performance.md, issue 18).
            models.Index(
                fields=["-date", "component_type", "id", "offering", "project"], name="usage_page_order"
            ),
            models.Index(
                fields=["billing_period", "-date", "component_type", "id", "offering", "project"],
                name="usage_month_page_order",
            ),
            # The months reported of a usage component (coverage.py): a range of the index, not the table.
            models.Index(
                fields=["component", "billing_period", "resource"], name="usage_component_month_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.component.type} {self.billing_period:%Y-%m}: {self.usage}"


class ComponentUserUsage(models.Model):
    """One user's share of a ComponentUsage."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    component_usage = models.ForeignKey(ComponentUsage, on_delete=models.CASCADE, related_name="user_usages")
    username = models.CharField(max_length=100, validators=[validate_name])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    usage = models.DecimalField(
        max_digits=20, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    description = models.CharField(max_length=1000, blank=True, default="")
    backend_id = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        # The usage records' order, then each record's users (the walk of `usage_page_order`).
        ordering = [
            "-component_usage__date",
            "component_usage__component_type",
            "component_usage_id",
            "username",
            "pk",
        ]
        constraints = [
            models.UniqueConstraint(fields=["component_usage", "username"], name="unique_user_usage"),
            models.CheckConstraint(condition=Q(usage__gte=0), name="component_user_usage_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.username}: {self.usage}"


class UsageRevision(AppendOnlyModel):
    """Append-only history of every usage value written (overall or per user). It outlives its record
    (an unlinked resource's usage is in its `Tombstone`): no database constraint, nothing done on delete."""

    class Source(models.TextChoices):
        API = "api", "API"
        GUI = "gui", "GUI"
        AGENT = "agent", "Site agent"
        DEMO = "demo", "Demo data"

    class Verb(models.TextChoices):
        """What wrote the value: Waldur's report verbs, or ours (a correction with a reason, a CSV import)."""

        SET_USAGE = "set_usage", "Usage report"
        SET_USER_USAGE = "set_user_usage", "Per-user usage report"
        CORRECT = "correct", "Correction"
        IMPORT = "import", "CSV import"

    component_usage = models.ForeignKey(
        ComponentUsage, on_delete=models.DO_NOTHING, db_constraint=False, related_name="revisions"
    )
    username = models.CharField(max_length=100, blank=True, default="")  # blank: the overall value
    old_value = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)  # None: new
    new_value = models.DecimalField(max_digits=20, decimal_places=2, null=True)  # None: user row removed
    description = models.CharField(max_length=1000, blank=True, default="")
    verb = models.CharField(max_length=20, choices=Verb.choices, default=Verb.SET_USAGE)
    reason = models.TextField(blank=True, default="")  # required for corrections and closed-month imports
    # PROTECT: a user who acted stays (deactivated, not deleted), as `Order.created_by` does.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    user_agent = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["created", "pk"]

    def __str__(self) -> str:
        who = self.username or "total"
        return f"{self.component_usage_id} {who}: {self.old_value} → {self.new_value}"


class StagedUsageImport(models.Model):
    """A usage CSV uploaded in the GUI, kept between its preview and Apply: its uploader's only, removed
    once applied or after `EFP_STAGED_IMPORT_SECONDS` (`services/usage_import_staging.py`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255, blank=True, default="")
    content = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created", "pk"]

    def __str__(self) -> str:
        return f"{self.filename or 'usage.csv'} by {self.owner_id}"
