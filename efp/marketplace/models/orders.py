from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from efp.marketplace.models.history import AppendOnlyModel
from efp.marketplace.models.offerings import Offering, Plan
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderState, OrderType
from efp.marketplace.verbs import ORDER_VERBS
from efp.structure.models import Project


class Order(models.Model):
    """A request to create, change or terminate a resource. Its `state` moves only via services."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=10, choices=OrderType.choices, default=OrderType.CREATE)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.PENDING_CONSUMER)
    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="orders")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="orders")
    resource = models.ForeignKey(
        "marketplace.Resource", on_delete=models.CASCADE, related_name="orders", null=True, blank=True
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    old_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    attributes = models.JSONField(default=dict, blank=True)
    limits = models.JSONField(default=dict, blank=True)
    cost = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    old_cost = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    callback_url = models.URLField(max_length=200, null=True, blank=True)
    request_comment = models.CharField(max_length=255, null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    termination_comment = models.CharField(max_length=255, null=True, blank=True)
    backend_id = models.CharField(max_length=255, blank=True, default="")
    output = models.TextField(blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    error_traceback = models.TextField(blank=True, default="")
    error_updated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_orders", null=True
    )
    consumer_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    consumer_reviewed_at = models.DateTimeField(null=True, blank=True)
    consumer_rejection_comment = models.TextField(blank=True, default="")
    provider_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    provider_reviewed_at = models.DateTimeField(null=True, blank=True)
    provider_rejection_comment = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        indexes = [
            models.Index(fields=["state", "offering"]),
            # Lists filtered by state, in list order: a page reads its rows, not every order since the first.
            models.Index(fields=["state", "created", "id"], name="order_state_created"),
            # "Has this resource an order in progress?" for a page of resources (can_terminate).
            models.Index(
                fields=["resource"],
                condition=Q(state__in=sorted(ACTIVE_ORDER_STATES)),
                name="order_active_by_resource",
            ),
            # A site agent's poll (its offering, pending-provider and executing) in list order: a page reads
            # the offering's open orders, not every order since the first (issue 18).
            models.Index(
                fields=["offering", "created", "id"],
                condition=Q(state__in=sorted(ACTIVE_ORDER_STATES)),
                name="order_active_by_offering",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} order {self.uuid.hex} ({self.state})"

    @property
    def resource_name(self) -> str:
        if self.resource_id is not None and self.resource is not None:
            return self.resource.name
        return str(self.attributes.get("name", "") or "")

    @property
    def can_terminate(self) -> bool:
        """Whether the order may be canceled now (Waldur's name); read from the cancel verb."""
        cancel = ORDER_VERBS["cancel"]
        types = cancel.offering_types
        return cancel.starts_from(self.state) and (types is None or self.offering.type in types)

    @property
    def is_limit_update(self) -> bool:
        return self.type == OrderType.UPDATE and "old_limits" in self.attributes


class OrderEvent(AppendOnlyModel):
    """Append-only: one row per state change of an order. It outlives the order (a deleted order leaves a
    `Tombstone`): no database constraint, nothing done on delete."""

    order = models.ForeignKey(Order, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events")
    old_state = models.CharField(max_length=20, choices=OrderState.choices, blank=True, default="")
    new_state = models.CharField(max_length=20, choices=OrderState.choices)
    # PROTECT: a user who acted stays (deactivated, not deleted), as `Order.created_by` does.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    reason = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["created", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.old_state or '∅'} → {self.new_state}"
