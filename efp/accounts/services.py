"""Account changes: API tokens; staff create and edit users; SSH public keys."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import struct
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from efp.accounts.models import SshKey, User
from efp.errors import Forbidden, InvalidInput

USER_FIELDS = {
    "first_name", "last_name", "email", "organization", "civil_number", "is_active", "is_staff", "is_support",
}  # fmt: skip

# The algorithms OpenSSH accepts in authorized_keys (DSA is gone from current OpenSSH).
SSH_KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


def token_expired(token: Token, *, now: datetime.datetime | None = None) -> bool:
    """True when the token's user has a lifetime and the token was last used longer ago than that."""
    lifetime = token.user.token_lifetime
    if lifetime is None:
        return False
    return token.created < (now or timezone.now()) - datetime.timedelta(seconds=lifetime)


def touch_token(token: Token) -> None:
    """Restarts a sliding lifetime (Waldur refreshes `token.created` on every authenticated request)."""
    if token.user.token_lifetime is None:
        return
    now = timezone.now()
    Token.objects.filter(pk=token.pk).update(created=now)
    token.created = now


@transaction.atomic
def get_or_create_token(*, user: User) -> str:
    """The user's token; an expired one is replaced by a new one (as Waldur's password login does)."""
    token = Token.objects.select_for_update().select_related("user").filter(user=user).first()
    if token is not None and token_expired(token):
        token.delete()
        token = None
    if token is None:
        token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def regenerate_token(*, user: User) -> str:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user).key


def _require_staff(actor: Any) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden()


@transaction.atomic
def create_user(*, actor: Any, username: str, password: str = "", **fields: Any) -> User:
    """Staff add a user; without a password the user signs in only with an API token."""
    _require_staff(actor)
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise InvalidInput({key: ["This field cannot be set."] for key in sorted(unknown)})
    if User.objects.filter(username=username).exists():
        raise InvalidInput({"username": ["A user with that username already exists."]})
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def update_user(*, actor: Any, user: User, **fields: Any) -> User:
    """Staff edit a user, e.g. deactivate one who left (`is_active`)."""
    _require_staff(actor)
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise InvalidInput({key: ["This field cannot be changed."] for key in sorted(unknown)})
    if user.pk == actor.pk and (fields.get("is_active") is False or fields.get("is_staff") is False):
        raise InvalidInput("You cannot deactivate yourself or drop your own staff flag.")
    for key, value in fields.items():
        setattr(user, key, value)
    user.save(update_fields=list(fields) or None)
    return user


def _key_blob(public_key: str) -> tuple[str, bytes]:
    """(type, decoded key) of an OpenSSH public key line `type base64 [comment]`; ValidationError otherwise.

    The decoded key starts with its own type as a length-prefixed string, which must match the line's.
    """
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValidationError({"public_key": ["Invalid public key: expected 'type base64-key [comment]'."]})
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        declared = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError) as error:
        raise ValidationError({"public_key": ["Invalid public key: the key is not valid base64."]}) from error
    if declared != parts[0]:
        raise ValidationError({"public_key": ["Invalid public key: the key does not match its type."]})
    return parts[0], blob


def fingerprints(blob: bytes) -> dict[str, str]:
    """OpenSSH's fingerprints (`ssh-keygen -l`): MD5 as colon-separated hex, SHA-256/512 as base64."""
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return {
        "fingerprint_md5": ":".join(md5[i : i + 2] for i in range(0, len(md5), 2)),
        "fingerprint_sha256": "SHA256:"
        + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="),
        "fingerprint_sha512": "SHA512:"
        + base64.b64encode(hashlib.sha512(blob).digest()).decode().rstrip("="),
    }


def check_ssh_key(*, user: User, public_key: str) -> dict[str, str]:
    """The key's fingerprints, or a ValidationError on `public_key` if it is malformed or already added."""
    _key_type, blob = _key_blob(public_key)
    prints = fingerprints(blob)
    if SshKey.objects.filter(user=user, fingerprint_sha256=prints["fingerprint_sha256"]).exists():
        raise ValidationError({"public_key": ["This key is already registered for this user."]})
    return prints


@transaction.atomic
def add_ssh_key(*, user: User, public_key: str, name: str = "") -> SshKey:
    """Stores a user's public key (validated, fingerprinted); the same key twice for one user is refused."""
    prints = check_ssh_key(user=user, public_key=public_key)
    key_type = public_key.split(maxsplit=1)[0]
    comment = public_key.strip().split(maxsplit=2)[2:] or [""]
    return SshKey.objects.create(
        user=user, name=name or comment[0][:150] or key_type, public_key=public_key.strip(), **prints
    )
