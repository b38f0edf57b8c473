"""The answers to writes sent with an `Idempotency-Key` header (docs/compatibility.md), kept 24 hours."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A key its user sent, what it was sent with (method, path, body hash) and the answer it got.

    One row per (user, key): the unique constraint is what makes a second, concurrent request with the same
    key wait for the first one's transaction and then read its answer (efp.idempotency.api)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    body_hash = models.CharField(max_length=64)  # sha256 of the body, hex
    status = models.PositiveSmallIntegerField(null=True)  # None only inside the first request's transaction
    body = models.TextField(blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True, default="")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
