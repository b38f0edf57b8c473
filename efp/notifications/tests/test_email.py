"""E-mail: both bodies, the sender, preferences per group (immediately, daily digest, off), the digest,
and EFP_EMAIL_URL."""

from __future__ import annotations

import datetime
from unittest import mock

import time_machine
from django.core import mail
from django.test import SimpleTestCase, override_settings
from django.utils import timezone

from efp.errors import InvalidInput
from efp.notifications import jobs, services
from efp.notifications.models import Notification
from efp.notifications.tests.base import NotificationTestCase
from efp.settings import parse_email_url

State = Notification.EmailState


class EmailTests(NotificationTestCase):
    @override_settings(
        DEFAULT_FROM_EMAIL="Allocations <alloc@example.org>", EFP_SITE_URL="https://efp.example.org"
    )
    def test_each_notification_is_one_mail_with_a_text_and_an_html_body(self) -> None:
        order = self.place_order(self.bob, name="a<b")
        self.deliver()
        (message,) = mail.outbox
        assert message.from_email == "Allocations <alloc@example.org>"
        assert message.to == ["alice@example.org"]
        link = f"https://efp.example.org/my/orders/{order.uuid.hex}/"
        assert f"Approve or reject it: {link}" in message.body
        assert "Create order for a<b" in message.body  # plain text is not escaped
        html = str(message.alternatives[0][0])  # type: ignore[attr-defined]
        assert f'<a href="{link}">Approve or reject it</a>' in html
        assert "a&lt;b" in html and "a<b" not in html
        row = Notification.objects.get(user=self.alice)
        assert (row.email_state, row.emailed_at is not None) == (State.SENT, True)

    def test_a_person_without_an_address_sees_the_bell_only(self) -> None:
        self.alice.email = ""
        self.alice.save()
        self.place_order(self.bob)
        self.deliver()
        assert mail.outbox == []
        assert Notification.objects.get(user=self.alice).email_state == State.OFF

    def test_an_email_task_that_runs_twice_sends_once(self) -> None:
        from efp.notifications.tasks import send_notification_email

        self.place_order(self.bob)
        self.deliver()
        row = Notification.objects.get(user=self.alice)
        send_notification_email.enqueue(row.pk)
        self.deliver()
        assert self.mailed() == ["alice"]

    def test_a_mail_the_server_refused_is_sent_again_later_once(self) -> None:
        self.place_order(self.bob)
        with mock.patch("efp.notifications.tasks.send_one", side_effect=ConnectionRefusedError("smtp down")):
            self.deliver()
        assert mail.outbox == []
        row = Notification.objects.get(user=self.alice)
        assert row.email_state == State.PENDING  # the bell shows it; the mail is still owed
        assert jobs.resend_pending_email() == {"enqueued": 0}  # too fresh: its own task may still run
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=3), tick=False):
            assert jobs.resend_pending_email() == {"enqueued": 1}
            self.deliver()
            assert jobs.resend_pending_email() == {"enqueued": 0}
        assert self.mailed() == ["alice"]


class PreferenceTests(NotificationTestCase):
    def test_everything_is_mailed_at_once_until_chosen_otherwise(self) -> None:
        assert services.preferences_of(self.alice) == {
            "orders": "immediately",
            "usage": "immediately",
            "end_dates": "immediately",
            "roles": "immediately",
            "hooks": "immediately",
        }

    def test_off_keeps_the_bell_and_sends_no_mail(self) -> None:
        services.update_preferences(user=self.alice, choices={"orders": "off"})
        self.place_order(self.bob)
        self.deliver()
        jobs.daily_digest()
        assert mail.outbox == []
        assert services.unread_count(self.alice) == 1

    def test_a_group_switched_off_is_off_for_that_group_only(self) -> None:
        services.update_preferences(user=self.alice, choices={"usage": "off"})
        self.place_order(self.bob)
        self.deliver()
        assert self.mailed() == ["alice"]

    def test_bad_choices_are_refused_with_field_errors(self) -> None:
        with self.assertRaises(InvalidInput) as refused:
            services.update_preferences(user=self.alice, choices={"orders": "weekly", "news": "off"})
        assert refused.exception.as_data() == {
            "orders": ['"weekly" is not a valid choice.'],
            "news": ["Not a notification group."],
        }
        assert services.preferences_of(self.alice)["orders"] == "immediately"


class DigestTests(NotificationTestCase):
    def test_the_daily_digest_lists_the_days_notifications_in_one_mail_once(self) -> None:
        services.update_preferences(user=self.alice, choices={"orders": "daily_digest"})
        services.update_preferences(user=self.carol, choices={"orders": "daily_digest"})
        first = self.place_order(self.bob, name="first")
        self.place_order(self.bob, name="second")
        self.place_order(self.alice, name="own")  # goes to carol and oscar
        self.deliver()
        assert self.mailed() == ["oscar"]  # oscar wants them at once
        mail.outbox.clear()

        assert jobs.daily_digest() == {"people": 2, "notifications": 3}
        assert jobs.daily_digest() == {"people": 0, "notifications": 0}
        assert self.mailed() == ["alice", "carol"]
        digest = next(m for m in mail.outbox if m.to == ["alice@example.org"])
        assert digest.subject == "EFP Allocations: 2 notifications of the last day"
        assert "* Create order for first waits for your approval" in digest.body
        assert "* Create order for second waits for your approval" in digest.body
        assert f"/my/orders/{first.uuid.hex}/" in str(digest.alternatives[0][0])  # type: ignore[attr-defined]

    def test_a_group_switched_off_drops_what_waited_for_the_digest(self) -> None:
        services.update_preferences(user=self.alice, choices={"orders": "daily_digest"})
        self.place_order(self.bob)
        self.deliver()
        services.update_preferences(user=self.alice, choices={"orders": "off"})
        with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
            assert jobs.daily_digest() == {"people": 0, "notifications": 0}
        assert mail.outbox == []


class EmailUrlTests(SimpleTestCase):
    def test_it_reads_each_kind_of_url(self) -> None:
        smtp = "django.core.mail.backends.smtp.EmailBackend"
        assert parse_email_url("console://") == {
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
        }
        assert parse_email_url("locmem://") == {
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"
        }
        assert parse_email_url("file:///var/mail/efp") == {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": "/var/mail/efp",
        }
        assert parse_email_url("smtp://mailer:p%40ss@mail.example.org:2525?tls=true") == {
            "EMAIL_BACKEND": smtp,
            "EMAIL_HOST": "mail.example.org",
            "EMAIL_PORT": 2525,
            "EMAIL_HOST_USER": "mailer",
            "EMAIL_HOST_PASSWORD": "p@ss",
            "EMAIL_USE_TLS": True,
            "EMAIL_USE_SSL": False,
        }
        ssl = parse_email_url("smtp://mail.example.org?ssl=true")
        assert (ssl["EMAIL_PORT"], ssl["EMAIL_USE_SSL"], ssl["EMAIL_HOST_USER"]) == (465, True, "")
        assert parse_email_url("smtp://localhost")["EMAIL_PORT"] == 25

    def test_it_refuses_what_it_cannot_read(self) -> None:
        for url in ("pigeon://coop", "smtp://host?tls=true&ssl=true", "file://"):
            with self.assertRaises(ValueError):
                parse_email_url(url)
