from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from efp.marketplace import billing_months
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource


class UserUsageTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)
        [cls.cpu] = usage_services.set_usage(
            user=cls.carol, resource=cls.resource, usages=[UsageItem(type="cpu", amount=Decimal("0"))]
        )

    def post(
        self, user: Any, action: str, data: Any, usage: ComponentUsage | None = None, **extra: Any
    ) -> Any:
        target = usage or self.cpu
        url = f"/api/marketplace-component-usages/{target.uuid}/{action}/"
        return self.as_user(user).post(url, data, format="json", **extra)


class SetUserUsageTests(UserUsageTestCase):
    def test_it_upserts_by_username(self) -> None:
        response = self.post(self.carol, "set_user_usage", {"username": "anna", "usage": "4.5"})
        assert response.status_code == 201, response.content
        response = self.post(self.oscar, "set_user_usage", {"username": "anna", "usage": "6"})
        assert response.status_code == 201, response.content
        row = ComponentUserUsage.objects.get(component_usage=self.cpu)
        assert (row.username, row.usage, row.user) == ("anna", Decimal("6.00"), None)
        revisions = UsageRevision.objects.filter(component_usage=self.cpu, username="anna").order_by("pk")
        assert [(r.old_value, r.new_value) for r in revisions] == [
            (None, Decimal("4.50")),
            (Decimal("4.50"), Decimal("6.00")),
        ]

    def test_it_links_a_user_given_by_url(self) -> None:
        url = f"http://testserver/api/users/{self.bob.uuid.hex}/"
        response = self.post(self.carol, "set_user_usage", {"username": "bob", "usage": "1", "user": url})
        assert response.status_code == 201, response.content
        assert ComponentUserUsage.objects.get(username="bob").user == self.bob
        rows = self.as_user(self.carol).get("/api/marketplace-component-user-usages/?username=bob").json()
        assert [(row["username"], row["user"]) for row in rows] == [("bob", url)]
        assert (
            rows[0]["component_usage"]
            == f"http://testserver/api/marketplace-component-usages/{self.cpu.uuid.hex}/"
        )

    def test_it_syncs_a_zero_total_and_keeps_a_reported_one(self) -> None:
        self.post(self.carol, "set_user_usage", {"username": "anna", "usage": "4"})
        self.cpu.refresh_from_db()
        assert self.cpu.usage == Decimal("4.00")
        self.resource.refresh_from_db()
        assert self.resource.current_usages["cpu"] == 4.0
        self.post(self.carol, "set_user_usage", {"username": "ben", "usage": "3"})
        self.cpu.refresh_from_db()
        assert self.cpu.usage == Decimal("4.00")  # a non-zero total is never overridden

    def test_it_refuses_consumers_and_hides_from_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin):
            assert self.post(user, "set_user_usage", {"username": "x", "usage": "1"}).status_code == 403
        assert self.post(self.dave, "set_user_usage", {"username": "x", "usage": "1"}).status_code == 404
        assert self.post(None, "set_user_usage", {"username": "x", "usage": "1"}).status_code == 401
        assert not ComponentUserUsage.objects.exists()

    def test_it_checks_permission_before_the_payload(self) -> None:
        assert self.post(self.bob, "set_user_usage", {"usage": "-1"}).status_code == 403

    def test_it_refuses_bad_values(self) -> None:
        response = self.post(self.carol, "set_user_usage", {"username": "anna", "usage": "-1"})
        assert response.status_code == 400
        assert response.json() == {"usage": ["Ensure this value is greater than or equal to 0."]}
        response = self.post(self.carol, "set_user_usage", {"usage": "1"})
        assert response.json() == {"username": ["This field is required."]}
        assert not ComponentUserUsage.objects.exists()

    def test_it_retargets_another_month_by_date(self) -> None:
        previous = billing_months.add_months(billing_months.billing_period_of(timezone.now()), -1)
        date = billing_months.month_start(previous).replace(day=5).isoformat()
        response = self.post(self.staff, "set_user_usage", {"username": "anna", "usage": "2", "date": date})
        assert response.status_code == 201, response.content
        row = ComponentUserUsage.objects.get(username="anna")
        assert row.component_usage.billing_period == previous
        assert row.component_usage.usage == Decimal("2.00")
        assert ComponentUsage.objects.filter(resource=self.resource, component__type="cpu").count() == 2

    def test_it_refuses_a_provider_retargeting_a_usage_component_to_a_past_month(self) -> None:
        previous = billing_months.add_months(billing_months.billing_period_of(timezone.now()), -1)
        date = billing_months.month_start(previous).replace(day=5).isoformat()
        response = self.post(self.carol, "set_user_usage", {"username": "anna", "usage": "2", "date": date})
        assert response.status_code == 400
        assert response.json() == {"date": [usage_services.MSG_PROVIDER_BACKFILL]}


