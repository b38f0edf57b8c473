"""Server errors that schemathesis found by fuzzing the API against a running server, one class each."""

from __future__ import annotations

import unittest
from typing import Any

from django.db import connection

from efp.marketplace.models import Offering, OfferingComponent, Order, Plan, Resource
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource, plan_of

ORDERS = "/api/marketplace-orders/"
OFFERINGS = "/api/marketplace-provider-offerings/"


class SQLiteWriteLockTests(MarketplaceTestCase):
    """Concurrent POSTs to /api/marketplace-provider-offerings/ on SQLite answered 500 "database is locked".

    A deferred transaction that has read cannot wait for the write lock another connection holds: SQLite
    fails it at once. BEGIN IMMEDIATE takes the lock first, so the busy timeout applies.
    """

    def test_it_begins_sqlite_transactions_immediately(self) -> None:
        if connection.vendor != "sqlite":
            raise unittest.SkipTest("SQLite only")
        assert connection.settings_dict["OPTIONS"].get("transaction_mode") == "IMMEDIATE"
        assert connection.settings_dict["OPTIONS"].get("timeout", 0) >= 5


class OrderCostOverflowTests(MarketplaceTestCase):
    """A limit without a maximum whose cost outgrows Order.cost answered 500 (decimal.InvalidOperation)."""

    def test_it_refuses_a_limit_whose_cost_does_not_fit(self) -> None:
        OfferingComponent.objects.filter(offering=self.offering, type="storage").update(max_value=None)
        body = {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(plan_of(self.offering)),
            "attributes": {"name": "huge"},
        }
        for amount in (10**30, "9" * 60, 10**11):  # storage costs 8 a unit: 8 * 10**11 fits, not 8 * 10**12
            response = self.as_user(self.alice).post(
                ORDERS, {**body, "limits": {"storage": amount}}, format="json"
            )
            if amount == 10**11:
                assert response.status_code == 201, response.content
                continue
            assert response.status_code == 400, response.content
            assert response.json() == {"limits": ["The cost of these limits is too large."]}
        assert Order.objects.count() == 1
        assert Resource.objects.count() == 1

    def test_it_refuses_an_update_whose_cost_does_not_fit(self) -> None:
        OfferingComponent.objects.filter(offering=self.offering, type="storage").update(max_value=None)
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        response = self.as_user(self.alice).post(
            f"/api/marketplace-resources/{resource.uuid.hex}/update_limits/",
            {"limits": {"storage": 10**40}},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert response.json() == {"limits": ["The cost of these limits is too large."]}
        assert not Order.objects.filter(resource=resource).exclude(type="Create").exists()


class OfferingPluginOptionsTests(MarketplaceTestCase):
    """Plugin options of the wrong kind were accepted, then every order for the offering answered 500."""

    def body(self, plugin_options: dict[str, Any]) -> dict[str, Any]:
        return {
            "customer": f"http://testserver/api/customers/{self.provider_p.uuid.hex}/",
            "category": f"http://testserver/api/marketplace-categories/{self.offering.category.uuid.hex}/",
            "name": "Options",
            "type": "Marketplace.Basic",
            "plugin_options": plugin_options,
        }

    def test_it_refuses_plugin_options_orders_cannot_compute_with(self) -> None:
        cases = [
            {
                "default_resource_termination_offset_in_days": "abc",
                "is_resource_termination_date_required": True,
            },
            {
                "default_resource_termination_offset_in_days": 10**9,
                "is_resource_termination_date_required": True,
            },
            {"max_resource_termination_offset_in_days": 10**12},
            {"max_resource_termination_offset_in_days": -1},
            {"maximal_resource_count_per_project": "abc"},
            {"maximal_resource_count_per_project": True},
            {"latest_date_for_resource_termination": "2030-02-31"},
            {"latest_date_for_resource_termination": 5},
        ]
        before = Offering.objects.count()
        for options in cases:
            response = self.as_user(self.staff).post(OFFERINGS, self.body(options), format="json")
            assert response.status_code == 400, (options, response.content)
            assert list(response.json()) == ["plugin_options"], response.content
        assert Offering.objects.count() == before

    def test_it_accepts_plugin_options_in_range(self) -> None:
        options = {
            "default_resource_termination_offset_in_days": 30,
            "is_resource_termination_date_required": True,
            "max_resource_termination_offset_in_days": "365",
            "maximal_resource_count_per_project": 3,
            "latest_date_for_resource_termination": "2099-12-31",
        }
        response = self.as_user(self.staff).post(OFFERINGS, self.body(options), format="json")
        assert response.status_code == 201, response.content


class DateTimeFilterOffsetTests(MarketplaceTestCase):
    """`?created=0495-01-21T14:38:51.43-19:54` answered 500 on PostgreSQL: "time zone displacement"."""

    def test_it_filters_by_a_datetime_with_any_offset(self) -> None:
        make_resource(self.alice, self.carol, self.project_a1, self.offering)
        for path in (
            "/api/marketplace-provider-resources/",
            "/api/marketplace-resources/",
            "/api/marketplace-orders/",
        ):
            for query in ("created=0495-01-21T14:38:51.43-19:54", "modified=2000-01-01T00:00:00%2B23:59"):
                response = self.as_user(self.staff).get(f"{path}?{query}")
                assert response.status_code == 200, (path, query, response.content)
                assert len(response.json()) == 1, (path, query)
        response = self.as_user(self.staff).get(
            "/api/marketplace-orders/?created_before=0495-01-21T00:00-19:54"
        )
        assert response.status_code == 200, response.content
        assert response.json() == []

    def test_it_refuses_a_datetime_before_year_one_in_utc(self) -> None:
        response = self.as_user(self.staff).get(
            "/api/marketplace-orders/?created=0001-01-01T00:00:00%2B05:00"
        )
        assert response.status_code == 400, response.content
        assert list(response.json()) == ["created"]


class CategoryCreatePermissionTests(MarketplaceTestCase):
    """A non-staff POST to /api/marketplace-categories/ got 400 for a bad body and 403 only for a good one."""

    def test_it_forbids_a_non_staff_user_whatever_the_body(self) -> None:
        for body in ({}, {"title": ""}, {"title": "x" * 1000}, {"title": "Storage"}):
            response = self.as_user(self.carol).post("/api/marketplace-categories/", body, format="json")
            assert response.status_code == 403, (body, response.content)
        response = self.as_user(self.staff).post("/api/marketplace-categories/", {}, format="json")
        assert response.status_code == 400, response.content
        assert list(response.json()) == ["title"]


class PlanIntegerRangeTests(MarketplaceTestCase):
    """POST /api/marketplace-plans/ with max_amount or a quota past 2**31 - 1 answered 500 on PostgreSQL."""

    def test_it_refuses_numbers_past_the_integer_columns(self) -> None:
        offering = f"http://testserver/api/marketplace-provider-offerings/{self.offering.uuid.hex}/"
        before = Plan.objects.count()
        for extra, field in (
            ({"max_amount": 2**40}, "max_amount"),
            ({"max_amount": 2**70}, "max_amount"),
            ({"quotas": {"storage": 2**31}}, "quotas"),
            ({"quotas": {"storage": 2**70}}, "quotas"),
        ):
            body = {"offering": offering, "name": "Big", **extra}
            response = self.as_user(self.staff).post("/api/marketplace-plans/", body, format="json")
            assert response.status_code == 400, (extra, response.content)
            assert list(response.json()) == [field], response.content
        assert Plan.objects.count() == before
        body = {
            "offering": offering,
            "name": "Edge",
            "max_amount": 2**31 - 1,
            "quotas": {"storage": 2**31 - 1},
        }
        response = self.as_user(self.staff).post("/api/marketplace-plans/", body, format="json")
        assert response.status_code == 201, response.content


class LongLoginNameTests(MarketplaceTestCase):
    """POST /api-auth/password/ with a 300-character username answered 500 on PostgreSQL: the login
    throttle stored the failed name in a 255-character column."""

    def test_it_refuses_a_username_longer_than_any_user_has(self) -> None:
        response = self.as_user(None).post(
            "/api-auth/password/", {"username": "u" * 300, "password": "x"}, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {"username": ["Ensure this field has no more than 150 characters."]}
