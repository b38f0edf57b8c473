"""Allocations: usage past 80 % and 100 % of a limit, end dates, usage not reported by the 3rd."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from efp.events.recorder import Scopes, record
from efp.marketplace.billing_months import add_months, current_month, month_start
from efp.marketplace.models import Resource
from efp.marketplace.tests.factories import make_project, make_resource
from efp.notifications import jobs
from efp.notifications.models import Notification
from efp.notifications.reactions import tell_usage_thresholds
from efp.notifications.tests.base import NotificationTestCase


class UsageThresholdTests(NotificationTestCase):
    """The allocation's storage limit is 10 TB (a limit component: this month's usage counts)."""

    CONSUMERS = ["alice", "erin"]  # the owner and the project administrator; bob is a member
    PROVIDERS = ["carol", "oscar"]

    def test_it_tells_both_sides_at_80_and_at_100_percent_once_each(self) -> None:
        resource = self.allocation("climate")
        self.report(resource, storage=7)
        self.deliver()
        assert self.mailed() == []
        self.report(resource, storage=8)
        self.deliver()
        assert self.mailed("climate: Storage at 80 %") == sorted(self.CONSUMERS + self.PROVIDERS)
        consumer = next(m for m in mail.outbox if m.to == ["alice@example.org"])
        provider = next(m for m in mail.outbox if m.to == ["carol@example.org"])
        assert f"/my/resources/{resource.uuid.hex}/usage/" in consumer.body
        assert f"/provider/resources/{resource.uuid.hex}/usage/" in provider.body
        assert "8 of 10 TB" in consumer.body
        mail.outbox.clear()

        self.report(resource, storage=9)  # still past 80 %: nothing new this month
        self.deliver()
        assert self.mailed() == []
        self.report(resource, storage=12)
        self.deliver()
        assert self.mailed("climate: Storage at 120 %") == sorted(self.CONSUMERS + self.PROVIDERS)
        mail.outbox.clear()
        self.report(resource, storage=8.5)  # back under 100 %: it was already told more
        self.report(resource, storage=11)
        self.deliver()
        assert self.mailed() == []

    def test_a_jump_past_100_percent_tells_once_and_not_80_percent_after(self) -> None:
        resource = self.allocation("jump")
        self.report(resource, storage=12)
        self.deliver()
        assert self.mailed("jump: Storage at 120 %") == sorted(self.CONSUMERS + self.PROVIDERS)
        mail.outbox.clear()
        self.report(resource, storage=8.5)  # a correction back under 100 %: it was already told more
        self.deliver()
        assert self.mailed() == []

    def test_a_new_month_starts_over(self) -> None:
        resource = self.allocation("climate")
        self.report(resource, storage=9)
        self.deliver()
        mail.outbox.clear()
        with time_machine.travel(month_start(add_months(current_month(), 1)) + datetime.timedelta(hours=2)):
            self.report(resource, storage=9)
            self.deliver()
        assert self.mailed("at 90 %") == sorted(self.CONSUMERS + self.PROVIDERS)

    def test_one_users_row_is_not_the_total(self) -> None:
        """Per-user rows write events of the same type (with `username`); the month's total has its own."""
        resource = self.allocation("per-user")
        self.report(resource, storage=12)
        self.deliver()
        Notification.objects.all().delete()
        with transaction.atomic():
            one_user = record(
                "marketplace_component_usage_reported",
                "Usage of storage of user bob reported.",
                scopes=Scopes(resource_id=resource.pk, project_id=resource.project_id),
                context={
                    "component_type": "storage",
                    "billing_period": str(current_month()),
                    "username": "bob",
                },
            )
        assert tell_usage_thresholds(one_user) == []

    def test_usage_components_without_a_limit_tell_nobody(self) -> None:
        resource = self.allocation("climate")
        self.report(resource, cpu=1_000_000)
        self.deliver()
        assert self.mailed() == []


