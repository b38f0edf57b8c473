"""The words and the e-mails: each kind has a pair of templates (`notifications/email/<kind>.txt` and
`.html`, both extending a shared base), rendered once per person when the notification is written; an
e-mail carries both bodies (text, with the HTML as its alternative)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from efp.accounts.models import User
from efp.notifications.models import Notification


def absolute(url: str) -> str:
    """A GUI path as a link in an e-mail."""
    if not url or "://" in url:
        return url
    return f"{settings.EFP_SITE_URL}{url}"


def render_bodies(
    kind: str, *, user: User, subject: str, text: str, url: str, details: dict[str, Any]
) -> tuple[str, str]:
    """(text body, HTML body) of one notification for one person."""
    context = {
        "user": user,
        "name": user.get_full_name() or user.username,
        "subject": subject,
        "text": text,
        "link": absolute(url),
        "site_url": settings.EFP_SITE_URL,
        **details,
    }
    return (
        render_to_string(f"notifications/email/{kind}.txt", context).strip() + "\n",
        render_to_string(f"notifications/email/{kind}.html", context),
    )


def send_one(notification: Notification) -> None:
    user = notification.user
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(notification.html, "text/html")
    message.send()


def send_digest(user: User, notifications: Sequence[Notification]) -> None:
    """One e-mail with every notification the person chose to receive as a daily digest."""
    count = len(notifications)
    subject = f"EFP Allocations: {count} notification{'s' if count != 1 else ''} of the last day"
    context = {
        "user": user,
        "name": user.get_full_name() or user.username,
        "subject": subject,
        "notifications": [(n, absolute(n.url)) for n in notifications],
        "site_url": settings.EFP_SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email/digest.txt", context).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("notifications/email/digest.html", context), "text/html")
    message.send()
