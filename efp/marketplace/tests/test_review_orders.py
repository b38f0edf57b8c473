"""Review findings on orders: the §5.5 filters and the 403/409-before-400 order of resource verbs."""

from __future__ import annotations

import uuid

from efp.marketplace.models import Order, Resource
from efp.marketplace.states import ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource


class OrderFilterTests(MarketplaceTestCase):
    """`parent_offering_uuid` and `was_auto_approved` (docs/contract.md §5.5, 8.x) filter instead of
    being ignored."""

    def setUp(self) -> None:
        make_order(self.alice, self.project_a1, self.offering, name="one")
        make_order(self.alice, self.project_a1, self.basic, name="two")

    def uuids(self, query: str) -> set[str]:
        response = self.as_user(self.carol).get(f"/api/marketplace-orders/?{query}")
        assert response.status_code == 200, response.content
        return {row["uuid"] for row in response.json()}

    def test_it_finds_no_orders_under_a_parent_offering(self) -> None:
        # No offering here has a parent, so no order matches whichever parent is asked for.
        assert self.uuids(f"parent_offering_uuid={self.offering.uuid}") == set()
        assert len(self.uuids("")) == 2

    def test_it_refuses_a_malformed_parent_offering_uuid(self) -> None:
        response = self.as_user(self.carol).get("/api/marketplace-orders/?parent_offering_uuid=nope")
        assert response.status_code == 400
        assert "parent_offering_uuid" in response.json()

    def test_it_filters_by_auto_approval(self) -> None:
        # Orders are never approved by an auto-approval rule here (`auto_approved` is always false).
        assert self.uuids("was_auto_approved=true") == set()
        assert len(self.uuids("was_auto_approved=false")) == 2


class ResourceVerbCheckOrderTests(MarketplaceTestCase):
    """Contract §1.6: 403 and 409 come before a 400 about the body, as for the order verbs."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="kept")

    def post(self, user: object, path: str, body: object) -> tuple[int, object]:
        response = self.as_user(user).post(  # type: ignore[arg-type]
            f"/api/marketplace-resources/{self.resource.uuid.hex}/{path}/", body, format="json"
        )
        return response.status_code, response.json() if response.content else None

    def test_it_refuses_a_member_terminating_with_a_bad_body_with_403(self) -> None:
        assert self.post(self.bob, "terminate", {"attributes": "not a dict"})[0] == 403
        assert not Order.objects.filter(type="Terminate").exists()

    def test_it_refuses_a_member_updating_limits_with_a_bad_body_with_403(self) -> None:
        assert self.post(self.bob, "update_limits", {"limits": "x"})[0] == 403

    def test_it_refuses_a_member_switching_plan_with_a_bad_body_with_403(self) -> None:
        assert self.post(self.bob, "switch_plan", {"plan": "http://testserver/nowhere/"})[0] == 403

    def test_it_answers_409_for_a_resource_in_the_wrong_state_whatever_the_body(self) -> None:
        Resource.objects.filter(pk=self.resource.pk).update(state=ResourceState.TERMINATED)
        assert self.post(self.alice, "terminate", {"attributes": "not a dict"})[0] == 409
        assert self.post(self.alice, "update_limits", {"limits": "x"})[0] == 409
        assert self.post(self.alice, "switch_plan", {"plan": "x"})[0] == 409

    def test_it_still_validates_the_body_of_an_allowed_caller(self) -> None:
        code, body = self.post(self.alice, "terminate", {"attributes": "not a dict"})
        assert code == 400 and "attributes" in body  # type: ignore[operator]
        code, body = self.post(self.alice, "update_limits", {"limits": "x"})
        assert code == 400 and "limits" in body  # type: ignore[operator]
        code, body = self.post(self.alice, "switch_plan", {"plan": f"http://testserver/{uuid.uuid4()}/"})
        assert code == 400 and "plan" in body  # type: ignore[operator]

    def test_it_answers_404_to_an_outsider_whatever_the_body(self) -> None:
        response = self.as_user(self.dave).post(
            f"/api/marketplace-resources/{self.resource.uuid.hex}/terminate/",
            {"attributes": "x"},
            format="json",
        )
        assert response.status_code == 404
