"""An event is written with the change that causes it, and its dispatch is queued in the same transaction."""

from __future__ import annotations

from django.db import transaction
from django.test import TestCase
from django_tasks_db.models import DBTaskResult

from efp.append_only import AppendOnlyError
from efp.events.models import Event
from efp.events.recorder import Scopes, of_types, on_event, record
from efp.events.tests.running import run_tasks


class RecordTests(TestCase):
    def test_an_event_and_its_dispatch_are_kept_together_or_not_at_all(self) -> None:
        with self.assertRaises(ZeroDivisionError), transaction.atomic():
            record(
                "marketplace_order_created", "Marketplace order has been created.", scopes=Scopes(order_id=7)
            )
            1 / 0  # noqa: B018 - the change that caused it fails after the event was written
        assert Event.objects.count() == 0
        assert DBTaskResult.objects.count() == 0

        with transaction.atomic():
            event = record("role_granted", "User bob got role owner.", scopes=Scopes(customer_id=3))
        assert DBTaskResult.objects.get().args_kwargs == {"args": [event.pk], "kwargs": {}}

    def test_the_worker_runs_every_registered_dispatcher(self) -> None:
        seen: list[str] = []
        on_event(
            "test-recorder",
            lambda event: seen.append(event.event_type),
            acts_on=of_types({"marketplace_order_approved"}),
        )
        with transaction.atomic():
            record("marketplace_order_approved", "Marketplace order has been approved.", scopes=Scopes())
        assert run_tasks() == 1
        assert seen == ["marketplace_order_approved"]
        assert DBTaskResult.objects.get().status == "SUCCESSFUL"

    def test_an_unknown_type_or_a_write_outside_a_transaction_is_a_programming_error(self) -> None:
        with self.assertRaises(ValueError), transaction.atomic():
            record("something_happened", "?", scopes=Scopes())

    def test_events_are_history(self) -> None:
        with transaction.atomic():
            event = record("role_revoked", "User bob lost role owner.", scopes=Scopes(customer_id=3))
        with self.assertRaises(AppendOnlyError):
            Event.objects.filter(pk=event.pk).update(message="rewritten")
        with self.assertRaises(AppendOnlyError):
            event.delete()
