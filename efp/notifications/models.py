"""What a person is told (`Notification`: the bell shows every row, e-mail follows the preference) and how
they want to be told by e-mail, per group (`NotificationPreference`). Rows are written only by
`efp.notifications.services.notify`, under a unique (user, dedupe_key): telling twice writes nothing."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Group(models.TextChoices):
    """What a notification is about; preferences are per group."""

    ORDERS = "orders", "Orders waiting for you and orders you placed"
    USAGE = "usage", "Usage against limits, and usage not reported"
    END_DATES = "end_dates", "Allocations ending"
    ROLES = "roles", "Roles expiring"
    HOOKS = "hooks", "Web hooks switched off"


class Delivery(models.TextChoices):
    """How a group reaches a person by e-mail (the bell always shows it)."""

    IMMEDIATELY = "immediately", "Immediately"
    DAILY_DIGEST = "daily_digest", "Daily digest"
    OFF = "off", "Off"


class Notification(models.Model):
    class EmailState(models.TextChoices):
        PENDING = "pending", "To be sent"  # a task sends it
        SENT = "sent", "Sent"
        DIGEST = "digest", "In the daily digest"  # `emailed_at` set once the digest went out
        OFF = "off", "Not e-mailed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=50)  # names the template pair notifications/email/<kind>.{txt,html}
    group = models.CharField(max_length=20, choices=Group.choices)
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField()
    url = models.CharField(max_length=500, blank=True, default="")  # a path of the GUI
    # The event it answers, if any; events are append-only and outlive everything (no constraint).
    event = models.ForeignKey(
        "events.Event",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    dedupe_key = models.CharField(max_length=200)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_once_per_user"),
        ]
        indexes = [
            models.Index(fields=["user", "-created", "-id"], name="notification_user_created"),
            # "Has anyone been told this yet?" (the order reminders job asks it of a page of keys).
            models.Index(fields=["dedupe_key"], name="notification_dedupe_key"),
            models.Index(
                fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread"
            ),
            models.Index(
                fields=["user"],
                condition=models.Q(email_state="digest", emailed_at__isnull=True),
                name="notification_undigested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.subject}"


class NotificationPreference(models.Model):
    """A person's e-mail choice per group; no row means every group immediately."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    orders = models.CharField(max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    usage = models.CharField(max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    end_dates = models.CharField(max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    roles = models.CharField(max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    hooks = models.CharField(max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    modified = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

    def delivery(self, group: str) -> str:
        return str(getattr(self, Group(group).value))
