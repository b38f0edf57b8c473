"""The resources page stays fast with thousands of resources: its query count is flat in their number."""

import datetime
from decimal import Decimal

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource, scope_of
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order, plan_of
from efp.web.tests.base import WebTestCase
from efp.web.views.resources import resource_list


class ResourceListPerformanceTests(WebTestCase):
    def add_resources(self, count: int) -> None:
        """Bulk rows (test data only; no state is assigned, they stay in the default state)."""
        start = Resource.objects.count()
        plan = plan_of(self.offering)
        Resource.objects.bulk_create(
            Resource(
                name=f"bulk-{start + i:05d}",
                project=self.project_a1,
                offering=self.offering,
                plan=plan,
                limits={"storage": 100},
            )
            for i in range(count)
        )
        month = timezone.localdate().replace(day=1)
        components = list(
            OfferingComponent.objects.filter(offering=self.offering, billing_type__in=["usage", "limit"])
        )
        ComponentUsage.objects.bulk_create(
            ComponentUsage(
                resource=resource,
                **scope_of(resource),
                component=component,
                component_type=component.type,
                usage=Decimal(resource.pk % 120),
                date=timezone.now(),
                billing_period=month,
            )
            for resource in Resource.objects.filter(name__startswith="bulk-")[start:]
            for component in components
        )

    def queries_for(self, path: str) -> int:
        client = self.login(self.carol)
        client.get(path)  # warm up session and caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200
        return len(captured.captured_queries)

    def test_it_keeps_the_query_count_flat(self) -> None:
        self.add_resources(3)
        few = self.queries_for("/provider/resources/")
        self.add_resources(40)
        many = self.queries_for("/provider/resources/")
        self.add_resources(2000)
        thousands = self.queries_for("/provider/resources/")
        assert few == many == thousands, (few, many, thousands)
        assert thousands <= 20, thousands

    def test_it_keeps_the_filtered_query_count_flat(self) -> None:
        self.add_resources(3)
        path = "/provider/resources/?min_percent=50&no_report=2020-01"
        few = self.queries_for(path)
        self.add_resources(100)
        assert self.queries_for(path) == few

    def test_it_keeps_the_order_list_query_count_flat(self) -> None:
        for i in range(3):
            make_order(self.alice, self.project_a1, self.offering, name=f"few-{i}")
        few = self.queries_for("/provider/orders/?filtered=1")
        resource = self.resource("grown")
        order_services.update_resource_limits(resource=resource, user=self.alice, limits={"storage": 20})
        for i in range(25):
            make_order(self.alice, self.project_a1, self.offering, name=f"many-{i}")
        assert self.queries_for("/provider/orders/?filtered=1") == few

    def test_it_keeps_the_dashboard_and_coverage_query_counts_flat(self) -> None:
        """Issue 18: the dashboard's tiles and sparklines, the coverage matrix and Show usage read the same
        number of times for 3 resources as for 200 (carol's, as owner)."""
        shown = self.resource("shown")
        self.report(shown, cpu=5, storage=10)  # at its limit: the "at or above 90 %" tile counts one or more
        paths = ["/provider/", "/provider/coverage/", f"/provider/resources/{shown.uuid.hex}/usage/"]
        self.add_resources(3)
        few = [self.queries_for(path) for path in paths]
        self.add_resources(200)
        assert [self.queries_for(path) for path in paths] == few

    def test_it_keeps_the_coverage_matrix_query_count_flat(self) -> None:
        """Issue 18: the matrix filters, counts, sorts and pages in SQL and reads the months of its page only,
        whether 3 or 203 resources are live (bulk rows made live 100 days ago, their usage this month)."""
        live_since = timezone.now() - datetime.timedelta(days=100)
        paths = [
            "/provider/coverage/",
            "/provider/coverage/?only_missing=on",
            "/provider/coverage/?o=-resource",
        ]
        self.add_resources(3)
        Resource.objects.filter(name__startswith="bulk-").update(live_from=live_since)
        few = [self.queries_for(path) for path in paths]
        self.add_resources(200)
        Resource.objects.filter(name__startswith="bulk-").update(live_from=live_since)
        assert [self.queries_for(path) for path in paths] == few
        html = self.login(self.carol).get("/provider/coverage/?only_missing=on").content.decode()
        assert html.count('<th scope="row">') == 25  # a page of the 203, each missing its closed months

    def test_it_renders_the_first_page_of_2000_resources_with_the_queries_of_20(self) -> None:
        """The view itself (no test client recording contexts): 2,000 resources cost the queries of 20. Its
        time is a speed target of `make bench` (docs/performance.md), not of this test."""

        def first_page() -> tuple[int, int]:
            request = RequestFactory().get("/provider/resources/")
            request.user = self.carol
            resource_list(request)  # warms the template cache
            with CaptureQueriesContext(connection) as captured:
                response = resource_list(request)
            assert response.status_code == 200
            return len(captured.captured_queries), response.content.count(b'aria-label="Expand bulk-')

        self.add_resources(20)
        queries_of_20, rows = first_page()
        assert rows == 20
        self.add_resources(1980)
        assert first_page() == (queries_of_20, 25)  # a page of 25 of the 2,000, in as many queries
