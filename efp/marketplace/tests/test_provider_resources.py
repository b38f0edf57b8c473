from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from efp.marketplace.models import OfferingUser, Order, Resource, ResourceEvent
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services._transitions import transition_resource
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.services.usage import UsageItem
from efp.marketplace.states import OrderState, OrderType, ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order, make_resource, make_user
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role

BASE = "/api/marketplace-provider-resources/"


class ProviderResourceTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        Resource.objects.filter(pk=cls.resource.pk).update(backend_id="hpc_alpha")
        cls.resource.refresh_from_db()
        cls.reader = make_user("reader")  # sees the provider's resources, holds none of its permissions
        grant_customer_role(customer=cls.provider_p, user=cls.reader, role=Role.CUSTOMER_READER)

    def get(self, user: Any, path: str = "") -> Any:
        return self.as_user(user).get(f"{BASE}{path}")

    def post(self, user: Any, action: str, data: Any = None, resource: Resource | None = None) -> Any:
        target = resource or self.resource
        return self.as_user(user).post(f"{BASE}{target.uuid.hex}/{action}/", data or {}, format="json")


class ProviderResourceListTests(ProviderResourceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.beta = make_resource(cls.alice, cls.carol, cls.project_a1, cls.basic, name="beta")
        make_order(cls.alice, cls.project_a1, cls.offering, name="gamma")  # a Creating resource

    def test_it_lists_resources_of_my_offerings(self) -> None:
        for user in (self.carol, self.oscar, self.staff):
            response = self.get(user)
            assert response.status_code == 200
            # oscar manages offering O, which made him a service manager of provider P (docs/contract.md §2.1)
            assert response["X-Result-Count"] == "3", user

    def test_it_hides_resources_from_consumers_and_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            assert self.get(user)["X-Result-Count"] == "0"
            assert self.get(user, f"{self.resource.uuid.hex}/").status_code == 404
        assert self.get(None).status_code == 401

    def test_it_renders_objects_never_null(self) -> None:
        item = self.get(self.carol, "?name=alpha").json()[0]
        assert item["url"] == f"http://testserver/api/marketplace-resources/{self.resource.uuid.hex}/"
        assert item["uuid"] == self.resource.uuid.hex
        assert item["state"] == "OK"
        assert item["current_usages"] == {}
        assert item["limit_usage"] == {"storage": None}
        assert item["limits"] == {"storage": 10}
        assert (
            item["backend_metadata"] == {}
            and item["attributes"] == {"name": "alpha"}
            and item["options"] == {}
        )
        assert item["offering_uuid"] == self.offering.uuid.hex
        assert item["project"] == f"http://testserver/api/projects/{self.project_a1.uuid.hex}/"
        assert item["customer_uuid"] == self.org_a.uuid.hex
        assert item["provider_uuid"] == self.provider_p.uuid.hex
        assert item["is_usage_based"] is True and item["is_limit_based"] is True
        assert item["can_terminate"] is True
        assert item["created"].endswith("Z")
        assert [c["type"] for c in item["offering_components"]] == ["cpu", "gpu", "storage", "support"]
        assert "order_in_progress" not in item and "last_sync" not in item

    def test_it_renders_usage_as_numbers(self) -> None:
        usage_services.set_usage(
            user=self.carol,
            resource=self.resource,
            usages=[
                UsageItem(type="cpu", amount=Decimal("5")),
                UsageItem(type="storage", amount=Decimal("7.5")),
            ],
        )
        item = self.get(self.carol, f"{self.resource.uuid.hex}/").json()
        assert item["current_usages"] == {"cpu": 5.0, "storage": 7.5}
        assert item["limit_usage"] == {"storage": 7.5}

    def test_it_filters_like_waldur(self) -> None:
        count = lambda query: self.get(self.carol, query)["X-Result-Count"]  # noqa: E731
        both = f"{self.offering.uuid},{self.basic.uuid.hex}"
        assert count(f"?offering_uuid={both}") == "3"
        assert count(f"?offering_uuid={self.offering.uuid}") == "2"
        assert count(f"?offering_uuid={self.offering.uuid}&offering_uuid={self.basic.uuid}") == "3"
        assert count("?state=OK") == "2"
        assert count("?state=OK&state=Creating") == "3"
        assert count("?backend_id=hpc_alpha") == "1"
        assert count("?query=HPC_ALPHA") == "1"
        assert count(f"?query={self.beta.uuid.hex}") == "1"
        assert count("?name=ALP") == "1"
        assert count(f"?project_uuid={self.project_a1.uuid}&customer_uuid={self.org_a.uuid}") == "3"
        assert count(f"?provider_uuid={self.provider_p.uuid.hex}") == "3"
        assert count("?usage_based=true") == "3"
        assert count("?only_limit_based=true") == "0"
        assert count("?order_state=pending-provider") == "1"
        response = self.get(self.carol, "?state=Nonsense")
        assert response.status_code == 400 and "state" in response.json()
        assert self.get(self.carol, "?offering_uuid=nope").json() == {
            "offering_uuid": ["Enter a valid UUID."]
        }

    def test_it_serves_sparse_fields_and_ordering(self) -> None:
        response = self.get(self.carol, "?field=uuid&field=name&o=-name")
        assert response.json() == [
            {"uuid": r.uuid.hex, "name": r.name}
            for r in Resource.objects.filter(offering__customer=self.provider_p).order_by("-name")
        ]
        assert self.get(self.carol, "?o=project_name").status_code == 200

    def test_it_answers_head_with_the_count(self) -> None:
        response = self.as_user(self.carol).head(BASE)
        assert response.status_code == 200 and response["X-Result-Count"] == "3"

    def test_it_shows_the_orders_on_retrieve(self) -> None:
        item = self.get(self.carol, f"{self.resource.uuid}/").json()
        assert item["order_in_progress"] is None
        assert item["creation_order"]["type"] == "Create"
        assert item["creation_order"]["marketplace_resource_uuid"] == self.resource.uuid.hex
        self.post(self.carol, "terminate")
        item = self.get(self.carol, f"{self.resource.uuid}/").json()
        assert item["order_in_progress"]["type"] == "Terminate"
        assert item["can_terminate"] is False

    def test_it_keeps_nested_orders_whole_under_sparse_fields(self) -> None:
        item = self.get(self.carol, f"{self.resource.uuid.hex}/?field=uuid&field=creation_order").json()
        assert set(item) == {"uuid", "creation_order"}
        assert item["creation_order"]["state"] == "done" and item["creation_order"]["url"].startswith("http")

    def test_it_has_no_details_scope(self) -> None:
        assert self.get(self.carol, f"{self.resource.uuid.hex}/details/").status_code == 404
        assert self.get(self.alice, f"{self.resource.uuid.hex}/details/").status_code == 404

    def test_it_answers_404_for_a_malformed_uuid(self) -> None:
        assert self.get(self.carol, "not-a-uuid/").status_code == 404

    def test_it_does_not_create_or_delete(self) -> None:
        assert self.as_user(self.staff).post(BASE, {}, format="json").status_code == 405
        assert self.as_user(self.staff).delete(f"{BASE}{self.resource.uuid.hex}/").status_code == 405


class ProviderResourceActionTests(ProviderResourceTestCase):
    def test_it_sets_the_backend_id(self) -> None:
        response = self.post(self.carol, "set_backend_id", {"backend_id": "hpc_new"})
        assert response.json() == {"status": "Resource backend_id has been changed."}
        response = self.post(self.oscar, "set_backend_id", {"backend_id": "hpc_new"})
        assert response.json() == {"status": "Resource backend_id is not changed."}
        self.resource.refresh_from_db()
        assert self.resource.backend_id == "hpc_new"

    def test_it_hides_provider_actions_from_consumers(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            assert self.post(user, "set_backend_id", {"backend_id": "x"}).status_code == 404
            assert self.post(user, "set_limits", {"limits": {"storage": 1}}).status_code == 404
        self.resource.refresh_from_db()
        assert self.resource.backend_id == "hpc_alpha"

    def test_it_refuses_provider_readers(self) -> None:
        assert self.get(self.reader, f"{self.resource.uuid.hex}/").status_code == 200
        for action, data in (
            ("set_backend_id", {"backend_id": "x"}),
            ("set_limits", {"limits": {"storage": 1}}),
            ("set_backend_metadata", {"backend_metadata": {}}),
            ("set_as_erred", {}),
            ("set_as_ok", {}),
            ("set_state_ok", {}),
            ("refresh_last_sync", {}),
            ("terminate", {}),
            ("unlink", {}),
        ):
            assert self.post(self.reader, action, data).status_code == 403, action
        self.resource.refresh_from_db()
        assert (self.resource.backend_id, self.resource.state, self.resource.last_sync) == (
            "hpc_alpha",
            "OK",
            None,
        )

    def test_it_requires_a_backend_id(self) -> None:
        response = self.post(self.carol, "set_backend_id", {})
        assert response.status_code == 400 and "backend_id" in response.json()

    def test_it_sets_limits_directly(self) -> None:
        response = self.post(self.oscar, "set_limits", {"limits": {"storage": 25, "cpu": 1000.0}})
        assert response.status_code == 200 and "status" in response.json()
        self.resource.refresh_from_db()
        assert self.resource.limits == {"storage": 25, "cpu": 1000}
        assert not Order.objects.filter(type=OrderType.UPDATE).exists()
        response = self.post(self.carol, "set_limits", {"limits": {"warp": 1}})
        assert response.status_code == 400
        assert self.post(self.carol, "set_limits", {"limits": {"storage": -1}}).status_code == 400
        for bad in ('{"limits": {"storage": 1e400}}', '{"limits": {"storage": 2.5}}', '{"limits": "x"}'):
            url = f"{BASE}{self.resource.uuid.hex}/set_limits/"
            response = self.as_user(self.carol).post(url, bad, content_type="application/json")
            assert response.status_code == 400, bad
        self.resource.refresh_from_db()
        assert self.resource.limits == {"storage": 25, "cpu": 1000}

    def test_it_replaces_backend_metadata(self) -> None:
        self.post(
            self.carol, "set_backend_metadata", {"backend_metadata": {"state": "x", "runtime_state": "on"}}
        )
        response = self.post(self.carol, "set_backend_metadata", {"backend_metadata": {"action": "sync"}})
        assert response.json() == {"status": "The backend metadata is updated"}
        self.resource.refresh_from_db()
        assert self.resource.backend_metadata == {"action": "sync"}
        assert self.post(self.carol, "set_backend_metadata", {}).status_code == 400
        for metadata in ({"a": "\x00"}, {"\x00": 1}):  # PostgreSQL's jsonb would refuse them with a 500
            response = self.post(self.carol, "set_backend_metadata", {"backend_metadata": metadata})
            assert response.json() == {"backend_metadata": ["Null characters are not allowed."]}
        response = self.post(self.carol, "terminate", {"attributes": {"note": "\x00"}})
        assert response.status_code == 400 and not Order.objects.filter(type=OrderType.TERMINATE).exists()
        self.resource.refresh_from_db()
        assert self.resource.backend_metadata == {"action": "sync"}

    def test_it_takes_a_report(self) -> None:
        report = [{"header": "Usage", "body": "All fine"}]
        response = self.post(self.carol, "submit_report", {"report": report})
        assert response.json() == {"status": "Report is submitted"}
        self.resource.refresh_from_db()
        assert self.resource.report == report
        response = self.post(self.carol, "submit_report", {"report": []})
        assert response.status_code == 400
        assert response.json() == {"report": ["Report object should contain at least one section."]}
        assert self.post(self.carol, "submit_report", {"report": [{"header": "x"}]}).status_code == 400
        assert self.post(self.reader, "submit_report", {"report": report}).status_code == 403

    def test_it_sets_the_end_date_a_week_ahead(self) -> None:
        soon = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
        response = self.post(self.carol, "set_end_date_by_provider", {"end_date": soon})
        assert response.status_code == 400 and "end_date" in response.json()
        later = timezone.localdate() + datetime.timedelta(days=30)
        response = self.post(self.carol, "set_end_date_by_provider", {"end_date": later.isoformat()})
        assert response.status_code == 200
        self.resource.refresh_from_db()
        assert (self.resource.end_date, self.resource.end_date_requested_by) == (later, self.carol)
        item = self.get(self.carol, f"{self.resource.uuid.hex}/").json()
        assert item["end_date"] == later.isoformat()
        assert item["end_date_requested_by"] == f"http://testserver/api/users/{self.carol.uuid.hex}/"
        assert self.post(self.reader, "set_end_date_by_provider", {"end_date": None}).status_code == 403
        assert self.post(self.oscar, "set_end_date_by_provider", {"end_date": None}).status_code == 200
        self.resource.refresh_from_db()
        assert (self.resource.end_date, self.resource.end_date_requested_by) == (None, None)

    def test_it_moves_the_state_through_transitions(self) -> None:
        response = self.post(self.carol, "set_state_ok")
        assert response.status_code == 409
        response = self.post(
            self.oscar, "set_as_erred", {"error_message": "disk full", "error_traceback": " tb "}
        )
        assert response.status_code == 200
        self.resource.refresh_from_db()
        assert (self.resource.state, self.resource.error_message, self.resource.error_traceback) == (
            "Erred",
            "disk full",
            "tb",
        )
        response = self.post(self.carol, "set_state_ok")
        assert response.json() == {"status": "Resource state has been changed to OK."}
        self.resource.refresh_from_db()
        assert (self.resource.state, self.resource.error_message) == ("OK", "")
        self.post(self.carol, "set_as_erred")
        assert self.post(self.carol, "set_as_ok").status_code == 200
        events = list(
            ResourceEvent.objects.filter(resource=self.resource).values_list("new_state", flat=True)
        )
        assert events[-4:] == ["Erred", "OK", "Erred", "OK"]

    def test_it_refuses_state_changes_of_a_terminated_resource(self) -> None:
        transition_resource(self.resource, ResourceState.TERMINATED, actor=self.staff)
        assert self.post(self.carol, "set_as_erred").status_code == 409
        assert self.post(self.carol, "set_as_ok").status_code == 409

    def test_it_refreshes_last_sync(self) -> None:
        assert self.post(self.oscar, "refresh_last_sync").status_code == 200
        self.resource.refresh_from_db()
        assert self.resource.last_sync is not None
        assert self.get(self.carol, f"{self.resource.uuid.hex}/").json()["last_sync"].endswith("Z")

    def test_it_terminates_through_an_order(self) -> None:
        response = self.post(self.carol, "terminate", {"attributes": {"reason": "expired"}})
        assert response.status_code == 200, response.content
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert (order.type, order.resource, order.attributes["reason"]) == (
            "Terminate",
            self.resource,
            "expired",
        )
        assert order.state == OrderState.PENDING_PROVIDER  # the provider skipped consumer review
        response = self.post(self.carol, "terminate")
        assert response.status_code == 400
        assert response.json() == ["Pending order for resource already exists."]

    def test_it_refuses_to_terminate_a_resource_in_transit(self) -> None:
        transition_resource(self.resource, ResourceState.UPDATING, actor=self.staff)
        assert self.post(self.carol, "terminate").status_code == 409

    def test_it_lists_the_team(self) -> None:
        team = self.get(self.carol, f"{self.resource.uuid.hex}/team/").json()
        assert {(m["username"], m["role"]) for m in team} == {
            ("bob", "PROJECT.MEMBER"),
            ("erin", "PROJECT.ADMIN"),
        }
        assert team[0]["url"].startswith("http://testserver/api/users/")
        assert {(m["offering_user_username"], m["offering_user_state"]) for m in team} == {(None, None)}

    def test_it_names_each_members_account_at_the_offering_in_the_team(self) -> None:
        # The site agent's membership sync keeps these usernames on the account and removes the others.
        create_offering_user(actor=None, offering=self.offering, user=self.bob, username="bob_hpc")
        create_offering_user(
            actor=None, offering=self.offering, user=self.erin, state=OfferingUser.State.REQUESTED
        )
        elsewhere = make_offering(self.provider_p, name="Elsewhere")
        create_offering_user(actor=None, offering=elsewhere, user=self.erin, username="erin_elsewhere")
        team = self.get(self.carol, f"{self.resource.uuid.hex}/team/").json()
        assert {(m["username"], m["offering_user_username"], m["offering_user_state"]) for m in team} == {
            ("bob", "bob_hpc", "OK"),
            ("erin", None, "Requested"),
        }

    def test_it_lists_plan_periods_with_this_months_usage(self) -> None:
        usage_services.set_usage(
            user=self.carol, resource=self.resource, usages=[UsageItem("cpu", Decimal("100"))]
        )
        [period] = self.get(self.carol, f"{self.resource.uuid.hex}/plan_periods/").json()
        assert period["plan_name"] == "Standard"
        assert [(c["type"], c["usage"]) for c in period["components"]] == [("cpu", "100.00")]
        assert period["end"] is None and period["start"].endswith("Z")

    def test_it_unlinks_for_staff_only(self) -> None:
        assert self.post(self.carol, "unlink").status_code == 403
        assert Resource.objects.filter(pk=self.resource.pk).exists()
        assert self.post(self.staff, "unlink").status_code == 204
        assert not Resource.objects.filter(pk=self.resource.pk).exists()
