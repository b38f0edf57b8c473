from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace.models import OfferingComponent
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

LISTS = (
    "/api/marketplace-provider-resources/",
    "/api/marketplace-resources/",
    "/api/marketplace-component-usages/",
    "/api/marketplace-component-user-usages/",
)


class ListQueryCountTests(MarketplaceTestCase):
    """The number of SQL queries of a list does not grow with the page size."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # A total-period limit component makes limit_usage sum usage records.
        offering_services.add_component(
            offering=cls.offering,
            component_type="quota",
            name="Quota",
            billing_type=OfferingComponent.BillingType.LIMIT,
            limit_period=OfferingComponent.LimitPeriod.TOTAL,
        )
        for index in range(6):
            offering = cls.offering if index % 2 else cls.basic
            resource = make_resource(cls.alice, cls.carol, cls.project_a1, offering, name=f"r{index}")
            usages = usage_services.set_usage(
                user=cls.staff,
                resource=resource,
                usages=[UsageItem("cpu", Decimal(index)), UsageItem("storage", Decimal(1))]
                + ([UsageItem("quota", Decimal(2))] if offering == cls.offering else []),
            )
            usage_services.set_user_usages(
                user=cls.staff,
                component_usage=usages[0],
                items=[UserUsageItem(username=f"u{n}", usage=Decimal(n)) for n in range(3)],
            )

    def count_queries(self, user: object, url: str) -> tuple[int, int]:
        client = self.as_user(user)  # type: ignore[arg-type]
        client.get(url)  # warm up: token lookups and caches are not what is measured
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content
        return len(queries), len(response.json())

    def test_it_runs_the_same_queries_for_one_row_and_for_fifty(self) -> None:
        readers = {
            LISTS[0]: (self.carol, self.oscar, self.staff),
            LISTS[1]: (self.alice, self.bob, self.staff),
            LISTS[2]: (self.carol, self.alice, self.staff),
            LISTS[3]: (self.carol, self.alice, self.staff),
        }
        for base, users in readers.items():
            for user in users:
                one, rows_one = self.count_queries(user, f"{base}?page_size=1")
                fifty, rows_fifty = self.count_queries(user, f"{base}?page_size=50")
                assert rows_one == 1 and rows_fifty > 1, (user, base, rows_fifty)
                assert one == fifty, (user, base, one, fifty)

    def test_it_renders_limit_usage_from_the_batch(self) -> None:
        items = self.as_user(self.carol).get("/api/marketplace-provider-resources/?page_size=50").json()
        by_name = {item["name"]: item["limit_usage"] for item in items}
        assert by_name["r1"] == {"storage": 1.0, "quota": 2.0}
        assert by_name["r0"] == {"storage": 1.0}
