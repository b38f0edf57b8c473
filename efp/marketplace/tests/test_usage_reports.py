"""The usage report across allocations (`marketplace/usage_reports.py`, `/api/marketplace-usage-reports/`):
usage and cost at the plan's prices per organisation, project, offering, component and month, against
figures computed by hand from `usage_world`."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace import usage_reports
from efp.marketplace.models import Resource
from efp.marketplace.services.usage import UsageItem, set_usage
from efp.marketplace.tests import usage_world
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_project, make_resource

URL = "/api/marketplace-usage-reports/"
RANGE = "from=2026-01&to=2026-06"
# (offering, component, month): (usage, cost). Standard: cpu 0.02, gpu 0; Premium (steady from 28 March):
# cpu 0.05, gpu 1.
EXPECTED = {
    ("Offering B", "cpu", "2026-01"): ("4.00", "0.08"),  # consult 4 x 0.02
    ("Offering O", "cpu", "2026-01"): ("110.00", "2.20"),  # steady 100 + gone 10, x 0.02
    ("Offering O", "gpu", "2026-01"): ("2.00", "0.00"),  # steady 2 x 0
    ("Offering O", "cpu", "2026-02"): ("50.00", "1.00"),  # steady 50 x 0.02
    ("Offering O", "cpu", "2026-04"): ("230.00", "10.60"),  # steady 200 x 0.05 (Premium) + late 30 x 0.02
    ("Offering O", "cpu", "2026-05"): ("40.00", "0.80"),  # late 40 x 0.02
    ("Offering O", "gpu", "2026-05"): ("1.00", "0.00"),  # late 1 x 0
}


class UsageReportTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resources = usage_world.build(cls)

    def setUp(self) -> None:
        traveller = time_machine.travel(usage_world.NOW, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)

    def get(self, user: Any, query: str = RANGE) -> Any:
        return self.as_user(user).get(f"{URL}?{query}&page_size=100")

    def figures(self, response: Any) -> dict[tuple[str, str, str], tuple[str, str]]:
        assert response.status_code == 200, response.content
        return {
            (row["offering_name"], row["component_type"], row["billing_period"]): (row["usage"], row["cost"])
            for row in response.json()
        }


class UsageReportFigureTests(UsageReportTestCase):
    def test_it_sums_usage_and_prices_it_at_the_plan_of_each_month(self) -> None:
        assert self.figures(self.get(self.carol)) == EXPECTED

    def test_it_prices_a_month_after_a_plan_switch_at_the_new_plan(self) -> None:
        steady = self.resources["steady"]
        months = [datetime.date(2026, 2, 1), datetime.date(2026, 4, 1)]
        rows = usage_reports.report(Resource.objects.filter(pk=steady.pk), months)
        assert [(row.month.month, row.usage, row.cost) for row in rows] == [
            (2, Decimal("50.00"), Decimal("1.00")),
            (4, Decimal("200.00"), Decimal("10.00")),
        ]

    def test_it_prices_a_month_back_filled_before_the_first_plan_period_at_that_periods_plan(self) -> None:
        steady = self.resources["steady"]  # created in December 2025 on Standard, Premium since 28 March
        with usage_world.at(2026, 1, 5):
            usage = set_usage(
                user=self.staff,
                resource=steady,
                usages=[UsageItem("cpu", Decimal(10))],
                date=datetime.datetime(2025, 11, 20, tzinfo=datetime.UTC),
            )
        assert usage[0].plan_period_id is None and usage[0].billing_period == datetime.date(2025, 11, 1)
        rows = usage_reports.report(Resource.objects.filter(pk=steady.pk), [datetime.date(2025, 11, 1)])
        assert [(row.usage, row.cost) for row in rows] == [(Decimal("10.00"), Decimal("0.20"))]  # not 0.50

    def test_it_answers_every_field_of_a_row(self) -> None:
        row = self.get(self.carol, "from=2026-02&to=2026-02").json()[0]
        assert row == {
            "customer_uuid": self.org_a.uuid.hex,
            "customer_name": "Organisation A",
            "project_uuid": self.project_a1.uuid.hex,
            "project_name": "Project A1",
            "offering_uuid": self.offering.uuid.hex,
            "offering_name": "Offering O",
            "component_type": "cpu",
            "component_name": "CPU",
            "measured_unit": "core-hours",
            "billing_period": "2026-02",
            "usage": "50.00",
            "cost": "1.00",
        }

    def test_it_keeps_organisations_and_projects_apart_and_totals_them(self) -> None:
        other = make_project(make_customer("Organisation Z", owner=self.alice), "Project Z1")
        with usage_world.at(2026, 1, 2):
            zed = make_resource(self.alice, self.carol, other, self.offering, name="zed")
        usage_world.report(self.carol, zed, 2026, 1, cpu="1000")
        rows = usage_reports.report(Resource.objects.all(), [datetime.date(2026, 1, 1)])
        assert [(r.customer_name, r.offering_name, r.component_type, r.cost) for r in rows] == [
            ("Organisation A", "Offering B", "cpu", Decimal("0.08")),
            ("Organisation A", "Offering O", "cpu", Decimal("2.20")),
            ("Organisation A", "Offering O", "gpu", Decimal("0.00")),
            ("Organisation Z", "Offering O", "cpu", Decimal("20.00")),
        ]
        by_org = usage_reports.totals(rows, lambda r: r.customer_name)
        assert [(t.label, t.cost) for t in by_org] == [
            ("Organisation A", Decimal("2.28")),
            ("Organisation Z", Decimal("20.00")),
        ]
        assert by_org[0].usage[("CPU", "core-hours")] == Decimal("114.00")

    def test_it_filters_on_offering_organisation_and_project(self) -> None:
        only_b = self.figures(self.get(self.carol, f"{RANGE}&offering_uuid={self.basic.uuid.hex}"))
        assert only_b == {("Offering B", "cpu", "2026-01"): ("4.00", "0.08")}
        assert self.figures(self.get(self.carol, f"{RANGE}&customer_uuid={self.org_a.uuid}")) == EXPECTED
        assert self.figures(self.get(self.carol, f"{RANGE}&project_uuid={self.project_a1.uuid}")) == EXPECTED
        assert self.figures(self.get(self.carol, f"{RANGE}&project_uuid={self.provider_p.uuid}")) == {}

    def test_it_runs_three_queries_whatever_the_number_of_rows(self) -> None:
        months = [datetime.date(2026, m, 1) for m in range(1, 7)]
        with CaptureQueriesContext(connection) as one:
            usage_reports.report(Resource.objects.filter(name="gone"), months)
        with CaptureQueriesContext(connection) as every:
            usage_reports.report(Resource.objects.all(), months)
        assert len(one) <= len(every) <= 3


class UsageReportPermissionTests(UsageReportTestCase):
    def test_it_shows_the_provider_and_staff_every_consumer_of_their_offerings(self) -> None:
        for user in (self.carol, self.oscar, self.staff):
            assert self.figures(self.get(user)) == EXPECTED, user

    def test_it_shows_consumers_their_own_organisation_and_projects(self) -> None:
        for user in (self.alice, self.erin, self.bob):
            assert self.figures(self.get(user)) == EXPECTED, user

    def test_it_shows_an_outsider_nothing(self) -> None:
        assert self.figures(self.get(self.dave)) == {}

    def test_it_shows_a_consumer_nothing_of_another_organisation(self) -> None:
        assert self.figures(self.get(self.dave, f"{RANGE}&customer_uuid={self.org_a.uuid}")) == {}

    def test_it_refuses_anonymous_callers(self) -> None:
        assert self.as_user(None).get(f"{URL}?{RANGE}").status_code == 401


class UsageReportBadInputTests(UsageReportTestCase):
    def test_it_answers_400_with_field_errors(self) -> None:
        for query, field in (
            ("from=2026-00", "from"),
            ("to=2026-1", "to"),
            ("from=2026-03&to=2026-02", "to"),
            ("from=2020-01&to=2026-01", "to"),
            (f"{RANGE}&customer_uuid=x", "customer_uuid"),
            (f"{RANGE}&project_uuid=1", "project_uuid"),
        ):
            response = self.get(self.carol, query)
            assert response.status_code == 400, query
            assert field in response.json(), (query, response.json())
