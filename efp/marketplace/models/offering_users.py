"""An offering user: a person's account name at one provider's offering (a SLURM login, for example).

The site agent reads them to know which usernames belong to a resource's team and links per-user usage
to them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from efp.marketplace.models.offerings import Offering, OfferingComponent
from efp.marketplace.models.resources import Resource


class OfferingUser(models.Model):
    class State(models.TextChoices):
        # Waldur's wire labels.
        REQUESTED = "Requested"
        CREATING = "Creating"
        PENDING_ACCOUNT_LINKING = "Pending account linking"
        PENDING_ADDITIONAL_VALIDATION = "Pending additional validation"
        OK = "OK"
        REQUESTED_DELETION = "Requested deletion"
        DELETING = "Deleting"
        DELETED = "Deleted"
        ERROR_CREATING = "Error creating"
        ERROR_DELETING = "Error deleting"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="offering_users")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="offering_users"
    )
    username = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=40, choices=State.choices, default=State.OK)
    is_restricted = models.BooleanField(default=False)
    # What the provider tells the person while the account waits for them (Waldur's pending states).
    service_provider_comment = models.TextField(blank=True, default="")
    service_provider_comment_url = models.URLField(max_length=1000, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [models.UniqueConstraint(fields=["offering", "user"], name="unique_offering_user")]

    def __str__(self) -> str:
        return f"{self.username or self.user.username} at {self.offering.name}"


class ComponentUserUsageLimit(models.Model):
    """How much of one component of a resource one offering user may use (Waldur's per-user limit); the
    site agent's membership sync sets it on the user's backend association."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="user_limits")
    component = models.ForeignKey(OfferingComponent, on_delete=models.CASCADE, related_name="user_limits")
    user = models.ForeignKey(OfferingUser, on_delete=models.CASCADE, related_name="usage_limits")
    limit = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "component", "user"], name="unique_user_usage_limit")
        ]

    def __str__(self) -> str:
        return f"{self.limit} {self.component.type} for {self.user} on {self.resource}"
