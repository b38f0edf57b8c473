"""The only code that writes notifications and preferences: `notify` (idempotent: one row per person and
`dedupe_key`), reading them (`mark_read`, `mark_all_read`) and the e-mail choices per group."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from efp.accounts.models import User
from efp.errors import InvalidInput
from efp.events.models import Event
from efp.notifications.mail import render_bodies, send_digest
from efp.notifications.models import Delivery, Group, Notification, NotificationPreference

State = Notification.EmailState
GROUPS: tuple[str, ...] = tuple(Group.values)


def email_state(user: User, delivery: str) -> str:
    """What happens to a new notification's e-mail for this person and their choice for its group."""
    if not user.email or delivery == Delivery.OFF:
        return State.OFF
    return State.DIGEST if delivery == Delivery.DAILY_DIGEST else State.PENDING


def notify(
    users: Iterable[User],
    *,
    kind: str,
    group: str,
    subject: str,
    text: str,
    url: str,
    event: Event | None = None,
    dedupe_key: str,
    details: dict[str, Any] | None = None,
) -> list[Notification]:
    """Tells each person once per `dedupe_key`: writes their row (the bell shows it) and, for those who
    want this group immediately, enqueues its e-mail in the same transaction. Returns the new rows."""
    from efp.notifications.tasks import send_notification_email  # the task module imports `mail`

    group = Group(group).value
    people = {user.pk: user for user in users}
    if not people:
        return []
    choices = {
        p.user_id: p.delivery(group) for p in NotificationPreference.objects.filter(user_id__in=people)
    }
    created = []
    with transaction.atomic():
        for user in people.values():
            if Notification.objects.filter(user=user, dedupe_key=dedupe_key).exists():
                continue
            text_body, html_body = render_bodies(
                kind, user=user, subject=subject, text=text, url=url, details=details or {}
            )
            row, is_new = Notification.objects.get_or_create(
                user=user,
                dedupe_key=dedupe_key,
                defaults={
                    "kind": kind,
                    "group": group,
                    "subject": subject[:255],
                    "text": text_body,
                    "html": html_body,
                    "url": url,
                    "event": event,
                    "email_state": email_state(user, choices.get(user.pk, Delivery.IMMEDIATELY)),
                },
            )
            if not is_new:
                continue
            created.append(row)
            if row.email_state == State.PENDING:
                send_notification_email.enqueue(row.pk)
    return created


def notifications_of(user: Any) -> QuerySet[Notification]:
    """A person's own notifications, newest first (nobody sees anyone else's)."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user_id=user.pk)


def unread_count(user: Any) -> int:
    return notifications_of(user).filter(read_at__isnull=True).count()


def mark_read(*, notification: Notification, user: User) -> Notification:
    """Marks the person's own notification read (again: nothing changes)."""
    if notification.user_id != user.pk:
        raise InvalidInput("Not your notification.")
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    notification.refresh_from_db(fields=["read_at"])
    return notification


def mark_all_read(*, user: User) -> int:
    """Marks every unread notification of the person read; returns how many."""
    return notifications_of(user).filter(read_at__isnull=True).update(read_at=timezone.now())


def preferences_of(user: User) -> dict[str, str]:
    """{group: delivery} for every group (no row yet: every group immediately)."""
    row = NotificationPreference.objects.filter(user=user).first()
    return {group: row.delivery(group) if row else Delivery.IMMEDIATELY.value for group in GROUPS}


def update_preferences(*, user: User, choices: dict[str, str]) -> dict[str, str]:
    """Sets the e-mail choice of the given groups (the others stay). A group switched off drops what
    waited for its next digest; one switched to immediately sends that in the digest still."""
    errors = {
        group: ["Not a notification group."] if group not in GROUPS else [f'"{value}" is not a valid choice.']
        for group, value in choices.items()
        if group not in GROUPS or value not in Delivery.values
    }
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        row, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        for group, value in choices.items():
            setattr(row, group, value)
        row.modified = timezone.now()
        row.save()
        off = [group for group, value in choices.items() if value == Delivery.OFF]
        undigested(user).filter(group__in=off).update(email_state=State.OFF)
    return preferences_of(user)


def undigested(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, email_state=State.DIGEST, emailed_at__isnull=True)


def send_daily_digest(*, user: User) -> int:
    """Sends the person one e-mail with their undigested notifications, once (the rows are claimed under
    a lock in the transaction that sends); returns how many it listed."""
    with transaction.atomic():
        rows: Sequence[Notification] = list(undigested(user).select_for_update().order_by("created", "pk"))
        if not rows:
            return 0
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=timezone.now())
        send_digest(user, rows)
    return len(rows)


def users_with_undigested() -> QuerySet[User]:
    pending = Notification.objects.filter(email_state=State.DIGEST, emailed_at__isnull=True)
    return User.objects.filter(pk__in=pending.values("user_id")).order_by("pk")
