"""What happened, as Waldur's event log serves it, and the record of each periodic job run.

An `Event` is written by the service that makes the change, in the same transaction, and is never
changed or deleted (append-only, like the rest of history). Its scopes are plain ids of the organisation,
project, offering, resource and order it concerns: a user sees the event when they can see one of them
(`structure.access.visible_events`). The ids carry no database constraint, so events outlive what they
describe.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from efp.append_only import AppendOnlyModel


class Event(AppendOnlyModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)
    event_type = models.CharField(max_length=100)
    message = models.TextField()
    context = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Scopes (ids only, no constraint): who may see the event, and what `?scope=` matches.
    customer_id = models.BigIntegerField(null=True, blank=True)
    project_id = models.BigIntegerField(null=True, blank=True)
    offering_id = models.BigIntegerField(null=True, blank=True)
    resource_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    # The person the event is about when it is not an object (a role grant names its holder).
    user_id = models.BigIntegerField(null=True, blank=True)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-created", "-pk"]
        indexes = [
            models.Index(fields=["-created", "-id"], name="event_created"),
            models.Index(fields=["event_type", "-created"], name="event_type_created"),
            models.Index(fields=["customer_id", "-created"], name="event_customer"),
            models.Index(fields=["project_id", "-created"], name="event_project"),
            models.Index(fields=["offering_id", "-created"], name="event_offering"),
            models.Index(fields=["resource_id", "-created"], name="event_resource"),
            models.Index(fields=["order_id", "-created"], name="event_order"),
            models.Index(fields=["user_id", "-created"], name="event_user"),  # a person's access record
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.created:%Y-%m-%d %H:%M}"


class AccessEvent(Event):
    """The record of access in the admin (`events.catalogue.ACCESS_TYPES`): the same rows, read only."""

    class Meta:
        proxy = True
        verbose_name = "access event"


class JobRun(models.Model):
    """One run of a periodic job for one slot of its schedule (`efp.events.schedule`).

    The (job, slot) pair is unique: however many workers' clocks fire for the same slot, one inserts the
    row and enqueues the job; the others find the row and do nothing."""

    class Status(models.TextChoices):
        ENQUEUED = "enqueued", "Enqueued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=100)
    slot = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ENQUEUED)
    enqueued = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-slot", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="jobrun_one_per_slot")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M} ({self.status})"


class WorkerBeat(models.Model):
    """A task-running process of `efp worker` that is alive: its supervisor refreshes `seen` every few
    seconds. `events.requeue_stale` returns a RUNNING task to the queue only when the process that claimed
    it has not been seen for `EFP_TASK_STALE_SECONDS`, so a slow task on a live worker never runs twice."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField(null=True, blank=True)
    started = models.DateTimeField(default=timezone.now)
    seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["worker_id"]

    def __str__(self) -> str:
        return f"{self.worker_id} (seen {self.seen:%H:%M:%S})"
