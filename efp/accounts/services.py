"""Account changes: API tokens (issued, used, revoked); staff create and edit users; SSH public keys."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import secrets
import struct
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from efp.accounts import signals
from efp.accounts.models import ApiToken, SshKey, User
from efp.errors import Forbidden, InvalidInput, StateConflict

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


# Each request does not write: the time of last use is recorded at most once in this interval (or half the
# user's token lifetime, if shorter, so that a sliding lifetime is not cut short by the delay).
LAST_USE_INTERVAL = datetime.timedelta(minutes=1)
KEY_BYTES = 20  # 40 hexadecimal characters, as DRF's tokens (and Waldur's) have always had


def digest_of(key: str) -> str:
    """What is stored of a key: its SHA-256 in hex (a key is random, so no salt or slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_expired(token: ApiToken, *, now: datetime.datetime | None = None) -> bool:
    """True when the token is past its own expiry, or its user has a lifetime and the token was last used
    longer ago than that (Waldur's sliding `token_lifetime`)."""
    now = now or timezone.now()
    if token.expires is not None and token.expires <= now:
        return True
    lifetime = token.user.token_lifetime
    if lifetime is None:
        return False
    return (token.last_used or token.created) < now - datetime.timedelta(seconds=lifetime)


def _use_interval(token: ApiToken) -> datetime.timedelta:
    lifetime = token.user.token_lifetime
    if lifetime is None:
        return LAST_USE_INTERVAL
    return min(LAST_USE_INTERVAL, datetime.timedelta(seconds=lifetime / 2))


def record_use(token: ApiToken, *, address: str) -> None:
    """Notes when and from where the token was used: at most one write a minute, and one whenever the
    address changes (then `token_used_from_new_address` is sent)."""
    now = timezone.now()
    moved = bool(address) and address != token.last_used_from
    if not moved and token.last_used is not None and now - token.last_used < _use_interval(token):
        return
    previous = token.last_used_from
    changes: dict[str, Any] = {"last_used": now}
    if moved:
        changes["last_used_from"] = address
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(**changes)
        for field, value in changes.items():
            setattr(token, field, value)
        if moved and previous:
            signals.token_used_from_new_address.send(
                sender=ApiToken, token=token, actor=token.user, address=address
            )


@transaction.atomic
def issue_token(
    *,
    user: User,
    name: str,
    expires: datetime.datetime | None = None,
    offering: Any = None,
    actor: Any = None,
    address: str = "",
) -> tuple[ApiToken, str]:
    """A new token for `user` and its key, which is shown this once and stored only as a digest.

    `offering` limits the token to it (`efp.structure.token_scope`); callers pick it among
    `access.offerings_a_token_may_serve(user)` (this layer does not read the access rules)."""
    if not name.strip():
        raise InvalidInput({"name": ["This field may not be blank."]})
    if expires is not None and expires <= timezone.now():
        raise InvalidInput({"expires": ["The expiry must be in the future."]})
    key = secrets.token_hex(KEY_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip(),
        digest=digest_of(key),
        prefix=key[:8],
        expires=expires,
        offering=offering,
    )
    signals.token_created.send(sender=ApiToken, token=token, actor=actor or user, address=address)
    return token, key


@transaction.atomic
def revoke_token(*, token: ApiToken, by: Any, address: str = "") -> ApiToken:
    """The token stops working at once; its owner or staff may revoke it (409 if it already was)."""
    if not (getattr(by, "is_staff", False) or getattr(by, "pk", None) == token.user_id):
        raise Forbidden()
    now = timezone.now()
    if not ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=now):
        raise StateConflict(message="The token is already revoked.")
    token.revoked = now
    signals.token_revoked.send(sender=ApiToken, token=token, actor=by, address=address)
    return token


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
