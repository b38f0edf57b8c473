from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person or a service account; `is_staff` passes every permission check, `is_support` sees all."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_support = models.BooleanField(default=False)
    civil_number = models.CharField(max_length=50, null=True, blank=True, unique=True)
    organization = models.CharField(max_length=255, blank=True, default="")

    @property
    def full_name(self) -> str:
        return self.get_full_name()

    @property
    def sees_everything(self) -> bool:
        return self.is_staff or self.is_support
