"""Orders: an order waits for you (and a reminder after 3 days); your order changed state."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail
from django.utils import timezone

from efp.events.models import Event
from efp.events.tasks import dispatch_event
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order, make_project
from efp.notifications import jobs
from efp.notifications.models import Notification
from efp.notifications.reactions import react
from efp.notifications.tests.base import NotificationTestCase, last_event


class OrderWaitsTests(NotificationTestCase):
    def test_it_tells_the_consumer_approvers_when_a_member_orders(self) -> None:
        order = self.place_order(self.bob, name="genome")
        assert order.state == "pending-consumer"
        self.deliver()
        # alice owns the organisation; erin (project admin) may not approve, bob placed it, the provider
        # side waits until the organisation has approved, dave and staff have nothing to do with it.
        assert self.mailed("waits for your approval") == ["alice"]
        message = mail.outbox[0]
        assert message.subject == "Create order for genome waits for your approval"
        assert f"/my/orders/{order.uuid.hex}/" in message.body
        html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]
        assert mimetype == "text/html" and f"/my/orders/{order.uuid.hex}/" in str(html)
        assert "Bob" in message.body or "bob" in message.body

    def test_it_tells_the_provider_once_the_organisation_approved(self) -> None:
        order = self.place_order(self.bob, name="genome")
        self.deliver()
        mail.outbox.clear()
        self.decide(order_services.approve_order_by_consumer, order, self.alice, "marketplace_order_approved")
        assert order.state == "pending-provider"
        self.deliver()
        assert self.mailed("waits for your approval") == ["carol", "oscar"]
        assert f"/provider/orders/{order.uuid.hex}/" in mail.outbox[0].body
        # bob hears that his order moved; alice, who approved it, does not hear of her own act.
        assert self.mailed("Your Create order for genome") == ["bob"]
        assert self.mailed() == ["bob", "carol", "oscar"]

    def test_an_owners_own_order_goes_straight_to_the_provider(self) -> None:
        order = self.place_order(self.alice, name="own")
        assert order.state == "pending-provider"
        self.deliver()
        assert self.mailed() == ["carol", "oscar"]

    def test_whoever_just_acted_is_not_asked_to_decide(self) -> None:
        """carol orders for her own provider's project: she may approve it, but she is the one who acted."""
        internal = make_project(self.provider_p, "Internal")
        before = last_event()
        order = make_order(self.carol, internal, self.offering, name="internal")
        self.order_happened(order, "marketplace_order_created", actor=self.carol, since=before)
        assert order.state == "pending-provider"
        self.deliver()
        assert self.mailed() == ["oscar"]

    def test_a_decision_already_taken_tells_nobody_to_decide(self) -> None:
        """The order's state at dispatch time counts: approved before the dispatch ran, nobody is asked."""
        order = self.place_order(self.bob, name="quick")
        order_services.reject_order_by_consumer(order=order, user=self.alice)
        Notification.objects.all().delete()
        react(Event.objects.get(order_id=order.pk, event_type="marketplace_order_created"))
        assert not Notification.objects.filter(dedupe_key__startswith="order-waits").exists()

    def test_a_dispatch_that_runs_twice_tells_once(self) -> None:
        order = self.place_order(self.bob, name="twice")
        self.deliver()
        event = Event.objects.filter(order_id=order.pk).latest("pk")
        dispatch_event.enqueue(event.pk)
        self.deliver()
        assert self.mailed() == ["alice"]
        assert Notification.objects.filter(user=self.alice).count() == 1


class OrderChangedTests(NotificationTestCase):
    def test_the_creator_hears_of_each_change_made_by_others(self) -> None:
        order = self.place_order(self.bob, name="changes")
        self.decide(order_services.approve_order_by_consumer, order, self.alice, "marketplace_order_approved")
        self.deliver()
        mail.outbox.clear()
        self.decide(
            order_services.reject_order_by_provider,
            order,
            self.carol,
            "marketplace_order_rejected",
            comment="No",
        )
        self.deliver()
        assert self.mailed() == ["bob"]
        assert mail.outbox[0].subject == "Your Create order for changes is now Rejected"
        assert f"/my/orders/{order.uuid.hex}/" in mail.outbox[0].body

    def test_a_creator_who_acts_is_not_told_of_it(self) -> None:
        order = self.place_order(self.bob, name="withdrawn")
        self.deliver()
        mail.outbox.clear()
        self.decide(order_services.reject_order_by_consumer, order, self.bob, "marketplace_order_rejected")
        self.deliver()
        assert self.mailed() == []


class OrderReminderTests(NotificationTestCase):
    def test_it_reminds_the_deciders_after_three_days_once(self) -> None:
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            order = self.place_order(self.bob, name="slow")
            self.deliver()
        mail.outbox.clear()
        with time_machine.travel(start + datetime.timedelta(days=2, hours=23), tick=False):
            assert jobs.order_reminders() == {"notified": 0}
        with time_machine.travel(start + datetime.timedelta(days=3, hours=1), tick=False):
            assert jobs.order_reminders() == {"notified": 1}
            assert jobs.order_reminders() == {"notified": 0}
            self.deliver()
        assert self.mailed() == ["alice"]
        assert mail.outbox[0].subject == "Reminder: Create order for slow waits for your approval"
        assert "waited 3 days" in mail.outbox[0].body
        assert order.state == "pending-consumer"

    def test_the_provider_is_reminded_three_days_after_the_order_reached_it(self) -> None:
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            order = self.place_order(self.bob, name="slow")
        with time_machine.travel(start + datetime.timedelta(days=2), tick=False):
            self.decide(
                order_services.approve_order_by_consumer, order, self.alice, "marketplace_order_approved"
            )
            self.deliver()
        mail.outbox.clear()
        with time_machine.travel(start + datetime.timedelta(days=4), tick=False):
            assert jobs.order_reminders() == {"notified": 0}  # waited 2 days at the provider
        with time_machine.travel(start + datetime.timedelta(days=5, hours=1), tick=False):
            assert jobs.order_reminders() == {"notified": 2}
            self.deliver()
        assert self.mailed() == ["carol", "oscar"]
