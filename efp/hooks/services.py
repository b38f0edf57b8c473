"""The only code that writes hooks and their deliveries.

Hook verbs (create, update, delete, send a test, resend a delivery) are called by the API and the GUI;
`dispatch` is the events dispatcher (matching hooks to an event); `attempt_delivery`,
`send_email_delivery`, `resume_due_deliveries` and `deactivate_failing_hooks` are run by tasks and the
periodic job. HTTP is never sent inside a transaction: an attempt is claimed (compare-and-swap lease),
sent, then recorded.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from efp.errors import InvalidInput, StateConflict
from efp.events.catalogue import BY_NAME, GROUPS, expand
from efp.events.models import Event
from efp.events.recorder import Scopes, record
from efp.hooks import sending
from efp.hooks.destinations import destination_refusal
from efp.hooks.models import DeliveryAttempt, EmailDelivery, EmailHook, WebHook, WebhookDelivery
from efp.hooks.retries import DEACTIVATE_AFTER, LEASE_MARGIN, retry_delay
from efp.hooks.tasks import deliver, send_email
from efp.structure.access import visible_events

Pending = WebhookDelivery.State.PENDING
# Test events go to the one hook they test (send_test), never to subscribers.
NOT_DISPATCHED = frozenset({"webhook_test"})
INTERRUPTED = "Interrupted: the worker stopped before the attempt ended."

# --- hooks ---------------------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _subscription(
    event_types: Iterable[str] | None, event_groups: Iterable[str] | None, *, required: bool
) -> dict[str, list[str]]:
    """Checked `event_types` / `event_groups` as Waldur stores them: groups expand into the types."""
    if required and not event_types and not event_groups:
        raise InvalidInput({"non_field_errors": ["Please specify list of event_types or event_groups."]})
    errors: dict[str, list[str]] = {}
    if bad := [name for name in event_types or () if name not in BY_NAME]:
        errors["event_types"] = [f'"{name}" is not a valid choice.' for name in bad]
    if bad := [name for name in event_groups or () if name not in GROUPS]:
        errors["event_groups"] = [f'"{name}" is not a valid choice.' for name in bad]
    if errors:
        raise InvalidInput(errors)
    if event_groups is not None:
        groups = sorted(set(event_groups))
        return {"event_types": expand(list(event_types or ()), groups), "event_groups": groups}
    if event_types is not None:
        return {"event_types": sorted(set(event_types))}
    return {}


def _destination(url: str) -> str:
    refusal = destination_refusal(url)
    if refusal is not None:
        raise InvalidInput({"destination_url": [refusal]})
    return url


def _content_type(value: str) -> str:
    if value not in WebHook.ContentType.values:
        raise InvalidInput({"content_type": [f'"{value}" is not a valid choice.']})
    return value


@transaction.atomic
def create_web_hook(
    *,
    user: Any,
    destination_url: str,
    event_types: Iterable[str] | None = None,
    event_groups: Iterable[str] | None = None,
    content_type: str = WebHook.ContentType.JSON,
    is_active: bool = True,
    secret: str | None = None,
) -> WebHook:
    """A web hook of `user`; its secret is generated unless given (the caller shows it once)."""
    subscription = _subscription(event_types, event_groups, required=True)
    hook = WebHook.objects.create(
        user=user,
        destination_url=_destination(destination_url),
        content_type=_content_type(content_type),
        is_active=is_active,
        secret=secret or new_secret(),
        **subscription,
    )
    _made_after_commit(hook)
    return hook


@transaction.atomic
def update_web_hook(
    *,
    hook: WebHook,
    destination_url: str | None = None,
    event_types: Iterable[str] | None = None,
    event_groups: Iterable[str] | None = None,
    content_type: str | None = None,
    is_active: bool | None = None,
    secret: str | None = None,
) -> WebHook:
    """Changes what is given. Reactivating a hook forgets its failures."""
    changes: dict[str, Any] = _subscription(event_types, event_groups, required=False)
    if destination_url is not None:
        changes["destination_url"] = _destination(destination_url)
    if content_type is not None:
        changes["content_type"] = _content_type(content_type)
    if secret:
        changes["secret"] = secret
    if is_active is not None:
        changes["is_active"] = is_active
        if is_active and not hook.is_active:
            changes["failing_since"] = None
    return _save(hook, changes)


@transaction.atomic
def create_email_hook(
    *,
    user: Any,
    email: str,
    event_types: Iterable[str] | None = None,
    event_groups: Iterable[str] | None = None,
    is_active: bool = True,
) -> EmailHook:
    subscription = _subscription(event_types, event_groups, required=True)
    email_hook = EmailHook.objects.create(user=user, email=email, is_active=is_active, **subscription)
    _made_after_commit(email_hook)
    return email_hook


@transaction.atomic
def update_email_hook(
    *,
    hook: EmailHook,
    email: str | None = None,
    event_types: Iterable[str] | None = None,
    event_groups: Iterable[str] | None = None,
    is_active: bool | None = None,
) -> EmailHook:
    changes: dict[str, Any] = _subscription(event_types, event_groups, required=False)
    if email is not None:
        changes["email"] = email
    if is_active is not None:
        changes["is_active"] = is_active
    return _save(hook, changes)


def _save(hook: Any, changes: dict[str, Any]) -> Any:
    for field, value in changes.items():
        setattr(hook, field, value)
    hook.modified = timezone.now()
    hook.save(update_fields=[*changes, "modified"])
    return hook


@transaction.atomic
def delete_hook(*, hook: WebHook | EmailHook) -> None:
    """Deletes the hook with its deliveries and their attempts (the events stay)."""
    hook.delete()


# --- matching events to hooks --------------------------------------------------------------------


def dispatched(event_type: str, context: dict[str, Any]) -> bool:
    """The events hooks may receive (`efp.events.recorder.on_event`); which do is `subscribed_types`."""
    return event_type not in NOT_DISPATCHED


def subscribed_types(types: set[str]) -> set[str]:
    """Which of these event types some hook lists now (active or not: it may be reactivated before the
    dispatch runs), so that `record` enqueues no dispatch no hook could take. A hook made in a transaction
    still open is not seen: its `created` is moved to after its commit (`_made_after_commit`), so it is
    not given the events written before. Hooks are few: their lists are read and matched here (SQLite has
    no JSON containment)."""
    listed: set[str] = set()
    for model in (WebHook, EmailHook):
        for event_types in model.objects.values_list("event_types", flat=True):
            listed.update(event_types)
    return types & listed


def _made_after_commit(hook: WebHook | EmailHook) -> None:
    """A hook receives the events written after it was made: after its row is visible to `record`."""
    model = type(hook)
    transaction.on_commit(lambda: model.objects.filter(pk=hook.pk).update(created=timezone.now()))


def dispatch(event: Event) -> None:
    """The events dispatcher: every active hook subscribed to the event's type whose author can see the
    event gets one delivery of it (unique per hook and event: running twice sends nothing twice). A hook
    receives the events written after it was made (`_made_after_commit`), even when their dispatch runs
    late, if it listed their type when they were written (`subscribed_types`) and still does."""
    if event.event_type in NOT_DISPATCHED:
        return
    live = {"is_active": True, "user__is_active": True, "created__lte": event.created}
    web = _subscribed(WebHook.objects.filter(**live), event)
    mail = _subscribed(EmailHook.objects.filter(**live), event)
    authors = {hook.user_id: hook.user for hook in [*web, *mail]}
    seeing = {
        pk
        for pk, author in authors.items()
        if visible_events(author).filter(Event.objects.filter(pk=event.pk)).exists()
    }
    with transaction.atomic():
        for hook in web:
            if hook.user_id in seeing:
                delivery, created = WebhookDelivery.objects.get_or_create(
                    hook=hook, event=event, resend_of=None
                )
                if created:
                    deliver.enqueue(delivery.pk)
        for email_hook in mail:
            if email_hook.user_id in seeing:
                email, created = EmailDelivery.objects.get_or_create(hook=email_hook, event=event)
                if created:
                    send_email.enqueue(email.pk)


def _subscribed(hooks: Any, event: Event) -> list[Any]:
    # Few hooks, and SQLite has no JSON containment lookup: the type is matched here.
    return [hook for hook in hooks.select_related("user") if event.event_type in hook.event_types]


def _actor_context(user: Any) -> dict[str, str]:
    return {"user_uuid": user.uuid.hex, "user_username": user.username, "user_full_name": user.full_name}


@transaction.atomic
def send_test(*, hook: WebHook, user: Any) -> WebhookDelivery:
    """Records a `webhook_test` event and delivers it to this hook only."""
    if not hook.is_active:
        raise StateConflict(message="The hook is not active; activate it before sending a test.")
    event = record(
        "webhook_test",
        f"Test event for the web hook to {hook.destination_url}.",
        scopes=Scopes(user_id=hook.user_id),
        context={"hook_uuid": hook.uuid.hex, "destination_url": hook.destination_url, **_actor_context(user)},
        actor=user,
    )
    delivery = WebhookDelivery.objects.create(hook=hook, event=event)
    deliver.enqueue(delivery.pk)
    return delivery


@transaction.atomic
def resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends the delivery's event again as a new delivery (a new X-EFP-Delivery id, its own attempts)."""
    hook = WebHook.objects.select_for_update().get(pk=delivery.hook_id)
    if not hook.is_active:
        raise StateConflict(message="The hook is not active; activate it before sending again.")
    again = WebhookDelivery.objects.create(hook=hook, event_id=delivery.event_id, resend_of=delivery)
    deliver.enqueue(again.pk)
    return again


