"""Usage coverage (`marketplace/coverage.py`, `/api/marketplace-usage-coverage/`): which months of which
resources were reported, are missing, or were not due. The world is `usage_world` ("now" 2026-06-15)."""

from __future__ import annotations

import csv
import datetime
from typing import Any

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace import coverage
from efp.marketplace.models import Offering, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests import usage_world
from efp.marketplace.tests.base import MarketplaceTestCase

URL = "/api/marketplace-usage-coverage/"
RANGE = "from=2026-01&to=2026-06"
R, M, N = "reported", "missing", "not_due"
EXPECTED = {
    "consult": [R, M, M, M, M, N],
    "gone": [R, M, N, N, N, N],
    "late": [N, N, M, R, R, N],
    "quota": [N, N, N, N, N, N],
    "steady": [R, R, M, R, M, N],
}
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
MAY = datetime.date(2026, 5, 1)


class CoverageTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resources = usage_world.build(cls)

    def setUp(self) -> None:
        traveller = time_machine.travel(usage_world.NOW, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)

    def get(self, user: Any, query: str = RANGE) -> Any:
        return self.as_user(user).get(f"{URL}?{query}")

    def states(self, response: Any) -> dict[str, list[str]]:
        assert response.status_code == 200, response.content
        return {
            row["resource_name"]: [row["months"][m] for m in sorted(row["months"])] for row in response.json()
        }


class CoverageStatesTests(CoverageTestCase):
    def test_it_tells_reported_missing_and_not_due_months_apart(self) -> None:
        assert self.states(self.get(self.carol)) == EXPECTED

    def test_it_answers_the_row_fields_in_organisation_project_and_name_order(self) -> None:
        rows = self.get(self.carol).json()
        assert [row["resource_name"] for row in rows] == sorted(EXPECTED)
        steady = self.resources["steady"]
        assert rows[-1] == {
            "resource_uuid": steady.uuid.hex,
            "resource_name": "steady",
            "project_name": "Project A1",
            "customer_name": "Organisation A",
            "offering_name": "Offering O",
            "months": dict(zip(MONTHS, EXPECTED["steady"], strict=True)),
        }

    def test_it_leaves_out_resources_never_live_in_the_range(self) -> None:
        assert Resource.objects.filter(name="pending", state="Creating").exists()
        assert "pending" not in self.states(self.get(self.carol, "from=2025-01&to=2026-06"))
        # Terminated in February: not in a range that starts later.
        assert "gone" not in self.states(self.get(self.carol, "from=2026-04&to=2026-05"))

    def test_it_counts_the_current_month_as_not_due_until_it_closes(self) -> None:
        assert self.states(self.get(self.carol, "from=2026-06&to=2026-06"))["steady"] == [N]
        with time_machine.travel(datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC), tick=False):
            assert self.states(self.get(self.carol, "from=2026-06&to=2026-06"))["steady"] == [M]

    def test_it_defaults_to_the_six_closed_months(self) -> None:
        rows = self.get(self.carol, "").json()
        assert sorted(rows[0]["months"]) == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]

    def test_it_counts_six_months_back_from_to_alone_and_to_last_month_from_from_alone(self) -> None:
        rows = self.get(self.carol, "to=2026-03").json()
        assert sorted(rows[0]["months"]) == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
        rows = self.get(self.carol, "from=2026-04").json()
        assert sorted(rows[0]["months"]) == ["2026-04", "2026-05"]

    def test_it_filters_on_the_offering(self) -> None:
        only_o = self.states(self.get(self.carol, f"{RANGE}&offering_uuid={self.offering.uuid}"))
        assert set(only_o) == {"gone", "late", "steady"}
        unknown = self.get(self.carol, f"{RANGE}&offering_uuid=00000000000000000000000000000000")
        assert unknown.status_code == 200 and unknown.json() == []

    def test_it_paginates_with_waldurs_headers(self) -> None:
        response = self.get(self.carol, f"{RANGE}&page_size=2&page=2")
        assert [row["resource_name"] for row in response.json()] == ["late", "quota"]
        assert response["X-Result-Count"] == "5"
        assert 'rel="next"' in response["Link"] and 'rel="prev"' in response["Link"]
        assert self.as_user(self.carol).head(f"{URL}?{RANGE}")["X-Result-Count"] == "5"

    def test_it_lists_the_missing_resources_of_a_month_for_the_filters(self) -> None:
        may = datetime.date(2026, 5, 1)
        missing = coverage.missing_in(Resource.objects.all(), may)
        assert sorted(Resource.objects.get(pk=pk).name for pk in missing) == ["consult", "steady"]

    def test_it_runs_the_same_number_of_queries_for_one_resource_and_for_all(self) -> None:
        months = [datetime.date(2026, m, 1) for m in range(1, 7)]
        with CaptureQueriesContext(connection) as one:
            coverage.coverage(Resource.objects.filter(name="steady"), months)
        with CaptureQueriesContext(connection) as every:
            coverage.coverage(Resource.objects.all(), months)
        assert len(one) == len(every) == 2

    def test_a_pages_reported_months_are_asked_with_its_keys_and_months_written_out(self) -> None:
        # A prepared statement with the keys and months as parameters may get PostgreSQL's generic plan
        # after five runs on a connection, which scans by month: 1.2 s a page at 100,000 resources.
        months = [datetime.date(2026, m, 1) for m in range(1, 7)]
        sent: list[tuple[str, Any]] = []

        def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            sent.append((sql, params))
            return execute(sql, params, many, context)

        page = list(coverage.row_values(Resource.objects.order_by("pk")))
        with connection.execute_wrapper(spy):
            rows = coverage.rows(page, months)
        assert [row.months for row in rows] == [
            row.months for row in coverage.rows(page, months, reported_of=Resource.objects.values("pk"))
        ]
        (sql, params), *_ = [(sql, params) for sql, params in sent if "billing_period" in sql]
        keys = ", ".join(str(row["pk"]) for row in page)
        assert f"resource_id IN ({keys})" in sql and "'2026-01-01' AND '2026-06-01'" in sql
        assert not [p for p in params or () if isinstance(p, int | datetime.date)]

    def test_it_downloads_every_row_as_csv_with_a_column_per_month(self) -> None:
        response = self.as_user(self.carol).get(f"{URL}?{RANGE}&format=csv&page_size=1")
        assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
        lines = b"".join(response.streaming_content).decode().splitlines()
        rows = list(csv.DictReader(lines))
        assert list(rows[0])[-6:] == MONTHS and "months" not in rows[0]
        assert {row["resource_name"]: [row[m] for m in MONTHS] for row in rows} == EXPECTED


