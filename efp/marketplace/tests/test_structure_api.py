"""Supporting endpoints of docs/contract.md §12: auth, users, version, customers, projects and the
catalogue."""

from __future__ import annotations

import re
from typing import Any

from efp.accounts.models import ApiToken
from efp.accounts.services import issue_token
from efp.marketplace.models import Category, Offering, OfferingComponent, Plan, ServiceProvider
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import plan_of
from efp.structure.models import Customer, Project

HEX = re.compile(r"^[0-9a-f]{32}$")


class AuthTests(MarketplaceTestCase):
    def test_it_trades_a_password_for_a_new_token_each_time(self) -> None:
        keys = []
        for _ in range(2):
            response = self.client.post(
                "/api-auth/password/", {"username": "alice", "password": "alice"}, format="json"
            )
            assert response.status_code == 200
            assert list(response.json()) == ["token"]
            assert re.fullmatch(r"[0-9a-f]{40}", response.json()["token"])
            keys.append(response.json()["token"])
        assert keys[0] != keys[1]
        for key in keys:  # the older keeps working
            client = self.as_user(None)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            assert client.get("/api/users/me/").json()["username"] == "alice"
        names = ApiToken.objects.filter(user=self.alice).values_list("name", flat=True)
        assert list(names) == ["password login", "password login"]

    def test_it_refuses_a_wrong_password(self) -> None:
        response = self.client.post(
            "/api-auth/password/", {"username": "alice", "password": "bob"}, format="json"
        )
        assert response.status_code == 401
        assert "token" not in response.json()
        assert (
            self.client.post("/api-auth/password/", {"username": "alice"}, format="json").status_code == 400
        )

    def test_it_refuses_an_inactive_user(self) -> None:
        token = issue_token(user=self.dave, name="test")[1]
        self.dave.is_active = False
        self.dave.save()
        client = self.as_user(None)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.get("/api/users/me/")
        assert (response.status_code, response.json()) == (401, {"detail": "User inactive or deleted."})

    def test_it_accepts_the_keyword_in_any_case(self) -> None:
        client = self.as_user(None)
        client.credentials(HTTP_AUTHORIZATION=f"token {issue_token(user=self.alice, name='test')[1]}")
        assert client.get("/api/users/me/").json()["username"] == "alice"