# --- delivering ----------------------------------------------------------------------------------


def attempt_delivery(*, delivery_id: int) -> str:
    """One attempt: claim the delivery (due, pending, not leased), post it, record the outcome."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return "not due or held by another worker"
    delivery, attempt = claimed
    hook = delivery.hook
    if not hook.is_active:
        outcome = sending.Outcome(False, None, "The hook is not active.", 0)
    else:
        outcome = sending.post(
            url=hook.destination_url,
            secret=hook.secret,
            delivery_uuid=str(delivery.uuid),
            event=delivery.event,
            content_type=hook.content_type,
        )
    return _finish(delivery, attempt, outcome, final=not hook.is_active)


def _claim(delivery_id: int) -> tuple[WebhookDelivery, DeliveryAttempt] | None:
    now = timezone.now()
    lease = now + datetime.timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
    with transaction.atomic():
        won = (
            WebhookDelivery.objects.filter(pk=delivery_id, state=Pending, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=lease, attempt_count=F("attempt_count") + 1)
        )
        if not won:
            return None
        delivery = WebhookDelivery.objects.select_related("hook", "event").get(pk=delivery_id)
        # Written now, completed after the request: a worker killed mid-send leaves it saying so.
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempt_count, started=now, error=INTERRUPTED
        )
    return delivery, attempt


def _finish(
    delivery: WebhookDelivery, attempt: DeliveryAttempt, outcome: sending.Outcome, *, final: bool
) -> str:
    now = timezone.now()
    with transaction.atomic():
        # An update, not a save: the hook (and with it this attempt) may have been deleted meanwhile.
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            status_code=outcome.status_code, error=outcome.error, duration_ms=outcome.duration_ms
        )
        # Ours only while our lease holds: a worker that outlived it leaves the delivery to the next one.
        mine = WebhookDelivery.objects.filter(pk=delivery.pk, state=Pending, lease_until=delivery.lease_until)
        if outcome.ok:
            mine.update(state=WebhookDelivery.State.DELIVERED, delivered_at=now, lease_until=None)
            WebHook.objects.filter(pk=delivery.hook_id).update(failing_since=None, last_published=now)
            return f"delivered at attempt {attempt.number}"
        delay = None if final else retry_delay(attempt.number)
        if delay is None:
            mine.update(state=WebhookDelivery.State.FAILED, failed_at=now, lease_until=None)
            result = f"failed for good at attempt {attempt.number}: {outcome.error}"
        elif mine.update(next_attempt_at=now + delay, lease_until=None):
            deliver.using(run_after=now + delay).enqueue(delivery.pk)
            result = f"attempt {attempt.number} failed ({outcome.error}); next in {delay}"
        else:
            result = f"attempt {attempt.number} failed after its lease expired"
        if delivery.hook.is_active:
            WebHook.objects.filter(pk=delivery.hook_id, failing_since__isnull=True).update(failing_since=now)
            _deactivate_failing(WebHook.objects.filter(pk=delivery.hook_id), now)
    return result


def _deactivate_failing(hooks: Any, now: datetime.datetime) -> list[WebHook]:
    """Deactivates the given hooks that have failed for DEACTIVATE_AFTER without a success, and tells
    their authors (a `webhook_deactivated` event about them). Runs in the caller's transaction."""
    failing = list(
        hooks.select_for_update()
        .filter(is_active=True, failing_since__lte=now - DEACTIVATE_AFTER)
        .select_related("user")
    )
    for hook in failing:
        if not WebHook.objects.filter(pk=hook.pk, is_active=True).update(is_active=False, modified=now):
            continue
        since = timezone.localtime(hook.failing_since)
        record(
            "webhook_deactivated",
            f"Your web hook to {hook.destination_url} has been deactivated: its deliveries have failed "
            f"since {since:%Y-%m-%d %H:%M %Z} with no success. Fix the receiver and activate it again.",
            scopes=Scopes(user_id=hook.user_id),
            context={
                "hook_uuid": hook.uuid.hex,
                "destination_url": hook.destination_url,
                "failing_since": hook.failing_since.isoformat() if hook.failing_since else "",
                "affected_user_uuid": hook.user.uuid.hex,
                "affected_user_username": hook.user.username,
            },
        )
    return failing


