from __future__ import annotations

from decimal import Decimal
from typing import Any

from efp.marketplace.models import Order, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.states import OrderState, OrderType
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

BASE = "/api/marketplace-resources/"


class ConsumerResourceTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        cls.premium = offering_services.create_plan(
            offering=cls.offering, name="Premium", prices={"cpu": Decimal("0.05")}
        )

    def get(self, user: Any, path: str = "") -> Any:
        return self.as_user(user).get(f"{BASE}{path}")

    def post(self, user: Any, action: str, data: Any = None) -> Any:
        url = f"{BASE}{self.resource.uuid}/{action}/"
        return self.as_user(user).post(url, data or {}, format="json")

    def test_it_lists_resources_of_my_projects_and_organisations(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.staff):
            response = self.get(user)
            assert response["X-Result-Count"] == "1", user
            assert response.json()[0]["url"] == f"http://testserver{BASE}{self.resource.uuid.hex}/"
        for user in (self.carol, self.oscar, self.dave):
            assert self.get(user)["X-Result-Count"] == "0", user
            assert self.get(user, f"{self.resource.uuid.hex}/").status_code == 404

    def test_it_retrieves_with_the_creation_order(self) -> None:
        item = self.get(self.bob, f"{self.resource.uuid.hex}/").json()
        assert item["creation_order"]["state"] == "done"
        assert item["order_in_progress"] is None
        assert item["limit_usage"] == {"storage": None}

    def test_it_terminates_through_an_order(self) -> None:
        assert self.post(self.bob, "terminate").status_code == 403
        response = self.post(self.erin, "terminate")
        assert response.status_code == 200, response.content
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert (order.type, order.resource, order.created_by) == ("Terminate", self.resource, self.erin)
        assert self.post(None, "terminate").status_code == 401

    def test_it_requests_new_limits_through_an_update_order(self) -> None:
        assert self.post(self.bob, "update_limits", {"limits": {"storage": 20}}).status_code == 403
        response = self.post(self.alice, "update_limits", {"limits": {"storage": 20}})
        assert response.status_code == 200, response.content
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert order.type == OrderType.UPDATE
        assert order.limits == {"storage": 20}
        assert order.attributes["old_limits"] == {"storage": 10}
        assert order.state == OrderState.PENDING_PROVIDER
        self.resource.refresh_from_db()
        assert self.resource.limits == {"storage": 10}  # the provider has not approved yet

    def test_it_refuses_unchanged_or_invalid_limits(self) -> None:
        response = self.post(self.alice, "update_limits", {"limits": {"storage": 10}})
        assert response.status_code == 400
        response = self.post(self.alice, "update_limits", {"limits": {"cpu": 10}})
        assert response.status_code == 400 and "limits" in response.json()
        assert not Order.objects.filter(type=OrderType.UPDATE).exists()

    def test_it_switches_the_plan_through_an_update_order(self) -> None:
        plan_url = self.plan_url(self.premium)
        assert self.post(self.bob, "switch_plan", {"plan": plan_url}).status_code == 403
        response = self.post(self.alice, "switch_plan", {"plan": plan_url})
        assert response.status_code == 200, response.content
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert (order.type, order.plan, order.old_plan) == ("Update", self.premium, self.resource.plan)
        other = f"http://testserver/api/marketplace-plans/{self.premium.uuid.hex}/"
        assert self.post(self.alice, "switch_plan", {"plan": other}).status_code == 400  # an order is pending

    def test_it_refuses_a_plan_of_another_offering(self) -> None:
        foreign = self.basic.plans.get()
        response = self.post(self.alice, "switch_plan", {"plan": self.plan_url(foreign)})
        assert response.status_code == 400 and "plan" in response.json()
        assert Resource.objects.get(pk=self.resource.pk).plan != foreign
