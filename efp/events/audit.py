"""The record of access: sign-ins, failed sign-ins, lockouts and API tokens, as events (Waldur's types
where Waldur has one, `events.catalogue.ACCESS_TYPES`).

Receivers of Django's, django-axes' and `efp.accounts.signals`' signals, connected in `EventsConfig.ready`.
Each writes one event naming the person (`user_id`, so they and staff see it: `structure.access`) and the
client's address (`ip_address` in its context), in the transaction of the change that sent it (its own
when there is none, such as a sign-in). Role grants and removals are recorded by `structure.events`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction

from efp.accounts import signals as token_signals
from efp.accounts.oidc.backend import OidcBackend
from efp.events.recorder import Scopes, record
from efp.rest.addresses import client_address, current_address

OIDC_BACKEND = f"{OidcBackend.__module__}.{OidcBackend.__qualname__}"  # as django.contrib.auth names it


def _address(request: Any = None, address: str | None = None) -> str:
    if address:
        return address
    return client_address(request) if request is not None else current_address()


def _person(user: Any) -> dict[str, str]:
    return {
        "user_uuid": user.uuid.hex,
        "user_username": user.username,
        "user_full_name": user.get_full_name(),
    }


def _record(
    event_type: str, message: str, *, user: Any, address: str, actor: Any = None, **context: Any
) -> None:
    keys = {**(_person(user) if user is not None else {}), **context, "ip_address": address}
    scopes = Scopes(user_id=user.pk if user is not None else None)
    with transaction.atomic():
        record(event_type, message, scopes=scopes, context=keys, actor=actor)


def logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    oauth = getattr(user, "backend", "") == OIDC_BACKEND
    how = "OIDC" if oauth else "username and password"
    _record(
        "auth_logged_in_with_oauth" if oauth else "auth_logged_in_with_username",
        f"User {user.username} logged in with {how}.",
        user=user,
        actor=user,
        address=_address(request),
    )


def _named(username: str) -> Any:
    return get_user_model().objects.filter(username=username).first() if username else None


def login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")[:150]
    _record(
        "auth_login_failed_with_username",
        f"Failed login for {username or 'an empty username'}.",
        user=_named(username),
        address=_address(request),
        username=username,
    )


def locked_out(
    sender: Any, request: Any = None, username: str = "", ip_address: str = "", **kwargs: Any
) -> None:
    username = str(username or "")[:150]
    _record(
        "auth_locked_out",
        f"Logins for {username} from {ip_address or 'an unknown address'} are locked out.",
        user=_named(username),
        address=_address(request, ip_address),
        username=username,
    )


def _token_event(event_type: str, words: str) -> Any:
    def receiver(sender: Any, token: Any, actor: Any = None, address: str = "", **kwargs: Any) -> None:
        key = getattr(token.uuid, "hex", str(token.uuid))
        _record(
            event_type,
            f"API token {token.name!r} of {token.user.username} {words}.",
            user=token.user,
            actor=actor,
            address=_address(None, address),
            pat_uuid=key,
            pat_name=token.name,
        )

    return receiver


token_created = _token_event("pat_created", "was created")
token_revoked = _token_event("pat_revoked", "was revoked")
token_used_from_new_address = _token_event("pat_used_from_new_ip", "was used from a new address")


def connect() -> None:
    from axes.signals import user_locked_out

    user_logged_in.connect(logged_in, dispatch_uid="efp.audit.logged_in")
    user_login_failed.connect(login_failed, dispatch_uid="efp.audit.login_failed")
    user_locked_out.connect(locked_out, dispatch_uid="efp.audit.locked_out")
    token_signals.token_created.connect(token_created, dispatch_uid="efp.audit.token_created")
    token_signals.token_revoked.connect(token_revoked, dispatch_uid="efp.audit.token_revoked")
    token_signals.token_used_from_new_address.connect(
        token_used_from_new_address, dispatch_uid="efp.audit.token_used_from_new_address"
    )