def deactivate_failing_hooks() -> int:
    with transaction.atomic():
        return len(_deactivate_failing(WebHook.objects.all(), timezone.now()))


def resume_due_deliveries() -> int:
    """Enqueues an attempt for every pending delivery that is due and not held (its task was lost, or
    its worker died mid-send and the lease expired). An extra task for a delivery is harmless: only one
    claim wins."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.filter(state=Pending, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .values_list("pk", flat=True)[:1000]
        )
        for pk in due:
            deliver.enqueue(pk)
    return len(due)


# --- e-mail hooks --------------------------------------------------------------------------------


def send_email_delivery(*, email_delivery_id: int) -> str:
    """Sends the event to the e-mail hook's address (text and HTML), once: the row is marked sent in the
    transaction that sends it, so a second run finds nothing, and a failed send leaves it unsent (the
    task fails; `resume_unsent_emails` queues it again)."""
    now = timezone.now()
    with transaction.atomic():
        if not EmailDelivery.objects.filter(pk=email_delivery_id, sent__isnull=True).update(sent=now):
            return "nothing to send"
        item = EmailDelivery.objects.select_related("hook", "event").get(pk=email_delivery_id)
        event = item.event
        context = {"event": event, "context_items": sorted(event.context.items())}
        message = EmailMultiAlternatives(
            subject=event.message[:200].splitlines()[0] if event.message else event.event_type,
            body=render_to_string("hooks/event_email.txt", context),
            to=[item.hook.email],
        )
        message.attach_alternative(render_to_string("hooks/event_email.html", context), "text/html")
        message.send()
        EmailHook.objects.filter(pk=item.hook_id).update(last_published=now)
    return f"sent to {item.hook.email}"


EMAIL_RESEND_AFTER = datetime.timedelta(minutes=2)  # an unsent e-mail this old lost its send
EMAIL_RESEND_WITHIN = datetime.timedelta(days=3)  # older ones are given up


def resume_unsent_emails() -> int:
    """Queues again the e-mail hook messages not sent yet (the mail server refused, or the worker died)."""
    now = timezone.now()
    with transaction.atomic():
        unsent = list(
            EmailDelivery.objects.filter(
                sent__isnull=True,
                created__lte=now - EMAIL_RESEND_AFTER,
                created__gte=now - EMAIL_RESEND_WITHIN,
            ).values_list("pk", flat=True)[:1000]
        )
        for pk in unsent:
            send_email.enqueue(pk)
    return len(unsent)
