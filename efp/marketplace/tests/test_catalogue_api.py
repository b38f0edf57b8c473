"""Smaller read endpoints of the catalogue and of resources: an offering's plans, a resource's offering,
an order's resource."""

from __future__ import annotations

from efp.marketplace.services import offerings as offering_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order, plan_of


class OfferingPlansTests(MarketplaceTestCase):
    def test_it_lists_counts_and_pages_the_plans_of_an_offering(self) -> None:
        offering_services.create_plan(offering=self.offering, name="Large")
        path = f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/plans/"
        rows = self.as_user(self.alice).get(path).json()
        assert [row["name"] for row in rows] == ["Large", "Standard"]
        assert rows[1]["url"] == self.plan_url(plan_of(self.offering))
        head = self.as_user(self.alice).head(path)
        assert (head.status_code, head["X-Result-Count"]) == (200, "2")
        page = self.as_user(self.alice).get(path, {"page_size": 1, "page": 2})
        assert [row["name"] for row in page.json()] == ["Standard"]

    def test_it_hides_the_plans_of_an_offering_one_may_not_see(self) -> None:
        private = make_offering(self.provider_p, name="Internal", shared=False, billable=False)
        path = f"/api/marketplace-public-offerings/{private.uuid.hex}/plans/"
        assert self.as_user(self.dave).get(path).status_code == 404
        assert self.as_user(self.carol).get(path).status_code == 200
        assert self.as_user(None).get(path).status_code == 401


class OrderResourceTests(MarketplaceTestCase):
    def test_it_shows_the_resource_of_a_visible_order_only(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="linked")
        path = f"/api/marketplace-orders/{order.uuid.hex}/resource/"
        for user in (self.alice, self.bob, self.carol, self.oscar, self.staff):
            response = self.as_user(user).get(path)
            assert response.status_code == 200, user.username
            assert (response.json()["uuid"], response.json()["state"]) == (
                order.resource.uuid.hex,
                "Creating",
            )
        assert self.as_user(self.dave).get(path).status_code == 404


class ResourceOfferingTests(MarketplaceTestCase):
    def test_it_shows_the_offering_of_a_visible_resource(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        uuid = order.resource.uuid.hex
        consumer = self.as_user(self.alice).get(f"/api/marketplace-resources/{uuid}/offering/")
        assert (consumer.status_code, consumer.json()["url"]) == (200, self.offering_url(self.offering))
        assert (
            self.as_user(self.carol).get(f"/api/marketplace-provider-resources/{uuid}/offering/").status_code
            == 200
        )
        assert (
            self.as_user(self.alice).get(f"/api/marketplace-provider-resources/{uuid}/offering/").status_code
            == 404
        )
        assert self.as_user(self.dave).get(f"/api/marketplace-resources/{uuid}/offering/").status_code == 404
