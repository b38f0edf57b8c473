"""An offering user: a person's account name at one provider's offering (a SLURM login, for example).

The site agent reads them to know which usernames belong to a resource's team and links per-user usage
to them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from efp.marketplace.models.offerings import Offering


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
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [models.UniqueConstraint(fields=["offering", "user"], name="unique_offering_user")]

    def __str__(self) -> str:
        return f"{self.username or self.user.username} at {self.offering.name}"
