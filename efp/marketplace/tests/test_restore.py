"""Restoring a terminated allocation (Waldur's `restore/` and its `Restore` order, docs/compatibility.md
"Restore").

alice owns consumer organisation A (project A1); carol owns provider P, which sells the site-agent offering
O (with `can_restore_resource`); oscar manages O; bob is a member of A1; dave is an outsider. `alloc` was
an allocation of A1 on O that carol terminated; carol brings it back.
"""

from __future__ import annotations

from typing import Any

from efp.marketplace.models import Offering, Order, OrderEvent, Resource, ResourceEvent, ResourcePlanPeriod
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource, terminate_now

RES = "/api/marketplace-resources"
PRES = "/api/marketplace-provider-resources"
ORD = "/api/marketplace-orders"


class RestoreTestCase(MarketplaceTestCase):
    def setUp(self) -> None:
        super().setUp()
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        self.offering.refresh_from_db()
        self.alloc = terminate_now(
            make_resource(self.alice, self.carol, self.project_a1, self.offering), self.carol
        )

    def restore(self, user: Any, resource: Resource | None = None, base: str = PRES) -> Any:
        resource = resource or self.alloc
        return self.as_user(user).post(f"{base}/{resource.uuid.hex}/restore/", {}, format="json")

    def state_of(self, obj: Order | Resource) -> str:
        return type(obj).objects.get(pk=obj.pk).state


class RestoreFlowTests(RestoreTestCase):
    def test_carol_restores_alloc_and_it_is_ok_again_after_the_usual_order_flow(self) -> None:
        response = self.restore(self.carol)
        assert response.status_code == 200
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert (order.type, order.created_by) == ("Restore", self.carol)
        assert (order.plan_id, order.limits) == (self.alloc.plan_id, self.alloc.limits)
        assert order.attributes["name"] == self.alloc.name
        # carol holds no role in A1: alice approves for the consumer, then carol (or her agent) provides.
        assert (order.state, self.state_of(self.alloc)) == ("pending-consumer", "Creating")
        assert (
            self.as_user(self.alice).post(f"{ORD}/{order.uuid.hex}/approve_by_consumer/").status_code == 200
        )
        assert self.state_of(order) == "pending-provider"
        assert (
            self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/set_state_executing/").status_code == 200
        )
        assert (self.state_of(order), self.state_of(self.alloc)) == ("executing", "Creating")
        assert self.as_user(self.oscar).post(f"{ORD}/{order.uuid.hex}/set_state_done/").status_code == 200
        assert (self.state_of(order), self.state_of(self.alloc)) == ("done", "OK")
        # A new plan period opens; the one the termination closed stays closed.
        periods = ResourcePlanPeriod.objects.filter(resource=self.alloc).order_by("start")
        assert [period.end is None for period in periods] == [False, True]
        moves = list(ResourceEvent.objects.filter(resource=self.alloc).values_list("old_state", "new_state"))
        assert moves[-2:] == [("Terminated", "Creating"), ("Creating", "OK")]

    def test_staff_restores_through_the_consumer_endpoint_and_the_order_is_approved_at_once(self) -> None:
        response = self.restore(self.staff, base=RES)
        assert response.status_code == 200
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert (order.state, self.state_of(self.alloc)) == ("pending-provider", "Creating")

    def test_the_restore_order_lists_with_its_type_for_the_provider(self) -> None:
        order_uuid = self.restore(self.carol).json()["order_uuid"]
        listed = self.as_user(self.carol).get(f"{ORD}/", {"type": "Restore"}).json()
        assert [(row["uuid"], row["type"]) for row in listed] == [(order_uuid, "Restore")]