class CoverageOfRestoredResourcesTests(CoverageTestCase):
    def restore_gone(self, when: datetime.datetime) -> None:
        """carol restores `gone` (terminated 10 February) and her agent brings it up on `when`."""
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        with time_machine.travel(when, tick=False):
            gone = Resource.objects.get(name="gone")
            order = order_services.restore_resource(resource=gone, user=self.carol)
            order = order_services.approve_order_by_consumer(order=order, user=self.alice)
            order = order_services.set_order_executing(order=order, user=self.carol)
            order_services.complete_order(order=order, user=self.carol)
        assert Resource.objects.get(name="gone").state == "OK"

    def test_a_restored_resource_is_due_again_but_not_for_the_months_it_was_terminated(self) -> None:
        self.restore_gone(datetime.datetime(2026, 4, 5, 9, tzinfo=datetime.UTC))
        # Terminated 10 February - 5 April: March was wholly terminated; February and April partly live.
        assert self.states(self.get(self.carol))["gone"] == [R, M, N, M, M, N]
        assert Resource.objects.get(name="gone").pk in coverage.missing_in(Resource.objects.all(), MAY)

    def test_a_resource_terminated_again_after_its_restore_stops_being_due(self) -> None:
        self.restore_gone(datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC))
        with time_machine.travel(datetime.datetime(2026, 4, 20, 9, tzinfo=datetime.UTC), tick=False):
            gone = Resource.objects.get(name="gone")
            order = order_services.terminate_resource(resource=gone, user=self.alice)
            order = order_services.approve_order_by_provider(order=order, user=self.carol)
            order_services.complete_order(order=order, user=self.carol)
        assert self.states(self.get(self.carol))["gone"] == [R, M, M, M, N, N]


class CoveragePermissionTests(CoverageTestCase):
    def test_it_shows_the_provider_every_resource_of_their_offerings(self) -> None:
        assert set(self.states(self.get(self.carol))) == set(EXPECTED)
        assert set(self.states(self.get(self.staff))) == set(EXPECTED)

    def test_it_shows_an_offering_manager_what_the_provider_resources_list_shows_them(self) -> None:
        # Granting OFFERING.MANAGER makes oscar a service manager of Provider P (Waldur): he sees all of P.
        listed = self.as_user(self.oscar).get("/api/marketplace-provider-resources/?page_size=50").json()
        shown = {row["name"] for row in listed if row["state"] != "Creating"}
        assert set(self.states(self.get(self.oscar, "from=2025-11&to=2026-06"))) == shown == set(EXPECTED)

    def test_it_shows_consumers_the_coverage_of_their_own_resources(self) -> None:
        for user in (self.alice, self.erin, self.bob):
            assert self.states(self.get(user)) == EXPECTED, user

    def test_it_shows_an_outsider_nothing(self) -> None:
        assert self.states(self.get(self.dave)) == {}

    def test_it_refuses_anonymous_callers(self) -> None:
        assert self.as_user(None).get(f"{URL}?{RANGE}").status_code == 401


class CoverageBadInputTests(CoverageTestCase):
    def errors(self, query: str) -> dict[str, Any]:
        response = self.get(self.carol, query)
        assert response.status_code == 400, response.content
        assert response["Content-Type"].startswith("application/json")
        return response.json()  # type: ignore[no-any-return]

    def test_it_refuses_a_malformed_month(self) -> None:
        assert set(self.errors("from=2026-13&to=2026-02")) == {"from"}
        assert set(self.errors("from=2026-01&to=june")) == {"to"}

    def test_it_refuses_from_after_to(self) -> None:
        assert "to" in self.errors("from=2026-05&to=2026-01")

    def test_it_refuses_more_than_36_months(self) -> None:
        assert "to" in self.errors("from=2023-01&to=2026-01")
        assert self.get(self.carol, "from=2023-02&to=2026-01").status_code == 200

    def test_it_refuses_a_malformed_uuid(self) -> None:
        assert set(self.errors(f"{RANGE}&offering_uuid=nope")) == {"offering_uuid"}
