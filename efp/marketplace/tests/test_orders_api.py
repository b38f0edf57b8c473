"""`/api/marketplace-orders/`: list, HEAD, retrieve, create, DELETE, unlink, offering/ (§5.4)."""

from __future__ import annotations

from typing import Any

from efp.marketplace.models import Offering, Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_order, make_project, plan_of
from efp.structure.models import Customer

ORDERS = "/api/marketplace-orders/"


def order_path(order: Order, action: str = "") -> str:
    return f"{ORDERS}{order.uuid.hex}/" + (f"{action}/" if action else "")


class OrderListTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering)

    def _uuids(self, user: Any, query: str = "") -> list[str]:
        response = self.as_user(user).get(ORDERS + query)
        assert response.status_code == 200, response.content
        return [item["uuid"] for item in response.json()]

    def test_it_shows_the_order_to_the_consumer_side(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            assert self._uuids(user) == [self.order.uuid.hex], user.username

    def test_it_shows_the_order_to_the_provider_side(self) -> None:
        assert self._uuids(self.carol) == [self.order.uuid.hex]
        assert self._uuids(self.oscar) == [self.order.uuid.hex]

    def test_it_shows_everything_to_staff(self) -> None:
        org_b = make_customer("Organisation B", owner=self.dave)
        other = make_order(self.dave, make_project(org_b, "B1"), self.basic)
        assert self._uuids(self.staff) == [self.order.uuid.hex, other.uuid.hex]

    def test_it_shows_an_outsider_an_empty_list(self) -> None:
        response = self.as_user(self.dave).get(ORDERS)
        assert response.status_code == 200
        assert response.json() == []
        assert response["X-Result-Count"] == "0"

    def test_it_asks_anonymous_callers_for_a_token(self) -> None:
        response = self.as_user(None).get(ORDERS)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert "detail" in response.json()

    def test_it_rejects_a_bad_token(self) -> None:
        client = self.as_user(None)
        client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
        response = client.get(ORDERS)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token."}
        assert response["WWW-Authenticate"] == "Token"

    def test_it_rejects_malformed_authorization_headers(self) -> None:
        for header, message in (
            ("Token", "Invalid token. No credentials provided."),
            ("Token a b", "Invalid token. Token string should not contain spaces."),
        ):
            client = self.as_user(None)
            client.credentials(HTTP_AUTHORIZATION=header)
            response = client.get(ORDERS)
            assert response.status_code == 401, header
            assert response.json() == {"detail": message}

    def test_it_lists_each_order_once_when_the_user_matches_several_paths(self) -> None:
        # carol also owns the consumer organisation now: consumer and provider paths both match.
        from efp.structure.roles import Role
        from efp.structure.services import grant_customer_role

        grant_customer_role(customer=self.org_a, user=self.carol, role=Role.CUSTOMER_OWNER)
        offering_services.grant_offering_manager(offering=self.offering, user=self.carol)
        response = self.as_user(self.carol).get(ORDERS)
        assert [item["uuid"] for item in response.json()] == [self.order.uuid.hex]
        assert response["X-Result-Count"] == "1"

    def test_it_counts_with_head(self) -> None:
        make_order(self.alice, self.project_a1, self.basic)
        response = self.as_user(self.alice).head(ORDERS)
        assert response.status_code == 200
        assert response["X-Result-Count"] == "2"
        assert response.content == b""
        filtered = self.as_user(self.alice).head(ORDERS + "?offering_type=Marketplace.Basic")
        assert filtered["X-Result-Count"] == "1"
        assert self.as_user(self.dave).head(ORDERS)["X-Result-Count"] == "0"
        assert self.as_user(None).head(ORDERS).status_code == 401


class OrderRetrieveTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering, name="alloc-1")

    def test_it_shows_the_order_details(self) -> None:
        response = self.as_user(self.bob).get(order_path(self.order))
        assert response.status_code == 200
        body = response.json()
        assert body["uuid"] == self.order.uuid.hex
        assert body["url"] == self.url(order_path(self.order))
        assert body["state"] == "pending-provider"
        assert body["type"] == "Create"
        assert body["offering"] == self.offering_url(self.offering)
        assert body["offering_uuid"] == self.offering.uuid.hex
        assert body["offering_type"] == "Marketplace.Slurm"
        assert body["plan"] == self.plan_url(plan_of(self.offering))
        assert body["plan_uuid"] == plan_of(self.offering).uuid.hex
        assert body["project_uuid"] == self.project_a1.uuid.hex
        assert body["customer_uuid"] == self.org_a.uuid.hex
        assert body["provider_uuid"] == self.provider_p.uuid.hex
        assert body["marketplace_resource_uuid"] == self.order.resource.uuid.hex
        assert body["resource_name"] == "alloc-1"
        assert body["attributes"] == {"name": "alloc-1"}
        assert body["limits"] == {"storage": 10}
        assert body["created_by_username"] == "alice"
        assert body["consumer_reviewed_by"] == "alice"
        assert body["provider_reviewed_by"] is None
        assert body["cost"] == "80.0000000000"  # 10 TB at 8 per TB
        assert body["can_terminate"] is False  # Slurm orders are not cancelable

    def test_it_tells_whether_the_order_can_still_be_canceled(self) -> None:
        basic = make_order(self.alice, self.project_a1, self.basic, name="b")
        assert self.as_user(self.alice).get(order_path(basic)).json()["can_terminate"] is True
        order_services.approve_order_by_provider(order=basic, user=self.carol)  # Basic: done at once
        assert self.as_user(self.alice).get(order_path(basic)).json()["can_terminate"] is False

    def test_it_answers_404_to_an_outsider(self) -> None:
        response = self.as_user(self.dave).get(order_path(self.order))
        assert response.status_code == 404
        assert response.json() == {"detail": "No Order matches the given query."}

    def test_it_answers_401_to_anonymous(self) -> None:
        response = self.as_user(None).get(order_path(self.order))
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"

    def test_it_answers_404_for_unknown_and_malformed_uuids(self) -> None:
        for path in (f"{ORDERS}{'0' * 32}/", f"{ORDERS}not-a-uuid/", f"{ORDERS}1234/approve_by_provider/"):
            method = "post" if path.endswith("provider/") else "get"
            response = getattr(self.as_user(self.staff), method)(path)
            assert response.status_code == 404, path
        assert Order.objects.get(pk=self.order.pk).state == "pending-provider"

    def test_it_hides_the_error_traceback_from_non_staff(self) -> None:
        order_services.fail_order(
            order=self.order, user=self.carol, error_message="boom", error_traceback="tb\n"
        )
        assert "error_traceback" not in self.as_user(self.alice).get(order_path(self.order)).json()
        assert "error_traceback" not in self.as_user(self.carol).get(order_path(self.order)).json()
        staff_view = self.as_user(self.staff).get(order_path(self.order)).json()
        assert staff_view["error_traceback"] == "tb"
        assert staff_view["error_message"] == "boom"

    def test_it_refuses_put_and_patch(self) -> None:
        for method in ("put", "patch"):
            response = getattr(self.as_user(self.alice), method)(order_path(self.order), {}, format="json")
            assert response.status_code == 405, method
            assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
        assert self.as_user(self.dave).put(order_path(self.order), {}, format="json").status_code == 404

    def test_it_shows_the_offering_of_the_order(self) -> None:
        response = self.as_user(self.bob).get(order_path(self.order, "offering"))
        assert response.status_code == 200
        body = response.json()
        assert body["uuid"] == self.offering.uuid.hex
        assert body["url"] == self.offering_url(self.offering)
        assert [plan["url"] for plan in body["plans"]] == [self.plan_url(plan_of(self.offering))]
        assert self.as_user(self.dave).get(order_path(self.order, "offering")).status_code == 404
        assert self.as_user(None).get(order_path(self.order, "offering")).status_code == 401


