"""Tasks of the notifications app (Django's tasks interface, database backend)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from efp.notifications.mail import send_one
from efp.notifications.models import Notification

State = Notification.EmailState


@task()
def send_notification_email(notification_id: int) -> str:
    """Sends one notification by e-mail, once: the row moves from pending to sent in the transaction that
    sends it, so a second run finds nothing to do, and a failed send leaves it pending (the task fails)."""
    with transaction.atomic():
        claimed = Notification.objects.filter(pk=notification_id, email_state=State.PENDING).update(
            email_state=State.SENT, emailed_at=timezone.now()
        )
        if not claimed:
            return "nothing to send"
        send_one(Notification.objects.select_related("user").get(pk=notification_id))
    return "sent"
