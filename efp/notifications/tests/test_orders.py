"""Orders: an order waits for you (and a reminder after 3 days); your order changed state."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from efp.accounts.models import User
from efp.events.models import Event
from efp.events.tasks import dispatch_event
from efp.marketplace.models import Order, OrderEvent
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order, make_project
from efp.notifications import jobs
from efp.notifications.models import Notification
from efp.notifications.reactions import order_waits_key, react, tell_order_waits
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


class _RolledBack(Exception):
    pass


def reminders_by_the_former_rule() -> dict[str, Any]:
    """The job as it was before issue 18: every waiting order, the entry into its state read per order."""
    cutoff = timezone.now() - jobs.REMINDER_AFTER
    told = 0
    orders = Order.objects.filter(state__in=jobs.WAITING).select_related(
        "project__customer", "offering__customer", "created_by", "resource"
    )
    for order in orders:
        entered = (
            OrderEvent.objects.filter(order_id=order.pk, new_state=order.state).order_by("-created").first()
        )
        since = entered.created if entered is not None else order.created
        if since <= cutoff:
            told += len(tell_order_waits(order, reminder=True))
    return {"notified": told}


def told_by(job: Callable[[], dict[str, Any]]) -> set[tuple[str, str]]:
    """Who a run of `job` would tell what (user, dedupe key), its writes rolled back."""
    before = set(Notification.objects.values_list("pk", flat=True))
    told: set[tuple[str, str]] = set()
    try:
        with transaction.atomic():
            job()
            new = Notification.objects.exclude(pk__in=before).select_related("user")
            told = {(row.user.username, row.dedupe_key) for row in new}
            raise _RolledBack
    except _RolledBack:
        pass
    return told


class OrderReminderRuleTests(NotificationTestCase):
    """The job reads in SQL only the orders due a reminder; it tells whom the former rule told."""

    def test_it_tells_whom_the_former_rule_told_at_every_hour_of_a_week(self) -> None:
        start = timezone.now().replace(minute=0, second=0, microsecond=0)
        orders: dict[str, Order] = {}

        def place(user: User, name: str) -> None:
            orders[name] = self.place_order(user, name=name)

        def decide(verb: Callable[..., Any], name: str, user: User, event_type: str) -> None:
            self.decide(verb, orders[name], user, event_type)

        services = order_services
        steps: dict[int, Callable[[], None]] = {
            0: lambda: place(self.bob, "waits-at-home"),
            2: lambda: place(self.bob, "moves-on"),
            26: lambda: place(self.alice, "owners-own"),
            30: lambda: place(self.bob, "rejected"),
            50: lambda: decide(
                services.approve_order_by_consumer, "moves-on", self.alice, "marketplace_order_approved"
            ),
            60: lambda: decide(
                services.reject_order_by_consumer, "rejected", self.alice, "marketplace_order_rejected"
            ),
            100: lambda: decide(
                services.approve_order_by_provider, "owners-own", self.carol, "marketplace_order_approved"
            ),
            110: lambda: place(self.bob, "late"),
        }
        reminded: list[tuple[int, set[tuple[str, str]]]] = []
        with patch.object(jobs, "REMINDER_PAGE", 2):
            for hour in range(0, 190, 2):
                with time_machine.travel(start + datetime.timedelta(hours=hour, minutes=30), tick=False):
                    if hour in steps:
                        steps[hour]()
                        self.deliver()
                    expected = told_by(reminders_by_the_former_rule)
                    assert told_by(jobs.order_reminders) == expected, f"hour {hour}"
                    assert jobs.order_reminders() == {"notified": len(expected)}
                    if expected:
                        reminded.append((hour, expected))

        def key(name: str, state: str) -> str:
            return order_waits_key(orders[name].uuid.hex, state, reminder=True)

        provider, consumer = "pending-provider", "pending-consumer"
        assert reminded == [
            (72, {("alice", key("waits-at-home", consumer))}),
            (98, {("carol", key("owners-own", provider)), ("oscar", key("owners-own", provider))}),
            (122, {("carol", key("moves-on", provider)), ("oscar", key("moves-on", provider))}),
            (182, {("alice", key("late", consumer))}),
        ]