class SetUserUsagesTests(UserUsageTestCase):
    def test_it_writes_a_batch(self) -> None:
        ComponentUserUsage.objects.create(component_usage=self.cpu, username="anna", usage=Decimal(1))
        data = {"usages": [{"username": "anna", "usage": "2.5"}, {"username": "ben", "usage": "1.25"}]}
        response = self.post(
            self.carol, "set_user_usages", data, HTTP_USER_AGENT="waldur-site-agent-report/1"
        )
        assert response.status_code == 201, response.content
        rows = dict(
            ComponentUserUsage.objects.filter(component_usage=self.cpu).values_list("username", "usage")
        )
        assert rows == {"anna": Decimal("2.50"), "ben": Decimal("1.25")}
        self.cpu.refresh_from_db()
        assert self.cpu.usage == Decimal("3.75")
        sources = set(
            UsageRevision.objects.filter(username__in=["anna", "ben"]).values_list("source", flat=True)
        )
        assert sources == {UsageRevision.Source.AGENT}

    def test_it_routes_several_items_to_one_new_month(self) -> None:
        previous = billing_months.add_months(billing_months.billing_period_of(timezone.now()), -1)
        date = billing_months.month_start(previous).replace(day=5).isoformat()
        data = {
            "usages": [
                {"username": "anna", "usage": "2", "date": date},
                {"username": "ben", "usage": "3", "date": date},
                {"username": "carl", "usage": "4"},
            ]
        }
        response = self.post(self.staff, "set_user_usages", data)
        assert response.status_code == 201, response.content
        past = ComponentUsage.objects.get(
            resource=self.resource, component__type="cpu", billing_period=previous
        )
        assert sorted(past.user_usages.values_list("username", flat=True)) == ["anna", "ben"]
        assert past.usage == Decimal("5.00")
        assert list(self.cpu.user_usages.values_list("username", flat=True)) == ["carl"]

    def test_it_refuses_an_empty_list(self) -> None:
        response = self.post(self.carol, "set_user_usages", {"usages": []})
        assert response.status_code == 400
        assert response.json() == {"usages": ["This list may not be empty."]}

    def test_it_writes_nothing_when_one_item_is_bad(self) -> None:
        data = {"usages": [{"username": "anna", "usage": "2"}, {"username": "ben", "usage": "1.001"}]}
        response = self.post(self.carol, "set_user_usages", data)
        assert response.status_code == 400
        assert response.json() == {
            "usages": [{}, {"usage": ["Ensure that there are no more than 2 decimal places."]}]
        }
        assert not ComponentUserUsage.objects.exists()

    def test_it_writes_nothing_when_one_date_is_refused(self) -> None:
        future = (timezone.now() + timezone.timedelta(days=3)).isoformat()
        data = {
            "usages": [{"username": "anna", "usage": "2"}, {"username": "ben", "usage": "1", "date": future}]
        }
        response = self.post(self.carol, "set_user_usages", data)
        assert response.status_code == 400
        assert response.json() == {"usages": [{}, {"date": [usage_services.MSG_FUTURE]}]}
        assert not ComponentUserUsage.objects.exists()

    def test_it_refuses_consumers(self) -> None:
        response = self.post(self.alice, "set_user_usages", {"usages": [{"username": "a", "usage": "1"}]})
        assert response.status_code == 403
        assert not ComponentUserUsage.objects.exists()


class ComponentUserUsageListTests(UserUsageTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        for name, amount in (("anna", "2"), ("ben", "5"), ("annabel", "1")):
            user_usage_services.set_user_usage(
                user=cls.carol,
                component_usage=cls.cpu,
                item=usage_services.UserUsageItem(username=name, usage=Decimal(amount)),
            )

    def get(self, user: Any, query: str = "") -> Any:
        return self.as_user(user).get(f"/api/marketplace-component-user-usages/{query}")

    def test_it_renders_the_waldur_fields(self) -> None:
        response = self.get(self.carol, "?username=ben")
        [item] = response.json()
        row = ComponentUserUsage.objects.get(username="ben")
        assert item == {
            "uuid": row.uuid.hex,
            "user": None,
            "username": "ben",
            "component_usage": f"http://testserver/api/marketplace-component-usages/{self.cpu.uuid.hex}/",
            "usage": "5.00",
            "measured_unit": "core-hours",
            "description": "",
            "created": item["created"],
            "modified": item["modified"],
            "backend_id": "",
            "resource_name": self.resource.name,
            "resource_uuid": self.resource.uuid.hex,
            "offering_name": self.offering.name,
            "offering_uuid": self.offering.uuid.hex,
            "project_name": self.project_a1.name,
            "project_uuid": self.project_a1.uuid.hex,
            "customer_name": self.org_a.name,
            "customer_uuid": self.org_a.uuid.hex,
            "component_type": "cpu",
            "date": item["date"],
            "billing_period": self.cpu.billing_period.isoformat(),
        }
        assert item["component_usage"].rstrip("/").rsplit("/", 1)[-1] == self.cpu.uuid.hex

    def test_it_filters_and_orders(self) -> None:
        assert self.get(self.carol, "?username=ann")["X-Result-Count"] == "2"
        period = self.cpu.billing_period.isoformat()
        assert self.get(self.carol, f"?component_usage__billing_period={period}")["X-Result-Count"] == "3"
        assert self.get(self.carol, f"?resource_uuid={self.resource.uuid}")["X-Result-Count"] == "3"
        assert self.get(self.carol, "?type=gpu")["X-Result-Count"] == "0"
        names = [item["username"] for item in self.get(self.carol, "?o=-usage").json()]
        assert names == ["ben", "anna", "annabel"]

    def test_it_shows_rows_to_consumers_but_not_outsiders(self) -> None:
        assert self.get(self.bob)["X-Result-Count"] == "3"
        assert self.get(self.dave)["X-Result-Count"] == "0"
        row = ComponentUserUsage.objects.get(username="ben")
        assert self.get(self.dave, f"{row.uuid.hex}/").status_code == 404
        assert self.get(self.alice, f"{row.uuid.hex}/").json()["usage"] == "5.00"
