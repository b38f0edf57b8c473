"""Every verb writes Waldur's event for what it did, with its scopes and context, in its own transaction.

alice (owner of A) and bob (member of A1) order; carol (owner of provider P) and oscar (manager of O)
decide and process; staff report usage for past months. Each test reads the events the verb wrote.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from efp.errors import Forbidden, InvalidInput
from efp.events.catalogue import BY_NAME
from efp.events.models import Event
from efp.events.recorder import acted_on
from efp.marketplace import event_types
from efp.marketplace.models import ComponentUsage, Order, OrderEvent
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.offerings import grant_offering_manager, revoke_offering_manager
from efp.marketplace.states import OrderState, ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order, make_resource
from efp.structure.roles import Role
from efp.structure.services import add_user_role, delete_user_role, update_user_role


class EventsTestCase(MarketplaceTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.mark = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def new_events(self) -> list[Event]:
        events = list(Event.objects.filter(pk__gt=self.mark).order_by("pk"))
        self.mark = events[-1].pk if events else self.mark
        return events

    def types(self) -> list[str]:
        return [event.event_type for event in self.new_events()]

    @staticmethod
    def scopes(event: Event) -> tuple[Any, ...]:
        return (event.customer_id, event.project_id, event.offering_id, event.resource_id, event.order_id)


class OrderEventTests(EventsTestCase):
    def test_it_writes_created_and_requested_with_waldurs_keys(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering, name="alloc-1")
        created, requested = self.new_events()
        assert order.state == OrderState.PENDING_CONSUMER
        assert (created.event_type, created.message) == (
            "marketplace_order_created",
            "Marketplace order has been created.",
        )
        resource = order.resource
        assert resource is not None
        assert self.scopes(created) == (
            self.org_a.pk,
            self.project_a1.pk,
            self.offering.pk,
            resource.pk,
            order.pk,
        )
        assert created.actor == self.bob
        assert created.context == {
            "customer_uuid": self.org_a.uuid.hex,
            "customer_name": "Organisation A",
            "project_uuid": self.project_a1.uuid.hex,
            "project_name": "Project A1",
            "offering_uuid": self.offering.uuid.hex,
            "offering_name": "Offering O",
            "provider_uuid": self.provider_p.uuid.hex,
            "provider_name": "Provider P",
            "resource_uuid": resource.uuid.hex,
            "resource_name": "alloc-1",
            "order_uuid": order.uuid.hex,
            "order_type": "Create",
            "order_state": "pending-consumer",
            "user_uuid": self.bob.uuid.hex,
            "user_username": "bob",
            "user_full_name": self.bob.get_full_name(),
        }
        assert (requested.event_type, requested.message) == (
            "marketplace_resource_create_requested",
            "Resource alloc-1 creation has been requested.",
        )
        assert self.scopes(requested) == (
            self.org_a.pk,
            self.project_a1.pk,
            self.offering.pk,
            resource.pk,
            None,
        )

    def test_each_step_of_a_create_order_writes_waldurs_type(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering)
        self.new_events()
        order = order_services.approve_order_by_consumer(order=order, user=self.alice)
        [routed] = self.new_events()
        assert (routed.event_type, routed.context["old_state"], routed.context["order_state"]) == (
            "marketplace_order_updated",
            "pending-consumer",
            "pending-provider",
        )
        assert routed.message == "Marketplace order has moved from pending-consumer to pending-provider."
        order = order_services.approve_order_by_provider(order=order, user=self.oscar)
        [approved] = self.new_events()
        assert (approved.event_type, approved.actor, approved.context["user_username"]) == (
            "marketplace_order_approved",
            self.oscar,
            "oscar",
        )
        order_services.complete_order(order=order, user=self.carol)
        assert self.types() == ["marketplace_order_completed", "marketplace_resource_create_succeeded"]

    def test_an_owners_order_on_a_basic_offering_runs_through_at_once(self) -> None:
        order = make_order(self.alice, self.project_a1, self.basic)
        assert self.types() == [
            "marketplace_order_created",
            "marketplace_resource_create_requested",
            "marketplace_order_updated",
        ]
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert self.types() == [
            "marketplace_order_approved",
            "marketplace_order_completed",
            "marketplace_resource_create_succeeded",
        ]

    def test_rejecting_canceling_failing_and_retrying(self) -> None:
        rejected = make_order(self.alice, self.project_a1, self.offering)
        self.new_events()
        order_services.reject_order_by_provider(order=rejected, user=self.carol, comment="no budget")
        [event] = self.new_events()
        assert (event.event_type, event.context["reason"]) == ("marketplace_order_rejected", "no budget")

        canceled = make_order(self.alice, self.project_a1, self.basic, name="cancel-me")
        self.new_events()
        order_services.cancel_order(order=canceled, user=self.alice)
        events = self.new_events()
        assert [e.event_type for e in events] == [
            "marketplace_order_terminated",
            "marketplace_resource_create_canceled",
        ]
        assert events[1].message == "Resource cancel-me creation has been canceled."

        failed = make_order(self.alice, self.project_a1, self.offering)
        failed = order_services.approve_order_by_provider(order=failed, user=self.carol)
        assert failed.resource is not None
        resource_services.set_resource_backend_id(
            resource=failed.resource, user=self.carol, backend_id="acc-1"
        )
        self.new_events()
        failed = order_services.fail_order(order=failed, user=self.carol, error_message="disk full")
        assert self.types() == ["marketplace_order_failed", "marketplace_resource_create_failed"]
        order_services.retry_order(order=failed, user=self.carol)
        assert self.types() == ["marketplace_order_updated"]  # a retry is not an approval

    def test_a_deleted_waiting_order_cancels_its_resources_creation(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering)
        self.new_events()
        order_services.delete_order(order=order, user=self.bob)
        [event] = self.new_events()
        assert (event.event_type, event.resource_id, event.order_id) == (
            "marketplace_resource_create_canceled",
            order.resource_id,
            None,
        )


class ResourceOrderEventTests(EventsTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc-r")

    def test_a_limits_update_says_update_requested_then_update_limits_succeeded(self) -> None:
        order = order_services.update_resource_limits(
            resource=self.resource, user=self.alice, limits={"storage": 20}
        )
        assert self.types() == [
            "marketplace_order_created",
            "marketplace_resource_update_requested",
            "marketplace_order_updated",  # approved by the consumer: to the provider
        ]
        order = order_services.approve_order_by_provider(order=order, user=self.carol)
        self.new_events()
        order_services.complete_order(order=order, user=self.carol)
        completed, succeeded = self.new_events()
        assert completed.event_type == "marketplace_order_completed"
        assert (succeeded.event_type, succeeded.message) == (
            "marketplace_resource_update_limits_succeeded",
            "Limits of resource alloc-r have been updated.",
        )
        assert (succeeded.context["limits"], succeeded.context["old_limits"]) == (
            {"storage": 20},
            {"storage": 10},
        )

    def test_termination_says_terminate_requested_then_succeeded(self) -> None:
        order = order_services.terminate_resource(resource=self.resource, user=self.alice)
        assert self.types()[:2] == ["marketplace_order_created", "marketplace_resource_terminate_requested"]
        order = order_services.approve_order_by_provider(order=order, user=self.carol)
        self.new_events()
        order_services.complete_order(order=order, user=self.carol)
        assert self.types() == ["marketplace_order_completed", "marketplace_resource_terminate_succeeded"]


class ResourceEventTests(EventsTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc-r")

    def test_provider_moves_of_the_resource(self) -> None:
        resource_services.set_resource_erred(
            resource=self.resource, user=self.carol, error_message="node down"
        )
        [erred] = self.new_events()
        assert (erred.event_type, erred.message) == (
            "marketplace_resource_erred_on_backend",
            "Resource alloc-r has failed on the backend.",
        )
        assert self.scopes(erred) == (
            self.org_a.pk,
            self.project_a1.pk,
            self.offering.pk,
            self.resource.pk,
            None,
        )
        assert (erred.context["old_state"], erred.context["new_state"]) == ("OK", "Erred")
        resource_services.set_resource_erred(resource=self.resource, user=self.carol, error_message="again")
        assert self.types() == []  # no move, no event
        resource_services.set_resource_ok(resource=self.resource, user=self.carol)
        assert self.types() == ["marketplace_resource_state_changed"]

    def test_limits_set_by_the_agent(self) -> None:
        resource_services.set_resource_limits(resource=self.resource, user=self.carol, limits={"storage": 30})
        [event] = self.new_events()
        assert event.event_type == "marketplace_resource_update_limits_succeeded"
        assert (event.context["limits"], event.context["old_limits"]) == ({"storage": 30}, {"storage": 10})
        resource_services.set_resource_limits(resource=self.resource, user=self.carol, limits={"storage": 30})
        assert self.types() == []  # the same limits again change nothing

    def test_end_date_by_provider(self) -> None:
        end = timezone.localdate() + datetime.timedelta(days=30)
        resource_services.set_resource_end_date_by_provider(
            resource=self.resource, user=self.carol, end_date=end
        )
        [event] = self.new_events()
        assert event.event_type == "marketplace_resource_update_end_date_succeeded"
        assert (event.context["end_date"], event.context["old_end_date"]) == (end.isoformat(), None)
        assert event.message == f"End date of marketplace resource alloc-r has been updated. End date: {end}."


class UsageEventTests(EventsTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc-u")

    def report(self, **amounts: int) -> list[ComponentUsage]:
        items = [usage_services.UsageItem(kind, Decimal(value)) for kind, value in amounts.items()]
        return usage_services.set_usage(user=self.oscar, resource=self.resource, usages=items)

    def test_one_event_per_component_value_with_old_and_new(self) -> None:
        self.report(cpu=5, gpu=1)
        first = self.new_events()
        assert [
            (e.event_type, e.context["component_type"], e.context["usage"], e.context["old_usage"])
            for e in first
        ] == [
            ("marketplace_component_usage_reported", "cpu", "5.00", None),
            ("marketplace_component_usage_reported", "gpu", "1.00", None),
        ]
        month = timezone.localdate().replace(day=1)
        assert first[0].context["billing_period"] == month.isoformat()
        assert self.scopes(first[0]) == (
            self.org_a.pk,
            self.project_a1.pk,
            self.offering.pk,
            self.resource.pk,
            None,
        )
        assert first[0].context["customer_uuid"] == self.org_a.uuid.hex
        assert first[0].context["provider_name"] == "Provider P"
        assert first[0].context["resource_name"] == "alloc-u"
        assert first[0].actor == self.oscar
        self.report(cpu=7)
        [again] = self.new_events()
        assert (again.context["usage"], again.context["old_usage"]) == ("7.00", "5.00")
        assert again.message == f"Usage of cpu for {month:%Y-%m} of resource alloc-u has been reported."

    def test_per_user_values_name_the_user(self) -> None:
        [usage] = self.report(cpu=0)
        self.new_events()
        user_usage_services.set_user_usages(
            user=self.oscar,
            component_usage=usage,
            items=[
                usage_services.UserUsageItem("bob", Decimal(3)),
                usage_services.UserUsageItem("erin", Decimal(4)),
            ],
        )
        events = self.new_events()
        assert [(e.context.get("username"), e.context["usage"], e.context["old_usage"]) for e in events] == [
            ("bob", "3.00", None),
            ("erin", "4.00", None),
            (None, "7.00", "0.00"),  # the month's total followed the users' sum
        ]
        assert events[0].message.startswith("Usage of cpu of user bob for ")
        user_usage_services.set_user_usages(
            user=self.oscar, component_usage=usage, items=[usage_services.UserUsageItem("bob", Decimal(3))]
        )
        assert self.types() == []  # an unchanged value writes nothing


class RoleEventTests(EventsTestCase):
    def test_granting_updating_and_revoking_a_project_role(self) -> None:
        until = timezone.now() + datetime.timedelta(days=10)
        add_user_role(scope=self.project_a1, user=self.dave, role=Role.PROJECT_MEMBER, actor=self.alice)
        [granted] = self.new_events()
        assert (granted.event_type, granted.message) == (
            "role_granted",
            "User dave has gained role of Project member in Project A1.",
        )
        assert (granted.customer_id, granted.project_id, granted.user_id) == (
            self.org_a.pk,
            self.project_a1.pk,
            self.dave.pk,
        )
        assert granted.context["affected_user_username"] == "dave"
        assert granted.context["role"] == "PROJECT.MEMBER"
        assert granted.context["user_username"] == "alice"
        update_user_role(
            scope=self.project_a1,
            user=self.dave,
            role=Role.PROJECT_MEMBER,
            actor=self.alice,
            expiration_time=until,
        )
        [updated] = self.new_events()
        assert (updated.event_type, updated.context["expiration_time"]) == ("role_updated", until.isoformat())
        delete_user_role(scope=self.project_a1, user=self.dave, role=Role.PROJECT_MEMBER, actor=self.alice)
        assert self.types() == ["role_revoked"]

    def test_an_organisation_role(self) -> None:
        add_user_role(scope=self.org_a, user=self.dave, role=Role.CUSTOMER_READER, actor=self.alice)
        [event] = self.new_events()
        assert (event.event_type, event.customer_id, event.project_id, event.user_id) == (
            "role_granted",
            self.org_a.pk,
            None,
            self.dave.pk,
        )

    def test_offering_manager_grant_and_revocation(self) -> None:
        other = make_offering(self.provider_p, name="Offering X")
        self.new_events()
        grant_offering_manager(offering=other, user=self.dave, actor=self.staff)
        granted = self.new_events()
        assert [(e.event_type, e.context["role"], e.offering_id) for e in granted] == [
            ("role_granted", "OFFERING.MANAGER", other.pk),
            ("role_granted", "CUSTOMER.MANAGER", None),
        ]
        revoke_offering_manager(offering=other, user=self.dave, actor=self.staff)
        assert self.types() == ["role_revoked", "role_revoked"]

    def test_catalogue_creation_writes_offering_component_and_plan_events(self) -> None:
        offering = make_offering(self.provider_p, name="Offering Y")
        events = self.new_events()
        assert [e.event_type for e in events] == [
            "marketplace_offering_created",
            *["marketplace_offering_component_created"] * 4,
            "marketplace_plan_created",
        ]
        assert {(e.customer_id, e.offering_id) for e in events} == {(self.provider_p.pk, offering.pk)}


class TransactionTests(EventsTestCase):
    def test_a_refused_verb_writes_no_event(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering)
        self.new_events()
        with self.assertRaises(Forbidden):
            order_services.approve_order_by_consumer(order=order, user=self.bob)
        with self.assertRaises(InvalidInput):
            usage_services.set_usage(
                user=self.carol, resource=order.resource, usages=[usage_services.UsageItem("cpu", Decimal(1))]
            )
        assert self.types() == []

    def test_a_verb_failing_after_its_move_leaves_neither_move_nor_event(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        self.new_events()
        tasks = DBTaskResult.objects.count()
        with (
            mock.patch.object(order_services, "_start_execution", side_effect=RuntimeError("crash")),
            self.assertRaises(RuntimeError),
        ):
            order_services.approve_order_by_provider(order=order, user=self.carol)
        assert Order.objects.get(pk=order.pk).state == OrderState.PENDING_PROVIDER
        assert not OrderEvent.objects.filter(order=order, new_state=OrderState.EXECUTING).exists()
        assert self.types() == []
        assert DBTaskResult.objects.count() == tasks

    def test_every_event_a_dispatcher_acts_on_queues_its_dispatch(self) -> None:
        tasks = DBTaskResult.objects.count()
        make_order(self.bob, self.project_a1, self.offering)
        events = self.new_events()
        acted = acted_on([(event.event_type, event.context) for event in events])
        # The order's creation (alice is told); no hook lists the other type, so it has no task.
        assert len(events) == 2 and acted.count(True) == 1
        assert DBTaskResult.objects.count() == tasks + 1

    def test_an_event_costs_two_inserts_and_no_read(self) -> None:
        """approve_by_provider with and without its event: the difference is the event and its task."""
        with_events, without = make_order(self.alice, self.project_a1, self.offering), None
        without = make_order(self.alice, self.project_a1, self.offering, name="other")
        orders = Order.objects.select_related("project__customer", "offering__customer", "resource")
        with_events, without = orders.get(pk=with_events.pk), orders.get(pk=without.pk)
        with CaptureQueriesContext(connection) as counted:
            order_services.approve_order_by_provider(order=with_events, user=self.carol)
        with (
            mock.patch("efp.marketplace.events.record"),
            CaptureQueriesContext(connection) as silent,
        ):
            order_services.approve_order_by_provider(order=without, user=self.carol)
        extra = [q["sql"] for q in counted.captured_queries[len(silent.captured_queries) :]]
        assert len(counted) - len(silent) == 2, extra
        writes = [q["sql"] for q in counted.captured_queries if "events_event" in q["sql"]]
        assert len(writes) == 1 and writes[0].startswith("INSERT")

    def test_every_type_written_is_in_the_catalogue(self) -> None:
        named = {
            *event_types.ORDER_MESSAGES,
            *(t for t, _ in event_types.RESOURCE_OUTCOMES.values()),
            *(t for t, _ in event_types.RESOURCE_ENTERS.values()),
            event_types.RESOURCE_OTHER_MOVE[0],
            *event_types.OTHER_MESSAGES,
        }
        assert named - set(BY_NAME) == set()
        assert ResourceState.ERRED in event_types.RESOURCE_ENTERS
