"""The hand-written usage pages (api/usage/pages.py) answer exactly as the generic path would.

Every persona sends the queries a site agent and a provider send; each is answered twice, once by the SQL
page and once with it switched off (django-filter, the ORM and the serializer), and status, count, links
and body must be the same. A query the SQL page does not understand must go the generic way.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from unittest import mock

from django.test import SimpleTestCase
from django.utils import timezone

from efp.marketplace import billing_months
from efp.marketplace.api.usage import pages as usage_pages
from efp.marketplace.api.usage.serializers import ComponentUsageSerializer, ComponentUserUsageSerializer
from efp.marketplace.models import ComponentUsage
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_project, make_resource, make_token, make_user

# Per-user rows under each usage record: one linked to a user account, two by username only.
TEAM = (("anna", "2", "bob"), ("ben", "5.5", None), ("annabel", "1", None))
COMPONENT_USAGES = "/api/marketplace-component-usages/"
USER_USAGES = "/api/marketplace-component-user-usages/"


class UsagePagesTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # frank's organisation B buys from the same offering: alice and bob must not see its usage.
        cls.frank = make_user("frank")
        cls.org_b = make_customer("Organisation B", owner=cls.frank)
        cls.project_b1 = make_project(cls.org_b, "Project B1")
        cls.resource_a = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc-a")
        cls.resource_b = make_resource(cls.frank, cls.carol, cls.project_b1, cls.offering, name="alloc-b")
        now = timezone.now()
        cls.month = billing_months.billing_period_of(now)
        last_month = billing_months.add_months(cls.month, -1)
        cls.last_month = last_month
        past = datetime.datetime(last_month.year, last_month.month, 12, 8, 30, tzinfo=datetime.UTC)
        for resource in (cls.resource_a, cls.resource_b):
            usage_services.set_usage(
                user=cls.staff,
                resource=resource,
                usages=[
                    UsageItem(type="cpu", amount=Decimal("40.5")),
                    UsageItem(type="storage", amount=Decimal(3)),
                ],
                date=past,
            )
            written = usage_services.set_usage(
                user=cls.carol,
                resource=resource,
                usages=[
                    UsageItem(type="cpu", amount=Decimal("12.25"), description="nightly sync"),
                    UsageItem(type="gpu", amount=Decimal("0")),
                    UsageItem(type="storage", amount=Decimal("7"), recurring=True),
                ],
            )
            for component_usage in written[:2]:
                for name, amount, user in TEAM:
                    user_usage_services.set_user_usage(
                        user=cls.carol,
                        component_usage=component_usage,
                        item=UserUsageItem(
                            username=name, usage=Decimal(amount), user=getattr(cls, user) if user else None
                        ),
                    )
        cls.cpu_a = ComponentUsage.objects.get(
            resource=cls.resource_a, component__type="cpu", billing_period=cls.month
        )

    def everyone(self) -> list[Any]:
        return [self.staff, self.carol, self.oscar, self.alice, self.bob, self.erin, self.frank, self.dave]

    def both(self, user: Any, url: str) -> tuple[Any, Any]:
        """The answer of the SQL page (asserting it answered) and of the generic path."""
        client = self.as_user(user)
        with mock.patch.object(usage_pages, "SqlRows", wraps=usage_pages.SqlRows) as used:
            fast = client.get(url)
        assert used.called, f"{url} did not take the SQL page"
        with (
            mock.patch.object(usage_pages, "component_usages", return_value=None),
            mock.patch.object(usage_pages, "user_usages", return_value=None),
        ):
            generic = client.get(url)
        return fast, generic

    def assert_same_for_everyone(self, path: str, queries: list[str]) -> None:
        for user in self.everyone():
            for query in queries:
                self.assert_same(user, f"{path}{query}")

    def assert_generic(self, path: str, queries: list[str]) -> None:
        """Each query goes the generic way (and gets a 200 or a 400 there, never a 500)."""
        for query in queries:
            with mock.patch.object(usage_pages, "SqlRows") as sql_rows:
                response = self.as_user(self.carol).get(f"{path}{query}")
            assert not sql_rows.called, query
            assert response.status_code in (200, 400), query

    def assert_same(self, user: Any, url: str) -> Any:
        fast, generic = self.both(user, url)
        label = f"{user.username} {url}"
        assert fast.status_code == generic.status_code, label
        if generic.status_code == 200:
            assert fast["X-Result-Count"] == generic["X-Result-Count"], label
            assert fast["Link"] == generic["Link"], label
        assert fast.json() == generic.json(), label
        return fast


class PageFieldsTests(SimpleTestCase):
    """Each page's fields are its serializer's, in its order: a field added to one and not the other fails
    here, before any agreement test would miss it for want of a query that shows it."""

    def test_it_declares_the_component_usage_serializers_fields(self) -> None:
        assert usage_pages.COMPONENT_USAGE_FIELDS.keys == tuple(ComponentUsageSerializer.Meta.fields)

    def test_it_declares_the_user_usage_serializers_fields(self) -> None:
        assert usage_pages.USER_USAGE_FIELDS.keys == tuple(ComponentUserUsageSerializer.Meta.fields)


class ComponentUsagePageTests(UsagePagesTestCase):
    def queries(self) -> list[str]:
        a, b = self.resource_a.uuid, self.resource_b.uuid
        month = self.month.isoformat()
        return [
            "",
            f"?resource_uuid={a.hex}",
            f"?resource_uuid={a}&billing_period={month}",
            f"?resource_uuid={a.hex}&billing_period={self.last_month.isoformat()}",
            f"?resource_uuid={a.hex},{b.hex}",
            f"?resource_uuid={a.hex}&resource_uuid={b}&type=cpu",
            f"?resource_uuid={a.hex}&billing_period={month}&field=uuid&field=type&field=usage",
            "?field=uuid,usage,unknown",
            "?page_size=2&page=2",
            "?page_size=3",
            "?page=9",
            "?billing_period=2001-01-01",
        ]

    def test_every_persona_gets_what_the_generic_path_answers(self) -> None:
        self.assert_same_for_everyone(COMPONENT_USAGES, self.queries())

    def test_it_answers_the_same_walking_its_index_for_those_who_see_many_resources(self) -> None:
        with mock.patch.object(usage_pages, "FEW_RESOURCES", 0):
            self.assert_same_for_everyone(COMPONENT_USAGES, self.queries())

    def test_the_rows_are_the_ones_each_persona_may_see(self) -> None:
        assert self.assert_same(self.carol, COMPONENT_USAGES)["X-Result-Count"] == "10"
        assert self.assert_same(self.alice, COMPONENT_USAGES)["X-Result-Count"] == "5"
        assert self.assert_same(self.frank, COMPONENT_USAGES)["X-Result-Count"] == "5"
        assert self.assert_same(self.dave, COMPONENT_USAGES)["X-Result-Count"] == "0"
        page = self.assert_same(self.bob, f"{COMPONENT_USAGES}?resource_uuid={self.resource_b.uuid.hex}")
        assert page.json() == []

    def test_a_token_in_the_query_string_is_not_taken_for_a_filter(self) -> None:
        token = make_token(self.carol)
        url = f"{COMPONENT_USAGES}?x-auth-token={token}&resource_uuid={self.resource_a.uuid.hex}"
        with mock.patch.object(usage_pages, "SqlRows", wraps=usage_pages.SqlRows) as used:
            response = self.client.get(url)
        assert used.called and response.status_code == 200
        assert response["X-Result-Count"] == "5"

    def test_a_row_reads_like_waldurs(self) -> None:
        key = self.resource_a.uuid.hex
        url = f"{COMPONENT_USAGES}?resource_uuid={key}&billing_period={self.month}&type=cpu"
        [row] = self.assert_same(self.carol, url).json()
        assert row["uuid"] == self.cpu_a.uuid.hex
        assert (row["type"], row["usage"], row["description"]) == ("cpu", "12.25", "nightly sync")
        assert row["modified_by"] == self.carol.pk and row["billing_period"] == self.month.isoformat()
        assert row["date"].endswith("Z") and row["resource_uuid"] == self.resource_a.uuid.hex

    def test_what_it_does_not_understand_goes_the_generic_way(self) -> None:
        self.assert_generic(
            COMPONENT_USAGES,
            [
                "?o=usage",
                "?resource_uuid=junk",
                "?resource_uuid=",
                "?billing_period=11/01/2026",
                "?billing_period=2026-02-30",
                f"?billing_period={self.month}&billing_period={self.last_month}",
                "?type=%20cpu",
                "?project_uuid=" + self.project_a1.uuid.hex,
            ],
        )
        assert self.as_user(self.carol).get(f"{COMPONENT_USAGES}?resource_uuid=junk").status_code == 400


class UserUsagePageTests(UsagePagesTestCase):
    def queries(self) -> list[str]:
        a, b = self.resource_a.uuid, self.resource_b.uuid
        month = self.month.isoformat()
        return [
            "",
            f"?resource_uuid={a.hex}",
            f"?resource_uuid={a.hex}&component_usage__billing_period={month}",
            f"?resource_uuid={a},{b}&component_usage__billing_period={month}&field=component_usage",
            f"?component_usage_uuid={self.cpu_a.uuid.hex}&type=cpu",
            f"?resource_uuid={b.hex}&field=username&field=component_type&field=usage&field=component_usage",
            "?page_size=5&page=2",
            "?page_size=4&page=3",
            "?page=4",
        ]

    def test_every_persona_gets_what_the_generic_path_answers(self) -> None:
        self.assert_same_for_everyone(USER_USAGES, self.queries())

    def test_it_answers_the_same_walking_its_index_for_those_who_see_many_resources(self) -> None:
        with mock.patch.object(usage_pages, "FEW_RESOURCES", 0):
            self.assert_same_for_everyone(USER_USAGES, self.queries())

    def test_the_rows_are_the_ones_each_persona_may_see(self) -> None:
        assert self.assert_same(self.oscar, USER_USAGES)["X-Result-Count"] == "12"
        assert self.assert_same(self.erin, USER_USAGES)["X-Result-Count"] == "6"
        assert self.assert_same(self.dave, USER_USAGES)["X-Result-Count"] == "0"

    def test_a_row_links_its_user_and_usage_record(self) -> None:
        url = f"{USER_USAGES}?component_usage_uuid={self.cpu_a.uuid.hex}"
        rows = {row["username"]: row for row in self.assert_same(self.carol, url).json()}
        assert rows["anna"]["user"] == f"http://testserver/api/users/{self.bob.uuid.hex}/"
        assert rows["ben"]["user"] is None and rows["ben"]["usage"] == "5.50"
        expected = f"http://testserver/api/marketplace-component-usages/{self.cpu_a.uuid.hex}/"
        assert rows["annabel"]["component_usage"] == expected

    def test_what_it_does_not_understand_goes_the_generic_way(self) -> None:
        queries = ["?username=ann", "?o=-usage", "?component_usage__billing_period=junk"]
        queries.append("?billing_period_year=2026")
        self.assert_generic(USER_USAGES, queries)
