from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bench import scale_seed
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import ComponentUsage, Offering, OfferingComponent, Resource, ResourceForecast
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

LISTS = (
    "/api/marketplace-provider-resources/",
    "/api/marketplace-resources/",
    "/api/marketplace-component-usages/",
    "/api/marketplace-component-user-usages/",
    "/api/events/",
    "/api/access-events/",
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
        for _ in range(2):  # two sign-ins for bob's access record
            Client().force_login(cls.bob)
        for index in range(6):
            offering = cls.offering if index % 2 else cls.basic
            resource = make_resource(cls.alice, cls.carol, cls.project_a1, offering, name=f"r{index}")
            usages = usage_services.set_usage(
                user=cls.staff,
                resource=resource,
                usages=[UsageItem("cpu", Decimal(index)), UsageItem("storage", Decimal(1))]
                + ([UsageItem("quota", Decimal(2))] if offering == cls.offering else []),
            )
            user_usage_services.set_user_usages(
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

    def readers(self) -> dict[str, tuple[object, ...]]:
        """Who sees rows of each list."""
        return {
            LISTS[0]: (self.carol, self.oscar, self.staff),
            LISTS[1]: (self.alice, self.bob, self.staff),
            LISTS[2]: (self.carol, self.alice, self.staff),
            LISTS[3]: (self.carol, self.alice, self.staff),
            LISTS[4]: (self.alice, self.bob, self.carol, self.oscar, self.staff),
            LISTS[5]: (self.bob, self.staff),
        }

    def test_it_runs_the_same_queries_for_one_row_and_for_fifty(self) -> None:
        for base, users in self.readers().items():
            for user in users:
                one, rows_one = self.count_queries(user, f"{base}?page_size=1")
                fifty, rows_fifty = self.count_queries(user, f"{base}?page_size=50")
                assert rows_one == 1 and rows_fifty > 1, (user, base, rows_fifty)
                # A first page with room left holds every row: it needs no count query.
                assert fifty <= one, (user, base, one, fifty)

    def test_it_lists_revisions_in_the_same_queries_for_one_row_and_for_fifty(self) -> None:
        usage = ComponentUsage.objects.filter(user_usages__isnull=False).distinct().first()
        assert usage is not None
        url = f"/api/marketplace-component-usages/{usage.uuid.hex}/revisions/"
        for user in (self.carol, self.alice, self.staff):
            one, rows_one = self.count_queries(user, f"{url}?page_size=1")
            fifty, rows_fifty = self.count_queries(user, f"{url}?page_size=50")
            assert rows_one == 1 and rows_fifty > 1, (user, rows_fifty)
            assert fifty <= one, (user, one, fifty)

    def test_it_runs_the_same_queries_for_one_row_of_coverage_or_report_and_for_fifty(self) -> None:
        month = billing_period_of(timezone.now()).isoformat()[:7]
        for base in ("/api/marketplace-usage-coverage/", "/api/marketplace-usage-reports/"):
            for user in (self.carol, self.oscar, self.alice, self.bob, self.staff):
                query = f"{base}?from={month}&to={month}"
                one, rows_one = self.count_queries(user, f"{query}&page_size=1")
                fifty, rows_fifty = self.count_queries(user, f"{query}&page_size=50")
                assert rows_one == 1 and rows_fifty > 1, (user, base, rows_fifty)
                assert fifty <= one, (user, base, one, fifty)

    def test_it_downloads_every_row_as_csv_in_no_more_queries_than_a_page_of_one(self) -> None:
        """`?format=csv` (efp.rest.csv_export) renders chunks of 500 as a page: no query per row."""
        for base, users in self.readers().items():
            for user in users:
                one, _ = self.count_queries(user, f"{base}?page_size=1")
                client = self.as_user(user)  # type: ignore[arg-type]
                b"".join(client.get(f"{base}?format=csv").streaming_content)  # warm up, as count_queries does
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(f"{base}?format=csv")
                    lines = b"".join(response.streaming_content).count(b"\r\n")
                assert lines > 2, (base, user, lines)  # the header and every row
                assert len(queries) <= one, (base, user, one, len(queries))

    def test_it_renders_limit_usage_from_the_batch(self) -> None:
        items = self.as_user(self.carol).get("/api/marketplace-provider-resources/?page_size=50").json()
        by_name = {item["name"]: item["limit_usage"] for item in items}
        assert by_name["r1"] == {"storage": 1.0, "quota": 2.0}
        assert by_name["r0"] == {"storage": 1.0}

    def test_it_renders_forecasts_and_filters_by_flag_in_the_same_queries(self) -> None:
        """`usage_flags` and `limit_forecasts` come with the page's join: stored forecasts add no query."""
        over = Resource.objects.get(name="r1")
        usage_services.set_usage(user=self.staff, resource=over, usages=[UsageItem("storage", Decimal(12))])
        for base in (LISTS[0], LISTS[1]):
            user = self.carol if base == LISTS[0] else self.alice
            ResourceForecast.objects.all().delete()
            without, rows = self.count_queries(user, f"{base}?page_size=50")
            refresh_forecasts()
            with_forecasts, _ = self.count_queries(user, f"{base}?page_size=50")
            assert with_forecasts == without, (base, with_forecasts, without)
            flagged_one, _ = self.count_queries(user, f"{base}?page_size=1&usage_flag=over_limit")
            flagged, flagged_rows = self.count_queries(user, f"{base}?page_size=50&usage_flag=over_limit")
            assert (flagged_rows, rows) == (1, 6) and flagged <= flagged_one, (base, flagged_rows, flagged)
            sparse, _ = self.count_queries(user, f"{base}?page_size=50&field=name&field=usage_flags")
            assert sparse < with_forecasts


class BenchListQueryCountTests(TestCase):
    """Every list `make bench` measures, with its filters, on a small scale seed: page 10 and page 300 run
    the same queries, at most 6."""

    @classmethod
    def setUpTestData(cls) -> None:
        scale_seed.seed(resources=200, months=3, users_per_resource=3, write=lambda line: None)
        scale_seed.pending_order_supply(20)
        cls.token = scale_seed.provider_token(1)
        offering = Offering.objects.get(name=scale_seed.SUPPLY_OFFERING)
        resource = (
            Resource.objects.filter(offering__customer__slug=scale_seed.FIRST_PROVIDER_SLUG, state="OK")
            .exclude(current_usages={})
            .order_by("pk")
            .first()
        )
        assert resource is not None
        period = billing_period_of(timezone.now()).isoformat()
        sparse = "&".join(f"field={name}" for name in ("uuid", "name", "state", "limits", "offering_uuid"))
        cls.lists = {
            "orders": "/api/marketplace-orders/?state=pending-provider",
            "agent poll": "/api/marketplace-orders/?state=pending-provider&state=executing"
            f"&offering_uuid={offering.uuid.hex}",
            "provider resources": "/api/marketplace-provider-resources/?o=name",
            "provider resources, sparse": f"/api/marketplace-provider-resources/?{sparse}",
            "component usages": f"/api/marketplace-component-usages/?resource_uuid={resource.uuid.hex}"
            f"&billing_period={period}",
            "user usages": f"/api/marketplace-component-user-usages/?resource_uuid={resource.uuid.hex}",
            "all usages": "/api/marketplace-component-usages/",
            "all user usages": "/api/marketplace-component-user-usages/",
            "usage coverage": f"/api/marketplace-usage-coverage/?from={period[:7]}&to={period[:7]}",
            "usage report": f"/api/marketplace-usage-reports/?from={period[:7]}&to={period[:7]}",
        }

    def count(self, url: str) -> tuple[int, int]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content[:200])
        return len(queries), len(response.json())

    def test_it_runs_at_most_six_queries_whatever_the_page_size(self) -> None:
        for name, url in self.lists.items():
            small, small_rows = self.count(f"{url}&page_size=10" if "?" in url else f"{url}?page_size=10")
            large, large_rows = self.count(f"{url}&page_size=300" if "?" in url else f"{url}?page_size=300")
            if name != "component usages":  # two per month: never a full page
                assert small_rows == 10 < large_rows, (name, small_rows, large_rows)
            # A first page with room left holds every row: it needs no count query.
            assert large <= small <= 6, (name, small, large)

    def test_it_retrieves_a_resource_in_at_most_six_queries(self) -> None:
        resource = Resource.objects.filter(offering__customer__slug=scale_seed.FIRST_PROVIDER_SLUG).first()
        assert resource is not None
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        url = f"/api/marketplace-provider-resources/{resource.uuid.hex}/"
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert len(queries) <= 6
