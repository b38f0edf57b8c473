"""What the site agent last reported about each role grant of a resource's team: has it reached the
provider's backend? (`set_membership_sync_statuses`, for offerings with `enable_membership_sync_status`.)
Each report replaces the resource's earlier one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from efp.marketplace.models.resources import Resource


class MemberSyncStatus(models.Model):
    class ScopeType(models.TextChoices):
        RESOURCE = "resource", "Resource"
        RESOURCE_PROJECT = "resource_project", "Resource project"

    class State(models.TextChoices):
        SYNCED = "synced", "Synced"
        PENDING = "pending", "Pending"
        ERROR = "error", "Error"
        MISSING_IN_IDP = "missing_in_idp", "Missing in the identity provider"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="member_sync_statuses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope_type = models.CharField(max_length=32, choices=ScopeType.choices)
    role_name = models.CharField(max_length=100)
    state = models.CharField(max_length=32, choices=State.choices)
    message = models.TextField(blank=True, default="")
    resource_project_uuid = models.UUIDField(null=True, blank=True)
    reported = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["resource", "user"], name="member_sync_resource_user")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.user_id} {self.role_name}: {self.state}"
