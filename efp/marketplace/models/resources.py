from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from efp.marketplace.models.history import AppendOnlyModel
from efp.marketplace.models.offerings import Offering, Plan
from efp.marketplace.states import ResourceState
from efp.structure.models import Project
from efp.structure.names import validate_name


class Resource(models.Model):
    """An allocation. Its `state` moves only via services."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150, blank=True, default="", validators=[validate_name])
    slug = models.SlugField(max_length=100, blank=True, default="")
    description = models.TextField(blank=True, default="")
    state = models.CharField(max_length=20, choices=ResourceState.choices, default=ResourceState.CREATING)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="resources")
    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="resources")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="resources")
    attributes = models.JSONField(default=dict, blank=True)
    limits = models.JSONField(default=dict, blank=True)
    current_usages = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    backend_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    effective_id = models.CharField(max_length=255, blank=True, default="")
    backend_metadata = models.JSONField(default=dict, blank=True)
    report = models.JSONField(null=True, blank=True)
    cost = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    end_date_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error_message = models.TextField(blank=True, default="")
    error_traceback = models.TextField(blank=True, default="")
    downscaled = models.BooleanField(default=False)
    restrict_member_access = models.BooleanField(default=False)
    paused = models.BooleanField(default=False)
    last_sync = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    modified = models.DateTimeField(default=timezone.now)
    # The live window of the usage coverage rule (coverage.py), kept by the transitions
    # (services/_transitions.py): `created` once the resource was first activated (moved to OK), and its
    # first move to Terminated. Null: never activated, or not terminated.
    live_from = models.DateTimeField(null=True, blank=True, editable=False)
    live_until = models.DateTimeField(null=True, blank=True, editable=False)
    # A restored resource was terminated from `gap_from` (its first termination) until `gap_until` (its last
    # restore): the months wholly inside are not live (coverage.py).
    gap_from = models.DateTimeField(null=True, blank=True, editable=False)
    gap_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The names of its organisation and project, kept for the coverage matrix's order (a page walks an index
    # instead of joining every live row): written at creation (`sort_names`) and by the services that rename
    # an organisation or a project (structure/services.py), in their transaction. Nullable: adding the columns
    # keeps the table (and its triggers) on SQLite.
    sort_customer_name = models.CharField(max_length=150, null=True, blank=True, editable=False)
    sort_project_name = models.CharField(max_length=500, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created", "pk"]
        indexes = [
            models.Index(fields=["offering", "state"]),
            # The resources of some offerings live in a range of months (coverage.py): an index range.
            models.Index(fields=["offering", "live_from", "live_until"], name="resource_live_window"),
            # An offering's resources in list order (a site agent's listing): a page reads its rows.
            models.Index(fields=["offering", "created", "id"], name="resource_offering_created"),
            # The provider workspace's resource list in its default order: a page walks the keys to it.
            models.Index(fields=["name", "id"], name="resource_name_page"),
            # "Ending within N days" (the dashboard's tile, the GUI filter): one range of end dates.
            models.Index(fields=["end_date", "offering"], name="resource_end_date"),
            # The coverage matrix's page in its order (organisation, project, name): walked, not sorted.
            models.Index(
                fields=["sort_customer_name", "sort_project_name", "name", "id", "offering", "live_from"],
                name="resource_coverage_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.uuid.hex

    @staticmethod
    def sort_names(project: Project) -> dict[str, str]:
        """The stored sort key of a resource of `project`: its organisation's and its project's names."""
        return {"sort_customer_name": project.customer.name, "sort_project_name": project.name}


class ResourceEndpoint(models.Model):
    """An access endpoint of a resource (a login node, an API), as the site agent reports it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=255)
    url = models.CharField(max_length=1000)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}: {self.url}"


class ResourceEvent(AppendOnlyModel):
    """Append-only: one row per state change of a resource. It outlives the resource (an unlinked resource
    leaves a `Tombstone`): no database constraint, nothing done on delete."""

    resource = models.ForeignKey(
        Resource, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events"
    )
    old_state = models.CharField(max_length=20, choices=ResourceState.choices, blank=True, default="")
    new_state = models.CharField(max_length=20, choices=ResourceState.choices)
    # PROTECT: a user who acted stays (deactivated, not deleted), as `Order.created_by` does.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    reason = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["created", "pk"]
        # A resource's first move to a state (coverage.py's live window): one probe per resource.
        indexes = [
            models.Index(fields=["resource", "new_state", "created", "id"], name="resource_event_state_idx")
        ]

    def __str__(self) -> str:
        return f"{self.resource_id}: {self.old_state or '∅'} → {self.new_state}"


class ResourcePlanPeriod(models.Model):
    """The time a resource spent on one plan; `end` null while open."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="plan_periods")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField(default=timezone.now)
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "pk"]

    def __str__(self) -> str:
        return f"{self.resource} on {self.plan.name} from {self.start:%Y-%m-%d}"
