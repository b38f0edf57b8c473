"""The end-date job (`marketplace.terminate_ended`): an allocation past its end date by more than
`EFP_END_DATE_GRACE_DAYS` gets one Terminate order, placed by no person, and both sides hear it."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from efp.events.schedule import load_jobs
from efp.marketplace import jobs as marketplace_jobs
from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import renewals
from efp.marketplace.states import OrderState, OrderType
from efp.notifications import jobs
from efp.notifications.tests.base import NotificationTestCase

EVERYONE = ["alice", "carol", "erin", "oscar"]  # both sides of the allocation; bob is a member


def at(day: datetime.date) -> time_machine.travel:
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(3, 17), tzinfo=datetime.UTC))


class EndDateTerminationTests(NotificationTestCase):
    def ended(self, name: str, days_ago: int) -> Resource:
        resource = self.allocation(name)
        Resource.objects.filter(pk=resource.pk).update(
            end_date=timezone.localdate() - datetime.timedelta(days=days_ago)
        )
        resource.refresh_from_db()
        return resource

    def terminate_orders(self, resource: Resource) -> list[Order]:
        return list(Order.objects.filter(resource=resource, type=OrderType.TERMINATE))

    def test_it_waits_out_the_grace_period_then_places_one_terminate_order(self) -> None:
        resource = self.ended("old", days_ago=0)
        assert resource.end_date is not None
        with at(resource.end_date + datetime.timedelta(days=14)):
            assert marketplace_jobs.terminate_ended() == {"terminate_orders": 0}
        with at(resource.end_date + datetime.timedelta(days=15)):
            assert marketplace_jobs.terminate_ended() == {"terminate_orders": 1}
            assert marketplace_jobs.terminate_ended() == {"terminate_orders": 0}  # idempotent
            self.deliver()
        [order] = self.terminate_orders(resource)
        assert (order.created_by, order.state) == (None, OrderState.EXECUTING)  # the site agent finishes it
        assert order.attributes["ended_on"] == resource.end_date.isoformat()
        assert order.request_comment == renewals.ENDED_REASON
        resource.refresh_from_db()
        assert resource.state == "Terminating"
        assert self.mailed("old is being terminated") == EVERYONE

    @override_settings(EFP_END_DATE_GRACE_DAYS=3)
    def test_the_grace_period_is_a_setting_and_the_worker_runs_it_daily(self) -> None:
        job = load_jobs()["marketplace.terminate_ended"]
        assert (job.function, job.cron) == (marketplace_jobs.terminate_ended, "17 3 * * *")
        resource = self.ended("short", days_ago=4)
        assert marketplace_jobs.terminate_ended() == {"terminate_orders": 1}
        assert len(self.terminate_orders(resource)) == 1

    def test_it_never_places_a_second_one_after_a_failed_termination(self) -> None:
        resource = self.ended("stuck", days_ago=20)
        [order] = renewals.terminate_ended_resources(grace_days=14)
        order_services.fail_order(order=order, user=self.carol, error_message="backend down")
        resource.refresh_from_db()
        assert resource.state == "OK"
        assert renewals.terminate_ended_resources(grace_days=14) == []
        assert len(self.terminate_orders(resource)) == 1

    def test_a_waiting_extension_request_holds_the_termination(self) -> None:
        resource = self.ended("asked", days_ago=20)
        renewals.renew_resource(resource=resource, user=self.alice, extension_months=3, justification="Data")
        assert renewals.terminate_ended_resources(grace_days=14) == []

    def test_the_ended_notice_says_when_it_will_be_terminated(self) -> None:
        resource = self.ended("gone", days_ago=0)
        jobs.end_dates()
        self.deliver()
        assert resource.end_date is not None
        grace = resource.end_date + datetime.timedelta(days=14)
        assert mail.outbox and all(f"terminated after {grace:%-d %B %Y}" in m.body for m in mail.outbox)