class EndDateTests(NotificationTestCase):
    def test_it_tells_both_sides_30_7_and_1_days_before_and_when_it_ended_once_each(self) -> None:
        resource = self.allocation("ending")
        end = timezone.localdate() + datetime.timedelta(days=40)
        Resource.objects.filter(pk=resource.pk).update(end_date=end)  # the end date a provider set
        everyone = ["alice", "carol", "erin", "oscar"]
        expected = {41: [], 30: everyone, 29: [], 7: everyone, 6: [], 1: everyone, 0: everyone, -1: []}
        for days_before, people in expected.items():
            day = end - datetime.timedelta(days=days_before)
            with time_machine.travel(datetime.datetime.combine(day, datetime.time(6), tzinfo=datetime.UTC)):
                jobs.end_dates()
                jobs.end_dates()  # a second run in the same slot tells nobody again
                self.deliver()
            assert self.mailed() == people, (days_before, self.mailed())
            if people:
                subject = "ending has ended" if days_before == 0 else f"ending ends in {days_before} day"
                assert subject in mail.outbox[0].subject, mail.outbox[0].subject
            mail.outbox.clear()

    def test_a_late_run_still_gives_the_nearest_notice(self) -> None:
        resource = self.allocation("late")
        Resource.objects.filter(pk=resource.pk).update(
            end_date=timezone.localdate() + datetime.timedelta(days=5)
        )
        jobs.end_dates()
        self.deliver()
        assert mail.outbox and all("late ends in 5 days" in m.subject for m in mail.outbox)
        assert Notification.objects.filter(dedupe_key__endswith=":in-7").count() == 4


class UsageNotReportedTests(NotificationTestCase):
    def test_from_the_3rd_the_provider_hears_once_which_allocations_lack_last_months_usage(self) -> None:
        this_month = current_month()
        last_month = add_months(this_month, -1)
        with time_machine.travel(month_start(last_month) + datetime.timedelta(days=2)):
            silent = self.allocation("silent")
            reported = self.allocation("reported")
            self.report(reported, cpu=10)
            other = make_project(self.org_a, "Project A2")
            quiet = make_resource(self.alice, self.carol, other, self.offering, name="quiet")
            self.deliver()
            mail.outbox.clear()
        assert silent.state == quiet.state == "OK"
        second = month_start(this_month) + datetime.timedelta(days=1, hours=8)
        with time_machine.travel(second):
            assert jobs.usage_not_reported()["notified"] == 0  # due by the 3rd
        with time_machine.travel(second + datetime.timedelta(days=1)):
            assert jobs.usage_not_reported() == {"notified": 2, "offerings": 1}
            assert jobs.usage_not_reported() == {"notified": 0, "offerings": 1}
            self.deliver()
        assert self.mailed() == ["carol", "oscar"]
        message = mail.outbox[0]
        assert message.subject == f"Offering O: usage for {last_month:%B %Y} not reported for 2 allocations"
        assert "- quiet\n- silent" in message.body and "reported\n" not in message.body
        assert f"?offering={self.offering.uuid.hex}" in message.body


class RoleExpiryTests(NotificationTestCase):
    def test_the_holder_hears_7_days_before_a_role_ends_once(self) -> None:
        from efp.structure.roles import Role
        from efp.structure.services import add_user_role

        ends = timezone.now() + datetime.timedelta(days=10)
        add_user_role(
            scope=self.project_a1,
            user=self.dave,
            role=Role.PROJECT_MEMBER,
            actor=self.alice,
            expiration_time=ends,
        )
        assert jobs.role_expiry() == {"notified": 0}
        with time_machine.travel(ends - datetime.timedelta(days=6)):
            assert jobs.role_expiry() == {"notified": 1}
            assert jobs.role_expiry() == {"notified": 0}
            self.deliver()
        assert self.mailed() == ["dave"]
        assert "Project member in project Project A1 ends on" in mail.outbox[0].subject
        assert f"/projects/{self.project_a1.uuid.hex}/" in mail.outbox[0].body


class HookDeactivatedTests(NotificationTestCase):
    def test_the_hooks_author_is_told(self) -> None:
        with transaction.atomic():
            record(
                "webhook_deactivated",
                "Web hook to https://example.org/hook was deactivated after failing for 3 days.",
                scopes=Scopes(customer_id=self.provider_p.pk, user_id=self.carol.pk),
                context={"destination_url": "https://example.org/hook"},
            )
        self.deliver()
        assert self.mailed() == ["carol"]
        assert mail.outbox[0].subject == "Your web hook to https://example.org/hook was switched off"
