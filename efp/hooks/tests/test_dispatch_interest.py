"""An event no dispatcher acts on gets no dispatch task (its row is written all the same): a user's usage
row when no hook lists its type. Once carol's hook lists the type, the next such row reaches her hook;
one made while the event was being written does not get it (a hook receives what is written after it)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from efp.events.models import Event
from efp.events.recorder import acted_on
from efp.events.tests.running import run_tasks
from efp.hooks import services
from efp.hooks.models import EmailDelivery, EmailHook, WebHook
from efp.marketplace.models import ComponentUsage
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.user_usage import set_user_usages
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

USAGE = "marketplace_component_usage_reported"


def dispatch_tasks() -> int:
    return DBTaskResult.objects.filter(task_path__startswith="efp.events.tasks.dispatch_event").count()


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
class DispatchInterestTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.resource = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="genome")
        run_tasks()

    def report(self, amount: int) -> None:
        """carol's site agent: the month's total of cpu, then bob's row of it."""
        written = usage_services.set_usage(
            user=self.carol,
            resource=self.resource,
            usages=[usage_services.UsageItem("cpu", Decimal(amount))],
        )
        set_user_usages(
            user=self.carol,
            component_usage=ComponentUsage.objects.get(pk=written[0].pk),
            items=[usage_services.UserUsageItem("bob", Decimal(amount))],
        )

    def test_a_users_usage_row_no_hook_lists_gets_no_task_but_its_event(self) -> None:
        before, tasks = Event.objects.count(), dispatch_tasks()
        self.report(5)
        rows = Event.objects.filter(event_type=USAGE).order_by("pk")
        assert Event.objects.count() == before + 2
        assert [bool(e.context.get("username")) for e in rows] == [False, True]
        assert dispatch_tasks() == tasks + 1  # the total: forecasts and limit notifications act on it

    def test_a_hook_listing_the_type_receives_every_row_written_after_it(self) -> None:
        hook = services.create_email_hook(user=self.carol, email="carol@example.org", event_types=[USAGE])
        self.report(6)
        assert run_tasks() >= 2
        told = EmailDelivery.objects.filter(hook=hook).select_related("event")
        assert sorted(d.event.context.get("username", "") for d in told) == ["", "bob"]

    def test_an_inactive_hook_still_counts_it_may_be_reactivated_before_the_dispatch(self) -> None:
        services.create_web_hook(
            user=self.carol, destination_url="http://127.0.0.1:9/", event_types=[USAGE], is_active=False
        )
        assert acted_on([(USAGE, {"username": "bob"})]) == [True]
        assert acted_on([("webhook_test", {}), ("marketplace_offering_updated", {})]) == [False, False]

    def test_a_hook_made_while_an_event_is_written_is_given_the_events_after_its_commit(self) -> None:
        with self.captureOnCommitCallbacks(execute=True):
            hook = services.create_web_hook(
                user=self.carol, destination_url="http://127.0.0.1:9/", event_types=[USAGE]
            )
            made = WebHook.objects.get(pk=hook.pk).created
        assert WebHook.objects.get(pk=hook.pk).created >= made
        with self.captureOnCommitCallbacks(execute=True), transaction.atomic():
            email = services.create_email_hook(user=self.carol, email="c@example.org", event_types=[USAGE])
        assert EmailHook.objects.get(pk=email.pk).created >= email.created
