"""Per-user limits of a resource's components, `/api/component-user-usage-limits/` (issue 19), through the
API and through Waldur's SDK.

alice owns organisation A; bob is a member and erin an administrator of its project A1, where frank is the
manager; carol owns provider P and oscar manages its offering O; bob and erin have accounts at O
(bob_hpc, erin_hpc); dave is an outsider.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.test import LiveServerTestCase
from waldur_api_client.api.component_user_usage_limits import (
    component_user_usage_limits_count,
    component_user_usage_limits_create,
    component_user_usage_limits_destroy,
    component_user_usage_limits_list,
    component_user_usage_limits_partial_update,
    component_user_usage_limits_retrieve,
    component_user_usage_limits_update,
)
from waldur_api_client.models import ComponentUserUsageLimitRequest, PatchedComponentUserUsageLimitRequest

from efp.marketplace.models import ComponentUserUsageLimit, OfferingUser
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.services.user_limits import UserLimit, set_user_limit
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_resource, make_user
from efp.marketplace.tests.live_world import build_world, sdk_client
from efp.structure.roles import Role
from efp.structure.services import grant_project_role

BASE = "/api/component-user-usage-limits/"


class UserLimitTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.frank = make_user("frank")
        grant_project_role(project=cls.project_a1, user=cls.frank, role=Role.PROJECT_MANAGER)
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        cls.bob_hpc = create_offering_user(
            actor=None, offering=cls.offering, user=cls.bob, username="bob_hpc"
        )
        cls.erin_hpc = create_offering_user(
            actor=None, offering=cls.offering, user=cls.erin, username="erin_hpc"
        )
        cls.cpu = cls.offering.components.get(type="cpu")
        cls.gpu = cls.offering.components.get(type="gpu")

    def body(
        self, user: OfferingUser | None = None, component: Any = None, limit: str = "100"
    ) -> dict[str, Any]:
        return {
            "resource": self.url(f"/api/marketplace-resources/{self.resource.uuid.hex}/"),
            "component": (component or self.cpu).uuid.hex,
            "user": self.url(f"/api/marketplace-offering-users/{(user or self.bob_hpc).uuid.hex}/"),
            "limit": limit,
        }

    def existing(self, limit: str = "50") -> ComponentUserUsageLimit:
        return set_user_limit(
            actor=self.alice,
            limit=UserLimit(
                resource=self.resource, component=self.cpu, user=self.bob_hpc, limit=Decimal(limit)
            ),
        )

    def test_it_lets_the_owner_and_the_project_manager_set_a_users_limit(self) -> None:
        for person, offering_user in ((self.alice, self.bob_hpc), (self.frank, self.erin_hpc)):
            response = self.as_user(person).post(BASE, self.body(offering_user), format="json")
            assert response.status_code == 201, response.content
            row = response.json()
            assert set(row) == {"url", "uuid", "resource", "component", "component_type", "user", "limit"}
            assert (row["component_type"], row["limit"], row["component"]) == (
                "cpu",
                "100.00",
                self.cpu.uuid.hex,
            )
            assert row["user"].endswith(f"/api/marketplace-offering-users/{offering_user.uuid.hex}/")
        assert ComponentUserUsageLimit.objects.count() == 2

    def test_it_refuses_the_project_admin_the_provider_and_the_member(self) -> None:
        # Waldur's own tests: owners and project managers set limits, project administrators may not.
        for person in (self.erin, self.carol, self.oscar, self.bob):
            response = self.as_user(person).post(BASE, self.body(), format="json")
            assert response.status_code == 403, (person.username, response.content)
        assert (
            self.as_user(self.dave).post(BASE, self.body(), format="json").status_code == 400
        )  # no resource
        assert not ComponentUserUsageLimit.objects.exists()

    def test_it_lists_a_resources_limits_to_both_sides_and_nobody_else(self) -> None:
        row = self.existing()
        other = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="beta")
        set_user_limit(
            actor=self.staff,
            limit=UserLimit(resource=other, component=self.gpu, user=self.erin_hpc, limit=Decimal(7)),
        )
        for person in (self.alice, self.bob, self.erin, self.carol, self.oscar, self.staff):
            listed = self.as_user(person).get(BASE, {"resource_uuid": self.resource.uuid}).json()
            assert [r["uuid"] for r in listed] == [row.uuid.hex], person.username
        assert self.as_user(self.dave).get(BASE, {"resource_uuid": self.resource.uuid}).json() == []
        assert self.as_user(self.dave).get(f"{BASE}{row.uuid.hex}/").status_code == 404
        assert self.as_user(None).get(BASE).status_code == 401
        by_name = self.as_user(self.carol).get(BASE, {"username": "erin_hpc", "component_type": "gpu"}).json()
        assert [r["limit"] for r in by_name] == ["7.00"]

    def test_it_changes_and_removes_a_limit(self) -> None:
        row = self.existing()
        path = f"{BASE}{row.uuid.hex}/"
        assert self.as_user(self.erin).patch(path, {"limit": "1"}, format="json").status_code == 403
        assert self.as_user(self.carol).delete(path).status_code == 403
        response = self.as_user(self.frank).patch(path, {"limit": "75.5"}, format="json")
        assert (response.status_code, response.json()["limit"]) == (200, "75.50")
        response = self.as_user(self.alice).put(path, self.body(component=self.gpu, limit="9"), format="json")
        assert (response.status_code, response.json()["component_type"]) == (200, "gpu")
        row.refresh_from_db()
        assert (row.component, row.limit) == (self.gpu, Decimal(9))
        assert self.as_user(self.alice).delete(path).status_code == 204
        assert not ComponentUserUsageLimit.objects.exists()

    def test_it_refuses_bad_input_with_the_field_named(self) -> None:
        self.existing()
        elsewhere = make_offering(self.provider_p, name="Elsewhere")
        stranger = create_offering_user(actor=None, offering=elsewhere, user=self.erin, username="erin_x")
        cases = [
            (self.body(), "non_field_errors"),  # bob's cpu limit exists already
            (self.body(user=stranger), "user"),
            (self.body(component=elsewhere.components.get(type="cpu")), "component"),
            (self.body(user=self.erin_hpc, limit="-1"), "limit"),
            ({**self.body(), "component": "0" * 32}, "component"),
            ({**self.body(), "resource": "http://testserver/api/nothing/"}, "resource"),
        ]
        for body, field in cases:
            response = self.as_user(self.alice).post(BASE, body, format="json")
            assert (response.status_code, field in response.json()) == (400, True), (body, response.content)
        assert ComponentUserUsageLimit.objects.count() == 1

    def test_it_lists_in_a_fixed_number_of_queries(self) -> None:
        self.existing()
        client = self.as_user(self.carol)
        client.get(BASE)  # the token's first use
        with self.assertNumQueries(2):  # the token, the page
            assert len(client.get(BASE).json()) == 1
        set_user_limit(
            actor=self.staff,
            limit=UserLimit(resource=self.resource, component=self.gpu, user=self.erin_hpc, limit=Decimal(3)),
        )
        with self.assertNumQueries(2):  # the token, the page
            assert len(client.get(BASE).json()) == 2


class SdkUserLimitTests(LiveServerTestCase):
    """Waldur's SDK sets, reads, changes and removes a per-user limit as the resource's owner."""

    def test_it_serves_every_sdk_operation(self) -> None:
        world = build_world()
        bob = make_user("bob")
        grant_project_role(project=world.resource.project, user=bob, role=Role.PROJECT_MEMBER)
        account = create_offering_user(actor=None, offering=world.offering, user=bob, username="bob_hpc")
        cpu = world.offering.components.get(type="cpu")
        gpu = world.offering.components.get(type="gpu")
        client = sdk_client(self.live_server_url, world.alice)
        resource_url = f"{self.live_server_url}/api/marketplace-resources/{world.resource.uuid.hex}/"
        user_url = f"{self.live_server_url}/api/marketplace-offering-users/{account.uuid.hex}/"

        created = component_user_usage_limits_create.sync(
            client=client,
            body=ComponentUserUsageLimitRequest(
                resource=resource_url, component=cpu.uuid, user=user_url, limit="10"
            ),
        )
        assert (created.component_type, created.limit, created.user) == ("cpu", "10.00", user_url)
        listed = component_user_usage_limits_list.sync(client=client, resource_uuid=world.resource.uuid)
        assert [row.uuid for row in listed] == [created.uuid]
        counted = component_user_usage_limits_count.sync_detailed(
            client=client, resource_uuid=world.resource.uuid
        )
        assert counted.headers["X-Result-Count"] == "1"
        assert component_user_usage_limits_retrieve.sync(uuid=created.uuid, client=client).limit == "10.00"
        patched = component_user_usage_limits_partial_update.sync(
            uuid=created.uuid, client=client, body=PatchedComponentUserUsageLimitRequest(limit="12.5")
        )
        assert patched.limit == "12.50"
        replaced = component_user_usage_limits_update.sync(
            uuid=created.uuid,
            client=client,
            body=ComponentUserUsageLimitRequest(
                resource=resource_url, component=gpu.uuid, user=user_url, limit="3"
            ),
        )
        assert (replaced.component_type, replaced.limit) == ("gpu", "3.00")
        assert (
            component_user_usage_limits_destroy.sync_detailed(uuid=created.uuid, client=client).status_code
            == 204
        )
        assert not ComponentUserUsageLimit.objects.exists()
