"""Waldur's web and e-mail hooks, and the deliveries of events to web hooks with every attempt.

A hook belongs to its author: it receives the events of its `event_types` that its author can see.
A `WebhookDelivery` is one event for one web hook (unique, so a dispatch that runs twice sends nothing
twice; a resend is a new delivery pointing at the one it repeats); each try is a `DeliveryAttempt`.
Only `efp.hooks.services` writes them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Hook(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    # The subscription as given (`event_groups`) and expanded (`event_types`: the types it receives).
    event_types = models.JSONField(default=list)
    event_groups = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(default=timezone.now)
    last_published = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created", "-pk"]


class WebHook(Hook):
    class ContentType(models.TextChoices):
        JSON = "json", "JSON"
        FORM = "form", "Form"

    destination_url = models.URLField(max_length=2000)
    content_type = models.CharField(max_length=10, choices=ContentType.choices, default=ContentType.JSON)
    secret = models.CharField(max_length=200)
    # When its deliveries started failing, with no success since (None: not failing).
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta(Hook.Meta):
        pass

    def __str__(self) -> str:
        return f"web hook {self.destination_url}"


class EmailHook(Hook):
    email = models.EmailField(max_length=320)

    class Meta(Hook.Meta):
        pass

    def __str__(self) -> str:
        return f"e-mail hook {self.email}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # X-EFP-Delivery
    hook = models.ForeignKey(WebHook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="+")
    # Deleted only with its hook, together with the resends that point at it.
    resend_of = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    created = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker sending an attempt holds the lease until this time; a crashed worker's lease expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["hook", "event"], condition=Q(resend_of__isnull=True), name="delivery_one_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["hook", "-created"], name="delivery_hook_created"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.uuid} ({self.state})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_one_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def outcome(self) -> str:
        """In words: "HTTP 200", "HTTP 302: Redirects are not followed.", "no answer: Timed out …"."""
        answer = f"HTTP {self.status_code}" if self.status_code is not None else "no answer"
        return answer if self.error in ("", answer) else f"{answer}: {self.error}"


class EmailDelivery(models.Model):
    """One event for one e-mail hook; `sent` is set once the mail has gone."""

    hook = models.ForeignKey(EmailHook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hook", "event"], name="email_delivery_one_per_event")]

    def __str__(self) -> str:
        return f"e-mail of event {self.event_id} to {self.hook_id}"