class OrderCreateTests(MarketplaceTestCase):
    def body(self, offering: Offering | None = None, **extra: Any) -> dict[str, Any]:
        offering = offering or self.offering
        return {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(offering),
            "plan": self.plan_url(plan_of(offering)),
            "attributes": {"name": "my-alloc"},
            "limits": {"storage": 5},
            **extra,
        }

    def create(self, user: Any, **kwargs: Any) -> Any:
        return self.as_user(user).post(ORDERS, self.body(**kwargs), format="json")

    def test_it_creates_an_order_and_a_resource_in_creating(self) -> None:
        response = self.create(self.alice)
        assert response.status_code == 201, response.content
        body = response.json()
        order = Order.objects.get(uuid=body["uuid"])
        resource = order.resource
        assert resource is not None
        assert (resource.state, resource.name, resource.limits) == ("Creating", "my-alloc", {"storage": 5})
        assert resource.plan == plan_of(self.offering)
        assert resource.project == self.project_a1
        assert body["marketplace_resource_uuid"] == resource.uuid.hex
        assert body["url"] == self.url(order_path(order))
        assert order.created_by == self.alice
        assert ResourceEvent.objects.filter(resource=resource, new_state="Creating").count() == 1
        assert list(OrderEvent.objects.filter(order=order).values_list("old_state", "new_state")) == [
            ("", "pending-consumer"),
            ("pending-consumer", "pending-provider"),
        ]

    def test_it_sends_an_owners_slurm_order_to_the_provider(self) -> None:
        response = self.create(self.alice)
        assert response.json()["state"] == "pending-provider"
        order = Order.objects.get(uuid=response.json()["uuid"])
        assert order.state == "pending-provider"
        assert order.consumer_reviewed_by == self.alice

    def test_it_keeps_a_project_admins_order_for_consumer_review(self) -> None:
        response = self.create(self.erin)
        assert response.status_code == 201
        assert response.json()["state"] == "pending-consumer"
        order = Order.objects.get(uuid=response.json()["uuid"])
        assert (order.state, order.consumer_reviewed_by) == ("pending-consumer", None)

    def test_it_lets_a_project_member_order_for_consumer_review(self) -> None:
        response = self.create(self.bob)
        assert response.status_code == 201
        assert Order.objects.get(uuid=response.json()["uuid"]).state == "pending-consumer"

    def test_it_sends_a_staff_slurm_order_to_the_provider(self) -> None:
        response = self.create(self.staff)
        assert response.status_code == 201
        assert response.json()["state"] == "pending-provider"
        assert Order.objects.get(uuid=response.json()["uuid"]).state == "pending-provider"

    def test_it_sends_a_basic_order_to_the_provider_too(self) -> None:
        response = self.create(self.alice, offering=self.basic)
        assert response.json()["state"] == "pending-provider"

    def test_it_executes_an_auto_approved_order_of_other_types_at_once(self) -> None:
        other = make_offering(self.provider_p, name="Cloud", offering_type="OpenStack.Tenant")
        response = self.create(self.alice, offering=other)
        assert response.status_code == 201
        assert response.json()["state"] == "executing"
        assert Order.objects.get(uuid=response.json()["uuid"]).state == "executing"

    def test_it_auto_approves_a_private_same_org_offering_for_a_project_admin(self) -> None:
        private = make_offering(
            self.org_a, name="Own cluster", offering_type="OpenStack.Tenant", shared=False, billable=False
        )
        response = self.create(self.erin, offering=private)
        assert response.status_code == 201, response.content
        assert response.json()["state"] == "executing"
        response = self.create(self.bob, offering=private, attributes={"name": "b"})
        assert response.status_code == 201, response.content
        assert response.json()["state"] == "pending-consumer"  # members lack ORDER.APPROVE_PRIVATE

    def test_it_refuses_a_private_offering_of_another_organisation(self) -> None:
        private = make_offering(self.provider_p, name="Internal", shared=False, billable=False)
        before = Order.objects.count()
        response = self.create(self.alice, offering=private)
        assert response.status_code == 400
        assert Order.objects.count() == before

    def test_it_auto_approves_in_the_providers_own_projects_when_enabled(self) -> None:
        own = make_project(self.provider_p, "P1", admins=[self.erin])
        offering = make_offering(
            self.provider_p, name="Self", offering_type="OpenStack.Tenant",
            plugin_options={"auto_approve_in_service_provider_projects": True},
        )  # fmt: skip
        response = self.as_user(self.erin).post(
            ORDERS, {**self.body(offering=offering), "project": self.project_url(own)}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["state"] == "executing"

    def test_it_answers_400_to_users_without_a_role_in_the_project(self) -> None:
        for user in (self.dave, self.carol, self.oscar):
            response = self.create(user)
            assert response.status_code == 400, user.username
            assert response.json() == {"project": ["Invalid hyperlink - Object does not exist."]}
        assert not Order.objects.exists()
        assert not Resource.objects.exists()

    def test_it_asks_anonymous_callers_for_a_token(self) -> None:
        response = self.create(None)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert not Order.objects.exists()

    def test_it_accepts_relative_and_dashed_hyperlinks(self) -> None:
        plan = plan_of(self.offering)
        body = {
            "project": f"/api/projects/{self.project_a1.uuid}/",
            "offering": f"/api/marketplace-provider-offerings/{self.offering.uuid}/",
            "plan": f"/api/marketplace-plans/{plan.uuid}/",
        }
        response = self.as_user(self.alice).post(ORDERS, body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["plan_uuid"] == plan.uuid.hex
        assert response.json()["resource_name"] == ""

    def test_it_refuses_a_customer_reader_without_create_permission(self) -> None:
        from efp.structure.roles import Role
        from efp.structure.services import grant_customer_role

        grant_customer_role(customer=self.org_a, user=self.dave, role=Role.CUSTOMER_READER)
        response = self.create(self.dave)
        assert response.status_code == 403
        assert not Order.objects.exists()


class OrderDeleteTests(MarketplaceTestCase):
    def setUp(self) -> None:
        response = self.as_user(self.erin).post(
            ORDERS,
            {"project": self.project_url(self.project_a1), "offering": self.offering_url(self.offering),
             "plan": self.plan_url(plan_of(self.offering)), "attributes": {"name": "x"}},
            format="json",
        )  # fmt: skip
        self.order = Order.objects.get(uuid=response.json()["uuid"])

    def test_it_lets_the_project_admin_delete_a_pending_order(self) -> None:
        response = self.as_user(self.erin).delete(order_path(self.order))
        assert response.status_code == 204
        assert response.content == b""
        assert not Order.objects.filter(pk=self.order.pk).exists()
        assert Resource.objects.get(pk=self.order.resource_id).state == "Terminated"

    def test_it_lets_owner_and_staff_delete(self) -> None:
        other = make_order(self.alice, self.project_a1, self.basic)
        assert self.as_user(self.alice).delete(order_path(self.order)).status_code == 204
        assert self.as_user(self.staff).delete(order_path(other)).status_code == 204
        assert not Order.objects.exists()

    def test_it_refuses_a_member_the_provider_an_outsider_and_anonymous(self) -> None:
        for user, code in (
            (self.bob, 403),
            (self.carol, 403),
            (self.oscar, 403),
            (self.dave, 404),
            (None, 401),
        ):
            response = self.as_user(user).delete(order_path(self.order))
            assert response.status_code == code, (user, response.content)
        assert Order.objects.get(pk=self.order.pk).state == "pending-consumer"

    def test_it_refuses_an_executing_order(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        response = self.as_user(self.alice).delete(order_path(order))
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Valid states for operation: pending-consumer, pending-provider."
        }
        assert Order.objects.get(pk=order.pk).state == "executing"

    def test_it_refuses_a_blocked_organisation(self) -> None:
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=True)
        response = self.as_user(self.alice).delete(order_path(self.order))
        assert response.status_code == 400
        assert response.json() == ["Blocked organization is not available."]
        assert Order.objects.filter(pk=self.order.pk).exists()


class OrderUnlinkTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering)

    def test_it_lets_staff_unlink(self) -> None:
        response = self.as_user(self.staff).post(order_path(self.order, "unlink"))
        assert response.status_code == 204
        assert not Order.objects.filter(pk=self.order.pk).exists()
        assert Resource.objects.filter(pk=self.order.resource_id).exists()  # nothing happens to the resource

    def test_it_refuses_everyone_else(self) -> None:
        for user, code in ((self.alice, 403), (self.carol, 403), (self.dave, 404), (None, 401)):
            response = self.as_user(user).post(order_path(self.order, "unlink"))
            assert response.status_code == code, user
        assert Order.objects.filter(pk=self.order.pk).exists()
