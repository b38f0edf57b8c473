from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


def default_token_lifetime() -> int | None:
    """New users get EFP_TOKEN_LIFETIME; empty (the default) means their tokens never expire."""
    return settings.TOKEN_LIFETIME


class User(AbstractUser):
    """A person or a service account; `is_staff` passes every permission check, `is_support` sees all."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_support = models.BooleanField(default=False)
    civil_number = models.CharField(max_length=50, null=True, blank=True, unique=True)
    organization = models.CharField(max_length=255, blank=True, default="")
    # Waldur's `token_lifetime`: seconds an API token stays valid after its last use; empty: never expires.
    token_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=default_token_lifetime,
        validators=[MinValueValidator(60)],
        help_text="Seconds an API token stays valid after its last use; empty: it never expires.",
    )

    @property
    def full_name(self) -> str:
        return self.get_full_name()

    @property
    def sees_everything(self) -> bool:
        return self.is_staff or self.is_support


class SshKey(models.Model):
    """A user's SSH public key; service providers read the keys of their consumers' project members."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ssh_keys")
    name = models.CharField(max_length=150, blank=True, default="")
    public_key = models.TextField()
    fingerprint_md5 = models.CharField(max_length=47)
    fingerprint_sha256 = models.CharField(max_length=64)
    fingerprint_sha512 = models.CharField(max_length=128)
    is_shared = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint_sha256"], name="ssh_key_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.fingerprint_sha256} ({self.user.username})"

    @property
    def type(self) -> str:
        """The key algorithm, e.g. `ssh-ed25519`."""
        return self.public_key.split(maxsplit=1)[0] if self.public_key else ""


class OidcIdentity(models.Model):
    """The person an OpenID Connect issuer knows as `subject` (`sub`): found again by it, so a changed
    e-mail or name at the issuer never makes a second person."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OpenID Connect identity"
        verbose_name_plural = "OpenID Connect identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_once_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} ({self.user.username})"


class ApiToken(models.Model):
    """An API token: only the SHA-256 digest of its key is stored, so a copy of the database holds no key
    that works. A user has several, each named; one may expire, be revoked, or be limited to one offering
    (what a site agent needs: `efp.structure.token_scope`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=150)
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, in hex.")
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart.")
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    last_used_from = models.CharField(max_length=45, blank=True, default="")
    revoked = models.DateTimeField(null=True, blank=True)
    offering = models.ForeignKey(
        "marketplace.Offering",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="If set, the token may only read this offering and report its usage (a site agent).",
    )

    key = ""  # the key itself, in memory only: the request it came with, or the answer that shows it once

    class Meta:
        ordering = ("-created", "-pk")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.user.username})"