class RestoreRefusalTests(RestoreTestCase):
    def test_only_the_providers_owners_and_staff_may_restore(self) -> None:
        assert self.restore(self.oscar).status_code == 403  # an offering manager: no RESOURCE.SET_STATE
        assert self.restore(self.alice, base=RES).status_code == 403  # the consumer's owner
        assert self.restore(self.bob, base=RES).status_code == 403
        assert self.restore(self.alice).status_code == 404  # consumers do not see provider resources
        assert self.restore(self.dave).status_code == 404
        assert self.restore(None).status_code == 401
        assert self.state_of(self.alloc) == "Terminated"
        assert not Order.objects.filter(type="Restore").exists()

    def test_a_live_resource_cannot_be_restored(self) -> None:
        live = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="live")
        response = self.restore(self.carol, live)
        assert response.status_code == 409
        assert response.json() == {"detail": "Valid states for operation: Terminated."}

    def test_an_offering_without_can_restore_resource_refuses_with_waldurs_words(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={})
        response = self.restore(self.carol)
        assert response.status_code == 400
        assert response.json() == ["Restoring resource is not supported for this offering type."]
        assert self.state_of(self.alloc) == "Terminated"

    def test_a_refused_order_leaves_the_resource_terminated(self) -> None:
        self.project_a1.customer.__class__.objects.filter(pk=self.project_a1.customer_id).update(blocked=True)
        response = self.restore(self.carol)
        assert response.status_code == 400
        assert self.state_of(self.alloc) == "Terminated"
        assert not ResourceEvent.objects.filter(resource=self.alloc, old_state="Terminated").exists()


class RestoreOutcomeTests(RestoreTestCase):
    def placed(self) -> Order:
        order = Order.objects.get(uuid=self.restore(self.carol).json()["order_uuid"])
        return order_services.approve_order_by_consumer(order=order, user=self.alice)

    def test_a_rejected_restore_leaves_alloc_terminated(self) -> None:
        order = self.placed()
        body = {"provider_rejection_comment": "the project ended"}
        assert (
            self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/reject_by_provider/", body).status_code
            == 200
        )
        assert (self.state_of(order), self.state_of(self.alloc)) == ("rejected", "Terminated")

    def test_a_withdrawn_restore_leaves_alloc_terminated(self) -> None:
        order = self.placed()
        assert self.as_user(self.alice).delete(f"{ORD}/{order.uuid.hex}/").status_code == 204
        assert self.state_of(self.alloc) == "Terminated"

    def test_a_failed_restore_leaves_alloc_erred_and_carol_sets_it_executing_again(self) -> None:
        order = order_services.set_order_executing(order=self.placed(), user=self.carol)
        body = {"error_message": "sacctmgr failed"}
        assert (
            self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/set_state_erred/", body).status_code == 200
        )
        assert (self.state_of(order), self.state_of(self.alloc)) == ("erred", "Erred")
        # Waldur's `retry` resets Create, Update and Terminate orders only.
        response = self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/retry/")
        assert (response.status_code, response.json()) == (
            400,
            ["Retry is not supported for Restore orders."],
        )
        assert (
            self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/set_state_executing/").status_code == 200
        )
        assert self.state_of(self.alloc) == "Creating"
        assert self.as_user(self.carol).post(f"{ORD}/{order.uuid.hex}/set_state_done/").status_code == 200
        assert (self.state_of(order), self.state_of(self.alloc)) == ("done", "OK")

    def test_the_events_say_restored(self) -> None:
        order = order_services.set_order_executing(order=self.placed(), user=self.carol)
        order_services.complete_order(order=order, user=self.carol)
        from efp.events.models import Event

        messages = list(
            Event.objects.filter(event_type__startswith="marketplace_resource_create").values_list(
                "message", flat=True
            )
        )
        assert "Resource alloc restoration has been requested." in messages
        assert "Resource alloc has been restored." in messages
        assert OrderEvent.objects.filter(order=order, new_state="done").exists()

    def test_a_failed_creation_whose_resource_the_old_rule_terminated_is_restored(self) -> None:
        order = order_services.approve_order_by_provider(
            order=order_services.create_order(
                user=self.alice,
                project=self.project_a1,
                offering=self.offering,
                plan=self.alloc.plan,
                attributes={"name": "stranded"},
                limits={"storage": 5},
            ),
            user=self.carol,
        )
        order = order_services.fail_order(order=order, user=self.carol, error_message="boom")
        stranded = Resource.objects.get(pk=order.resource_id)
        Resource.objects.filter(pk=stranded.pk).update(state="Terminated")  # as failures used to end
        assert self.restore(self.carol, stranded).status_code == 200
        assert self.state_of(stranded) == "Creating"
