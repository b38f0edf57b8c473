"""Events reach carol's web hook on a receiver at 127.0.0.1, signed, retried under one delivery id, never
through a redirect; a hook failing for 3 days is deactivated and carol told; nothing acknowledged is lost
when a worker dies mid-send."""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from efp.events.models import Event
from efp.events.recorder import Scopes, record
from efp.events.tests.running import run_tasks
from efp.hooks import jobs, sending, services
from efp.hooks.models import DeliveryAttempt, EmailDelivery, WebHook, WebhookDelivery
from efp.hooks.retries import RETRY_DELAYS
from efp.hooks.tests.receiver import Receiver, signature_is_valid
from efp.marketplace.tests.base import MarketplaceTestCase

# After the world of MarketplaceTestCase was made (at the real time): its events predate the hooks.
T0 = datetime.datetime(2030, 3, 2, 9, 0, tzinfo=datetime.UTC)
Delivered = WebhookDelivery.State.DELIVERED


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class DeliveryTests(MarketplaceTestCase):
    def setUp(self) -> None:
        traveller = time_machine.travel(T0, tick=False)
        self.clock = traveller.start()
        self.addCleanup(traveller.stop)

    def receiver(self, *answers: int, delay: float = 0) -> Receiver:
        receiver = Receiver(list(answers), delay)
        self.addCleanup(receiver.stop)
        return receiver

    def hook(self, receiver: Receiver, **fields: Any) -> WebHook:
        fields.setdefault("event_groups", ["providers"])
        return services.create_web_hook(user=self.carol, destination_url=receiver.url, **fields)

    def offering_event(self, customer_id: int | None = None) -> Event:
        """An event about provider P's offering (carol sees it), or about another organisation."""
        with transaction.atomic():
            return record(
                "marketplace_offering_updated",
                "Offering O has been updated.",
                scopes=(
                    Scopes(customer_id=customer_id)
                    if customer_id
                    else Scopes(customer_id=self.provider_p.pk, offering_id=self.offering.pk)
                ),
                context={"offering_uuid": self.offering.uuid.hex, "offering_name": "Offering O"},
            )

    def later(self, seconds: float) -> None:
        self.clock.shift(datetime.timedelta(seconds=seconds))

    def test_it_retries_under_one_delivery_id_until_the_receiver_takes_it(self) -> None:
        receiver = self.receiver(500, 503)
        hook = self.hook(receiver)
        event = self.offering_event()

        run_tasks()  # the dispatch, then the first attempt
        delivery = WebhookDelivery.objects.get()
        assert len(receiver.received) == 1 and delivery.state == "pending"
        assert delivery.next_attempt_at == T0 + datetime.timedelta(seconds=10)
        self.later(9)
        run_tasks()
        assert len(receiver.received) == 1  # not due yet
        self.later(2)
        run_tasks()
        assert len(receiver.received) == 2
        self.later(61)
        run_tasks()

        assert [r.answered for r in receiver.received] == [500, 503, 200]
        assert {r.headers["X-EFP-Delivery"] for r in receiver.received} == {str(delivery.uuid)}
        for received in receiver.received:
            assert signature_is_valid(hook.secret, received, now=T0.timestamp() + 72)
            assert received.headers["Content-Type"] == "application/json"
            assert json.loads(received.body) == {
                "created": event.created.isoformat(),
                "message": "Offering O has been updated.",
                "context": {"offering_uuid": self.offering.uuid.hex, "offering_name": "Offering O"},
                "event_type": "marketplace_offering_updated",
            }
        delivery.refresh_from_db()
        assert (delivery.state, delivery.delivered_at) == (Delivered, T0 + datetime.timedelta(seconds=72))
        attempts = list(delivery.attempts.values_list("number", "status_code", "error"))
        assert attempts == [(1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 200, "")]
        hook.refresh_from_db()
        assert hook.failing_since is None and hook.last_published is not None

    def test_a_wrong_secret_does_not_verify(self) -> None:
        receiver = self.receiver()
        self.hook(receiver, secret="the-right-secret-of-32-characters")
        self.offering_event()
        run_tasks()
        [received] = receiver.received
        assert signature_is_valid("the-right-secret-of-32-characters", received, now=T0.timestamp())
        assert not signature_is_valid("a-wrong-secret-of-32-characters!!", received, now=T0.timestamp())
        tampered = type(received)(received.headers, received.body + b" ", received.answered)
        assert not signature_is_valid("the-right-secret-of-32-characters", tampered, now=T0.timestamp())

    def test_a_form_hook_posts_the_payload_form_encoded(self) -> None:
        receiver = self.receiver()
        self.hook(receiver, content_type="form")
        self.offering_event()
        run_tasks()
        [received] = receiver.received
        assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {key: values[0] for key, values in parse_qs(received.body.decode()).items()}
        assert form["event_type"] == "marketplace_offering_updated"
        assert json.loads(form["context"])["offering_name"] == "Offering O"

    def test_it_sends_only_events_the_author_subscribed_to_and_may_see(self) -> None:
        receiver = self.receiver()
        self.hook(receiver)
        self.hook(receiver, event_groups=["users"])  # another subscription: not this type
        services.update_web_hook(hook=self.hook(receiver), is_active=False)
        self.offering_event(customer_id=self.org_a.pk)  # organisation A's: carol does not see it
        run_tasks()
        assert receiver.received == []
        self.offering_event()
        run_tasks()
        assert len(receiver.received) == 1
        # A dispatch that runs again (after a crash) creates nothing new.
        services.dispatch(Event.objects.order_by("-pk").first())  # type: ignore[arg-type]
        run_tasks()
        assert len(receiver.received) == 1 and WebhookDelivery.objects.count() == 1

    def test_a_redirect_is_not_followed_and_counts_as_a_failure(self) -> None:
        receiver = self.receiver(302)
        self.hook(receiver)
        self.offering_event()
        run_tasks()
        assert len(receiver.received) == 1  # nothing fetched the Location
        attempt = DeliveryAttempt.objects.get()
        assert (attempt.status_code, attempt.error) == (302, "Redirects are not followed.")
        assert WebhookDelivery.objects.get().state == "pending"

    @override_settings(WEBHOOK_TIMEOUT=0.2)
    def test_a_timeout_counts_as_a_failure(self) -> None:
        receiver = self.receiver(delay=1.0)
        self.hook(receiver)
        self.offering_event()
        run_tasks()
        attempt = DeliveryAttempt.objects.get()
        assert attempt.status_code is None and attempt.error.startswith("Timed out")
        assert WebhookDelivery.objects.get().next_attempt_at == T0 + RETRY_DELAYS[0]

    def test_a_refused_connection_is_retried_for_more_than_a_day_then_failed(self) -> None:
        receiver = self.receiver()
        hook = self.hook(receiver)
        receiver.stop()  # nobody listens any more
        self.offering_event()
        run_tasks()
        for delay in RETRY_DELAYS:
            self.later(delay.total_seconds())
            run_tasks()
        delivery = WebhookDelivery.objects.get()
        assert delivery.state == "failed" and delivery.attempt_count == len(RETRY_DELAYS) + 1
        assert delivery.failed_at - delivery.created >= datetime.timedelta(hours=24)  # type: ignore[operator]
        assert all(a.status_code is None and a.error for a in delivery.attempts.all())
        assert not DBTaskResult.objects.filter(status="READY").exists()
        hook.refresh_from_db()
        assert hook.is_active and hook.failing_since == T0

    def test_a_hook_failing_for_three_days_is_deactivated_and_its_author_told(self) -> None:
        receiver = self.receiver(*[500] * 100)
        hook = self.hook(receiver)
        self.offering_event()
        run_tasks()
        self.later(2 * 24 * 3600)
        assert jobs.resume_due()["deactivated"] == 0
        self.offering_event()  # a new event two days later fails too
        run_tasks()
        hook.refresh_from_db()
        assert hook.is_active and hook.failing_since == T0
        self.later(24 * 3600)
        assert jobs.resume_due()["deactivated"] == 1
        hook.refresh_from_db()
        assert not hook.is_active
        told = Event.objects.get(event_type="webhook_deactivated")
        assert told.user_id == self.carol.pk
        assert hook.destination_url in told.message and "deactivated" in told.message
        assert told.context["hook_uuid"] == hook.uuid.hex
        assert jobs.resume_due()["deactivated"] == 0  # once

        # Its pending deliveries end without another request.
        sent = len(receiver.received)
        self.later(24 * 3600)
        run_tasks()
        assert len(receiver.received) == sent
        assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"failed"}

    def test_a_success_clears_the_failing_state(self) -> None:
        receiver = self.receiver(500)
        hook = self.hook(receiver)
        self.offering_event()
        run_tasks()
        hook.refresh_from_db()
        assert hook.failing_since == T0
        self.later(10)
        run_tasks()
        hook.refresh_from_db()
        assert hook.failing_since is None

    def test_the_resume_job_picks_up_a_delivery_whose_worker_died(self) -> None:
        receiver = self.receiver()
        self.hook(receiver)
        event = self.offering_event()
        with transaction.atomic():
            services.dispatch(event)
        delivery = WebhookDelivery.objects.get()
        # A worker claimed it and was killed mid-send: a lease, an unfinished attempt, no task left.
        assert services._claim(delivery.pk) is not None
        DBTaskResult.objects.all().delete()
        assert jobs.resume_due()["enqueued"] == 0  # the lease still holds
        run_tasks()
        assert receiver.received == []

        self.later(61)
        assert jobs.resume_due()["enqueued"] == 1
        assert jobs.resume_due()["enqueued"] == 1  # an extra task is harmless: one claim wins
        run_tasks()
        assert len(receiver.received) == 1
        delivery.refresh_from_db()
        assert delivery.state == Delivered
        attempts = list(delivery.attempts.values_list("number", "status_code", "error"))
        assert attempts == [(1, None, services.INTERRUPTED), (2, 200, "")]

    def test_two_claims_of_one_attempt_cannot_both_win(self) -> None:
        self.hook(self.receiver())
        event = self.offering_event()
        with transaction.atomic():
            services.dispatch(event)
        delivery = WebhookDelivery.objects.get()
        assert services._claim(delivery.pk) is not None
        assert services._claim(delivery.pk) is None

    def test_a_hook_deleted_while_its_delivery_is_sent_ends_quietly(self) -> None:
        hook = self.hook(self.receiver())
        event = self.offering_event()
        with transaction.atomic():
            services.dispatch(event)
        delivery = WebhookDelivery.objects.get()

        def post_while_carol_deletes_the_hook(**kwargs: Any) -> sending.Outcome:
            services.delete_hook(hook=WebHook.objects.get(pk=hook.pk))
            return sending.Outcome(True, 200, "", 5)

        with mock.patch.object(sending, "post", post_while_carol_deletes_the_hook):
            assert services.attempt_delivery(delivery_id=delivery.pk) == "delivered at attempt 1"
        assert not WebhookDelivery.objects.exists() and not DeliveryAttempt.objects.exists()

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_a_destination_that_became_private_is_refused_at_send_time(self) -> None:
        receiver = self.receiver()
        with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
            self.hook(receiver)  # accepted then, refused now (as if its name resolved elsewhere)
        self.offering_event()
        run_tasks()
        assert receiver.received == []
        assert "non-public address" in DeliveryAttempt.objects.get().error

    def test_the_deliveries_endpoint_lists_attempts_and_a_delivery_can_be_sent_again(self) -> None:
        receiver = self.receiver(500)
        hook = self.hook(receiver)
        event = self.offering_event()
        run_tasks()
        self.later(10)
        run_tasks()
        carol = self.as_user(self.carol)
        url = f"/api/hooks-web/{hook.uuid.hex}/deliveries/"
        response = carol.get(url)
        assert response.status_code == 200 and response.headers["X-Result-Count"] == "1"
        [row] = response.json()
        delivery = WebhookDelivery.objects.get()
        assert row["uuid"] == delivery.uuid.hex and row["state"] == "delivered"
        assert row["event_type"] == "marketplace_offering_updated"
        assert row["event_uuid"] == event.uuid.hex
        assert row["delivered_at"] == "2030-03-02T09:00:10Z" and row["failed_at"] is None
        assert [(a["number"], a["status_code"]) for a in row["attempts"]] == [(1, 500), (2, 200)]
        assert row["attempts"][0]["started"] == "2030-03-02T09:00:00Z"

        resent = carol.post(f"{url}{delivery.uuid.hex}/resend/")
        assert resent.status_code == 201, resent.json()
        assert resent.json()["uuid"] != delivery.uuid.hex
        assert resent.json()["resend_of"] == delivery.uuid.hex
        run_tasks()
        assert [r.headers["X-EFP-Delivery"] for r in receiver.received][-1] == str(
            WebhookDelivery.objects.get(resend_of=delivery).uuid
        )
        assert [row["state"] for row in carol.get(url).json()] == ["delivered", "delivered"]
        assert self.as_user(self.dave).post(f"{url}{delivery.uuid.hex}/resend/").status_code == 404
        assert carol.post(f"{url}{'0' * 32}/resend/").status_code == 404
        assert carol.post(f"{url}nonsense/resend/").status_code == 404

        services.update_web_hook(hook=hook, is_active=False)
        assert carol.post(f"{url}{delivery.uuid.hex}/resend/").status_code == 409
        assert carol.post(f"/api/hooks-web/{hook.uuid.hex}/test/").status_code == 409

        assert carol.delete(f"/api/hooks-web/{hook.uuid.hex}/").status_code == 204  # with both deliveries
        assert not WebhookDelivery.objects.exists() and Event.objects.filter(pk=event.pk).exists()

    def test_a_test_goes_to_that_hook_only(self) -> None:
        receiver, other = self.receiver(), self.receiver()
        hook = self.hook(receiver)
        self.hook(other, event_groups=["efp"])  # subscribed to webhook_test: still not sent
        response = self.as_user(self.carol).post(f"/api/hooks-web/{hook.uuid.hex}/test/")
        assert response.status_code == 201, response.json()
        run_tasks()
        [received] = receiver.received
        assert other.received == []
        assert json.loads(received.body)["event_type"] == "webhook_test"
        assert received.headers["X-EFP-Delivery"] == str(WebhookDelivery.objects.get().uuid)
        assert self.as_user(self.staff).post(f"/api/hooks-web/{hook.uuid.hex}/test/").status_code == 201

    def test_the_deliveries_list_runs_a_fixed_number_of_queries(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        hook = self.hook(self.receiver())
        client = self.as_user(self.carol)
        url = f"/api/hooks-web/{hook.uuid.hex}/deliveries/?page_size=50"

        def count() -> int:
            client.get(url)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            return len(queries)

        self.offering_event()
        run_tasks()
        one = count()
        for _ in range(4):
            self.offering_event()
        run_tasks()
        assert WebhookDelivery.objects.count() == 5
        assert count() == one


class EmailHookDeliveryTests(MarketplaceTestCase):
    def test_an_email_hook_mails_the_event_once_in_text_and_html(self) -> None:
        services.create_email_hook(user=self.carol, email="ops@example.org", event_groups=["providers"])
        with transaction.atomic():
            event = record(
                "marketplace_offering_created",
                "Offering <O> has been created.",
                scopes=Scopes(customer_id=self.provider_p.pk, offering_id=self.offering.pk),
                context={"offering_name": "Offering <O>"},
            )
        run_tasks()
        services.dispatch(event)
        run_tasks()
        [message] = mail.outbox
        assert message.to == ["ops@example.org"]
        assert message.subject == "Offering <O> has been created."
        assert "offering_name: Offering <O>" in message.body
        html, media_type = message.alternatives[0]  # type: ignore[attr-defined]
        assert media_type == "text/html" and "Offering &lt;O&gt;" in html

    def test_a_message_the_mail_server_refused_is_sent_again_later_once(self) -> None:
        services.create_email_hook(user=self.carol, email="ops@example.org", event_groups=["providers"])
        with transaction.atomic():
            record(
                "marketplace_offering_updated",
                "Offering O has been updated.",
                scopes=Scopes(customer_id=self.provider_p.pk, offering_id=self.offering.pk),
            )
        with mock.patch.object(
            EmailMultiAlternatives, "send", side_effect=ConnectionRefusedError("smtp down")
        ):
            run_tasks()
        assert mail.outbox == [] and EmailDelivery.objects.get().sent is None  # still owed
        assert jobs.resume_due()["emails_enqueued"] == 0  # too fresh: its own task may still run
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=3), tick=False):
            assert jobs.resume_due()["emails_enqueued"] == 1
            run_tasks()
            assert jobs.resume_due()["emails_enqueued"] == 0
        [message] = mail.outbox
        assert message.subject == "Offering O has been updated."