class UserAndVersionTests(MarketplaceTestCase):
    def test_it_shows_me_myself(self) -> None:
        response = self.as_user(self.bob).get("/api/users/me/")
        assert response.status_code == 200
        body = response.json()
        assert (body["username"], body["uuid"]) == ("bob", self.bob.uuid.hex)
        assert body["url"] == f"http://testserver/api/users/{self.bob.uuid.hex}/"
        assert body["is_staff"] is False

    def test_it_asks_anonymous_callers_for_a_token(self) -> None:
        response = self.as_user(None).get("/api/users/me/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"

    def test_it_tells_the_version(self) -> None:
        response = self.as_user(self.alice).get("/api/version/")
        assert response.status_code == 200
        assert isinstance(response.json()["version"], str)

    def test_it_lists_only_myself_unless_staff(self) -> None:
        assert [u["username"] for u in self.as_user(self.bob).get("/api/users/").json()] == ["bob"]
        assert self.as_user(self.staff).get("/api/users/?page_size=50")["X-Result-Count"] == "7"


class CustomerApiTests(MarketplaceTestCase):
    def test_it_shows_organisations_where_i_hold_a_role(self) -> None:
        names = [c["name"] for c in self.as_user(self.bob).get("/api/customers/").json()]
        assert names == ["Organisation A"]
        assert self.as_user(self.dave).get("/api/customers/").json() == []
        body = self.as_user(self.carol).get(f"/api/customers/{self.provider_p.uuid}/").json()
        assert body["uuid"] == self.provider_p.uuid.hex
        assert body["is_service_provider"] is True
        assert body["blocked"] is False
        assert self.as_user(self.dave).get(f"/api/customers/{self.org_a.uuid.hex}/").status_code == 404

    def test_it_lets_only_staff_create_organisations(self) -> None:
        body = {"name": "Organisation C", "abbreviation": "OC"}
        for user, code in ((self.alice, 403), (self.carol, 403), (None, 401)):
            assert self.as_user(user).post("/api/customers/", body, format="json").status_code == code
        assert not Customer.objects.filter(name="Organisation C").exists()
        response = self.as_user(self.staff).post("/api/customers/", body, format="json")
        assert response.status_code == 201
        created = Customer.objects.get(name="Organisation C")
        assert response.json()["uuid"] == created.uuid.hex
        assert response.json()["url"] == f"http://testserver/api/customers/{created.uuid.hex}/"


class ProjectApiTests(MarketplaceTestCase):
    def test_it_shows_projects_where_i_hold_a_role(self) -> None:
        response = self.as_user(self.bob).get(f"/api/projects/?customer_uuid={self.org_a.uuid}")
        assert [p["name"] for p in response.json()] == ["Project A1"]
        body = self.as_user(self.bob).get(f"/api/projects/{self.project_a1.uuid}/").json()
        assert body["url"] == self.project_url(self.project_a1)
        assert body["customer_uuid"] == self.org_a.uuid.hex
        assert body["customer"] == f"http://testserver/api/customers/{self.org_a.uuid.hex}/"
        assert self.as_user(self.dave).get(f"/api/projects/{self.project_a1.uuid}/").status_code == 404
        assert self.as_user(self.carol).get("/api/projects/").json() == []

    def test_it_lets_only_owners_and_staff_create_projects(self) -> None:
        body = {"name": "A2", "customer": f"http://testserver/api/customers/{self.org_a.uuid.hex}/"}
        # A project admin and a member see the organisation but may not add projects; an outsider does
        # not see it (400 on the field).
        for user, code in ((self.erin, 403), (self.bob, 403), (self.dave, 400), (None, 401)):
            assert self.as_user(user).post("/api/projects/", body, format="json").status_code == code
        assert not Project.objects.filter(name="A2").exists()
        response = self.as_user(self.alice).post(
            "/api/projects/", {**body, "name": "A2 by owner"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert Project.objects.get(name="A2 by owner").customer == self.org_a
        response = self.as_user(self.staff).post(
            "/api/projects/", {**body, "end_date": "2030-01-01"}, format="json"
        )
        assert response.status_code == 201, response.content
        project = Project.objects.get(name="A2")
        assert (project.customer, str(project.end_date)) == (self.org_a, "2030-01-01")
        assert response.json()["uuid"] == project.uuid.hex

    def test_it_refuses_a_project_for_an_unknown_organisation(self) -> None:
        body = {"name": "A3", "customer": f"http://testserver/api/customers/{'0' * 32}/"}
        response = self.as_user(self.staff).post("/api/projects/", body, format="json")
        assert (response.status_code, response.json()) == (
            400,
            {"customer": ["Invalid hyperlink - Object does not exist."]},
        )
        assert not Project.objects.filter(name="A3").exists()


class CatalogueApiTests(MarketplaceTestCase):
    def test_it_lists_service_providers_by_organisation(self) -> None:
        response = self.as_user(self.carol).get(
            f"/api/marketplace-service-providers/?customer_uuid={self.provider_p.uuid}"
        )
        assert response.status_code == 200
        [provider] = response.json()
        assert provider["customer_uuid"] == self.provider_p.uuid.hex
        assert provider["uuid"] == ServiceProvider.objects.get(customer=self.provider_p).uuid.hex
        empty = self.as_user(self.carol).get(
            f"/api/marketplace-service-providers/?customer_uuid={self.org_a.uuid}"
        )
        assert empty.json() == []

    def test_it_shows_the_provider_offering_with_its_components(self) -> None:
        response = self.as_user(self.oscar).get(f"/api/marketplace-provider-offerings/{self.offering.uuid}/")
        assert response.status_code == 200
        body = response.json()
        assert (body["type"], body["state"], body["customer_uuid"]) == (
            "Marketplace.Slurm",
            "Active",
            self.provider_p.uuid.hex,
        )
        assert body["plugin_options"] == {}
        assert body["backend_id"] == ""
        components = {c["type"]: c for c in body["components"]}
        assert set(components) == {"cpu", "gpu", "storage", "support"}
        assert components["cpu"]["billing_type"] == "usage"
        assert components["cpu"]["measured_unit"] == "core-hours"
        assert components["storage"]["billing_type"] == "limit"
        assert components["storage"]["limit_period"] is None
        assert components["support"]["billing_type"] == "fixed"
        assert all(c["unit_factor"] == 1 for c in components.values())

    def test_it_hides_provider_offerings_from_consumers(self) -> None:
        for user in (self.alice, self.bob, self.dave):
            response = self.as_user(user).get(f"/api/marketplace-provider-offerings/{self.offering.uuid}/")
            assert response.status_code == 404, user.username

    def test_it_shows_the_public_offering_with_plan_urls_that_resolve(self) -> None:
        response = self.as_user(self.bob).get(f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/")
        assert response.status_code == 200
        body = response.json()
        assert body["url"] == self.offering_url(self.offering)
        [plan] = body["plans"]
        assert plan["url"] == self.plan_url(plan_of(self.offering))
        assert plan["prices"] == {
            "cpu": "0.0200000000",
            "gpu": "0.0000000000",
            "storage": "8.0000000000",
            "support": "0.0000000000",
        }
        followed = self.as_user(self.bob).get(plan["url"])
        assert followed.status_code == 200
        assert followed.json()["uuid"] == plan_of(self.offering).uuid.hex
        wrong = plan["url"].replace(plan_of(self.offering).uuid.hex, "nope")
        assert self.as_user(self.bob).get(wrong).status_code == 404

    def test_it_shows_a_plan_with_quotas(self) -> None:
        plan = plan_of(self.offering)
        response = self.as_user(self.alice).get(f"/api/marketplace-plans/{plan.uuid}/")
        assert response.status_code == 200
        body = response.json()
        assert body["quotas"] == {"cpu": 0, "gpu": 0, "storage": 0, "support": 0}
        assert body["unit_price"] == "0.0000000000"
        assert body["url"] == self.plan_url(plan)
        assert (body["plan_type"], body["minimal_price"], body["resources_count"]) == (
            "mixed",
            "0.0000000000",
            0,
        )

    def test_it_counts_the_live_resources_of_a_plan(self) -> None:
        from efp.marketplace.services import orders as order_services
        from efp.marketplace.tests.factories import make_order, make_resource

        make_resource(self.alice, self.carol, self.project_a1, self.offering, name="live")
        rejected = make_order(self.alice, self.project_a1, self.offering, name="gone")
        order_services.reject_order_by_provider(order=rejected, user=self.carol)
        make_order(self.alice, self.project_a1, self.offering, name="coming")
        plan = plan_of(self.offering)
        assert (
            self.as_user(self.carol).get(f"/api/marketplace-plans/{plan.uuid}/").json()["resources_count"]
            == 2
        )
        offering = (
            self.as_user(self.carol).get(f"/api/marketplace-public-offerings/{self.offering.uuid}/").json()
        )
        assert offering["plans"][0]["resources_count"] == 2

    def test_it_lists_categories(self) -> None:
        response = self.as_user(self.dave).get("/api/marketplace-categories/")
        assert [c["title"] for c in response.json()] == ["HPC"]
        assert response.json()[0]["offering_count"] == 2


class StaffCatalogueWritesTests(MarketplaceTestCase):
    def offering_body(self) -> dict[str, Any]:
        category = Category.objects.get()
        return {
            "customer": f"http://testserver/api/customers/{self.provider_p.uuid.hex}/",
            "category": f"http://testserver/api/marketplace-categories/{category.uuid.hex}/",
            "name": "Lumi",
            "type": "Marketplace.Slurm",
            "components": [
                {"type": "cpu", "name": "CPU", "billing_type": "usage", "measured_unit": "core-hours"},
                {"type": "storage", "name": "Storage", "billing_type": "limit", "limit_period": "month"},
            ],
            "plans": [
                {"name": "Default", "unit_price": "10", "prices": {"cpu": "0.5"}, "quotas": {"storage": 5}}
            ],
        }

    def test_it_lets_staff_create_an_offering_with_components_and_plans(self) -> None:
        response = self.as_user(self.staff).post(
            "/api/marketplace-provider-offerings/", self.offering_body(), format="json"
        )
        assert response.status_code == 201, response.content
        offering = Offering.objects.get(name="Lumi")
        assert response.json()["uuid"] == offering.uuid.hex
        assert sorted(offering.components.values_list("type", "billing_type")) == [
            ("cpu", "usage"),
            ("storage", "limit"),
        ]
        plan = offering.plans.get()
        assert (plan.name, str(plan.unit_price)) == ("Default", "10.0000000000")
        assert {pc.component.type: (pc.price, pc.amount) for pc in plan.components.all()}["storage"][1] == 5
        assert response.json()["plans"][0]["prices"]["cpu"] == "0.5000000000"

    def test_it_refuses_everyone_else_offering_writes(self) -> None:
        for user, code in ((self.carol, 403), (self.oscar, 403), (self.alice, 403), (None, 401)):
            response = self.as_user(user).post(
                "/api/marketplace-provider-offerings/", self.offering_body(), format="json"
            )
            assert response.status_code == code, user
        assert not Offering.objects.filter(name="Lumi").exists()

    def test_it_lets_staff_add_a_component(self) -> None:
        path = f"/api/marketplace-provider-offerings/{self.basic.uuid}/create_offering_component/"
        body = {"type": "ram", "name": "RAM", "billing_type": "limit", "measured_unit": "GB"}
        assert self.as_user(self.carol).post(path, body, format="json").status_code == 403
        assert self.as_user(self.alice).post(path, body, format="json").status_code == 404
        assert not OfferingComponent.objects.filter(type="ram").exists()
        response = self.as_user(self.staff).post(path, body, format="json")
        assert response.status_code == 201
        assert OfferingComponent.objects.get(type="ram").offering == self.basic
        response = self.as_user(self.staff).post(path, body, format="json")
        assert response.status_code == 400  # one component per type
        assert OfferingComponent.objects.filter(type="ram").count() == 1

    def test_it_lets_staff_create_a_plan(self) -> None:
        body = {
            "offering": self.offering_url(self.basic),
            "name": "Premium",
            "unit": "month",
            "unit_price": "99",
        }
        for user, code in ((self.carol, 403), (self.alice, 403), (None, 401)):
            assert self.as_user(user).post("/api/marketplace-plans/", body, format="json").status_code == code
        assert not Plan.objects.filter(name="Premium").exists()
        response = self.as_user(self.staff).post("/api/marketplace-plans/", body, format="json")
        assert response.status_code == 201, response.content
        plan = Plan.objects.get(name="Premium")
        assert plan.offering == self.basic
        assert response.json()["url"] == self.plan_url(plan)

    def test_it_lets_staff_create_a_category(self) -> None:
        assert (
            self.as_user(self.carol).post("/api/marketplace-categories/", {"title": "AI"}).status_code == 403
        )
        assert not Category.objects.filter(title="AI").exists()
        response = self.as_user(self.staff).post(
            "/api/marketplace-categories/", {"title": "AI"}, format="json"
        )
        assert response.status_code == 201
        assert HEX.match(response.json()["uuid"])
        assert Category.objects.filter(title="AI").count() == 1


class CatalogueWriteValidationTests(MarketplaceTestCase):
    offering_body = StaffCatalogueWritesTests.offering_body

    def client_for(self, user: Any) -> Any:
        client = self.as_user(user)
        client.raise_request_exception = False
        return client

    def test_it_leaves_no_half_made_offering_behind(self) -> None:
        for broken in (
            {"plans": [{"name": "p", "unit_price": "-1"}]},
            {"plans": [{"name": "p", "prices": {"cpu": "cheap"}}]},
            {"components": [{"type": "a", "name": "A"}, {"type": "a", "name": "B"}]},
            {"plugin_options": {"note": "\u0000"}},
            {"options": {"\u0000": 1}},
        ):
            response = self.client_for(self.staff).post(
                "/api/marketplace-provider-offerings/", {**self.offering_body(), **broken}, format="json"
            )
            assert response.status_code == 400, (broken, response.status_code)
            assert not Offering.objects.filter(name="Lumi").exists(), broken
            assert not OfferingComponent.objects.filter(offering__name="Lumi").exists()

    def test_it_answers_odd_catalogue_input_with_4xx(self) -> None:
        client = self.client_for(self.staff)
        for path in ("/api/customers/", "/api/projects/", "/api/marketplace-public-offerings/", "/api/users/",
                     "/api/marketplace-provider-offerings/", "/api/marketplace-plans/",
                     "/api/marketplace-service-providers/"):  # fmt: skip
            for query in (
                "name=%00",
                "type=%00",
                "customer_uuid=%00",
                "offering_uuid=1",
                "o=%00",
                "shared=maybe",
            ):
                response = client.get(f"{path}?{query}")
                assert response.status_code in (200, 400), (path, query, response.status_code)
        customer = f"http://testserver/api/customers/{self.org_a.uuid.hex}/"
        for path, body in (
            ("/api/customers/", {"name": "a\u0000"}),
            ("/api/projects/", {"name": "p", "customer": "http://[::1"}),
            ("/api/projects/", {"name": "p", "customer": customer, "start_date": "2020-02-31"}),
            ("/api/marketplace-categories/", {"title": "a\u0000"}),
            ("/api-auth/password/", {"username": "a\u0000", "password": "x"}),
        ):
            response = client.post(path, body, format="json")
            assert response.status_code in (400, 401), (path, body, response.status_code)
        assert not Project.objects.filter(name="p").exists()
