from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource


class SmokeTests(MarketplaceTestCase):
    def test_it_lists_orders_for_the_provider(self) -> None:
        make_order(self.alice, self.project_a1, self.offering)
        response = self.as_user(self.carol).get("/api/marketplace-orders/?state=pending-provider")
        assert response.status_code == 200, response.content
        assert response["X-Result-Count"] == "1"
        assert response.json()[0]["state"] == "pending-provider"

    def test_it_creates_an_ok_resource(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        assert resource.state == "OK"
