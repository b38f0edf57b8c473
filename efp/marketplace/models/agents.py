"""What a site agent tells us about itself (Waldur's `marketplace-site-agent-*` endpoints).

An identity is one agent installation serving one offering; it runs services (one per mode, such as
`order_process` or `report`), and each service runs processors (one per backend). The agent registers
them on every start and cycle, so registration is idempotent: the same name updates the same row.

An identity that registered its event queue (`register_queue`) has a RabbitMQ user (`rmq_username`) in a
virtual host (`rmq_vhost`) and drains the queue `consumer_<uuid>`, which receives the object types it
asked for (`object_types`; empty: every type). See `efp/marketplace/agent_messages.py`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from efp.marketplace.models.offerings import Offering


class AgentIdentity(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="agent_identities")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=100, blank=True, default="")
    dependencies = models.JSONField(default=list, blank=True)
    config_file_path = models.CharField(max_length=1000, blank=True, default="")
    config_file_content = models.TextField(blank=True, default="")
    last_restarted = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)
    # The event queue, once registered (blank before): who reads it and what it receives.
    rmq_username = models.CharField(max_length=32, blank=True, default="")
    rmq_vhost = models.CharField(max_length=64, blank=True, default="")
    object_types = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created", "pk"]
        verbose_name_plural = "agent identities"
        constraints = [
            models.UniqueConstraint(fields=["offering", "name"], name="unique_agent_identity_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.offering.name})"

    @property
    def queue_name(self) -> str:
        return f"consumer_{self.uuid.hex}"


class AgentService(models.Model):
    class State(models.TextChoices):
        ACTIVE = "Active"
        ERROR = "Error"
        IDLE = "Idle"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    identity = models.ForeignKey(AgentIdentity, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=255)
    mode = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.IDLE)
    statistics = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [models.UniqueConstraint(fields=["identity", "name"], name="unique_agent_service_name")]

    def __str__(self) -> str:
        return f"{self.identity.name} / {self.name}"


class AgentProcessor(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(AgentService, on_delete=models.CASCADE, related_name="processors")
    name = models.CharField(max_length=255)
    backend_type = models.CharField(max_length=255)
    backend_version = models.CharField(max_length=100, blank=True, default="")
    last_run = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="unique_agent_processor_name")
        ]

    def __str__(self) -> str:
        return f"{self.service} / {self.name}"
