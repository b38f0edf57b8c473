"""The GUI reports: the usage coverage matrix (provider) and the usage report with its chart (provider and
consumer), each with its CSV. The world is `usage_world` ("now" 2026-06-15)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import time_machine

from efp.marketplace.tests import usage_world
from efp.web.tests.base import WebTestCase

MATRIX = "/provider/coverage/"
RANGE = "from=2026-01&to=2026-06"


def matrix_names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html)


def cells(html: str, name: str) -> list[str]:
    row = re.search(r'<th scope="row"><a href="[^"]+">' + re.escape(name) + r"</a>(.*?)</tr>", html, re.S)
    assert row, name
    return re.findall(r'<td class="cov cov-(\w+)"', row.group(1))


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


class ReportPagesTestCase(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resources = usage_world.build(cls)

    def setUp(self) -> None:
        traveller = time_machine.travel(usage_world.NOW, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)


class CoverageMatrixTests(ReportPagesTestCase):
    def test_it_shows_every_month_in_words_as_well_as_colour(self) -> None:
        html = self.login(self.carol).get(f"{MATRIX}?{RANGE}").content.decode()
        assert matrix_names(html) == ["consult", "gone", "late", "quota", "steady"]
        assert cells(html, "steady") == ["reported", "reported", "missing", "reported", "missing", "not_due"]
        assert '>Missing<span class="visually-hidden"> for steady, March 2026</span>' in html
        assert '<td class="cov cov-not_due" data-label="Jun 2026">Not due</td>' in html
        assert "<strong>8</strong> missing months" in html

    def test_it_links_each_resource_to_its_page_and_each_month_to_its_usage(self) -> None:
        client = self.login(self.carol)
        html = client.get(f"{MATRIX}?{RANGE}").content.decode()
        steady = self.resources["steady"]
        page, usage = (
            f"/provider/resources/{steady.uuid.hex}/",
            f"/provider/resources/{steady.uuid.hex}/usage/",
        )
        assert f'<a href="{page}">steady</a>' in html
        assert f'<a href="{usage}">Missing<span class="visually-hidden"> for steady' in html
        assert client.get(page).status_code == 200
        assert client.get(usage).status_code == 200

    def test_it_filters_on_the_offering_and_on_missing_months(self) -> None:
        client = self.login(self.carol)
        only_o = client.get(f"{MATRIX}?{RANGE}&offering={self.offering.uuid.hex}").content.decode()
        assert matrix_names(only_o) == ["gone", "late", "steady"]
        april = client.get(f"{MATRIX}?from=2026-04&to=2026-04&only_missing=on").content.decode()
        assert matrix_names(april) == ["consult"]

    def test_it_shows_range_errors_beside_the_fields(self) -> None:
        html = self.login(self.carol).get(f"{MATRIX}?from=2026-05&to=2026-01").content.decode()
        assert "Must not be before from." in html
        assert "No resources match these filters." in html

    def test_it_downloads_the_matrix_as_csv(self) -> None:
        rows = csv_rows(self.login(self.carol).get(f"{MATRIX}?{RANGE}&only_missing=on&format=csv"))
        assert rows[0][:2] == ["resource_uuid", "resource_name"] and rows[0][-1] == "2026-06"
        assert [row[1] for row in rows[1:]] == ["consult", "gone", "late", "steady"]
        steady = next(row for row in rows if row[1] == "steady")
        assert steady[5:] == ["reported", "reported", "missing", "reported", "missing", "not_due"]

    def test_it_refuses_consumers(self) -> None:
        assert self.login(self.alice).get(MATRIX).status_code == 403
        assert self.login(self.dave).get(MATRIX).status_code == 403


class UsageReportPageTests(ReportPagesTestCase):
    def test_it_shows_the_provider_the_cost_chart_totals_and_rows(self) -> None:
        html = self.login(self.carol).get(f"/provider/usage-report/?{RANGE}").content.decode()
        assert 'id="report-cost-title"' in html  # the server-drawn SVG chart
        assert "<strong>14.68</strong>" in html  # 0.08 + 2.20 + 1.00 + 10.60 + 0.80
        assert '<th scope="row">April 2026</th><td class="num">10.60</td>' in html
        assert "Organisation A / Project A1" in html

    def test_it_downloads_the_same_rows_as_csv(self) -> None:
        rows = csv_rows(self.login(self.carol).get(f"/provider/usage-report/?{RANGE}&format=csv"))
        assert rows[0][-3:] == ["billing_period", "usage", "cost"]
        assert [row[-3:] for row in rows[1:]] == [
            ["2026-01", "4.00", "0.08"],
            ["2026-01", "110.00", "2.20"],
            ["2026-02", "50.00", "1.00"],
            ["2026-04", "230.00", "10.60"],
            ["2026-05", "40.00", "0.80"],
            ["2026-01", "2.00", "0.00"],
            ["2026-05", "1.00", "0.00"],
        ]

    def test_it_shows_consumers_their_own_report(self) -> None:
        for user in (self.alice, self.bob):
            html = self.login(user).get(f"/my/usage-report/?{RANGE}").content.decode()
            assert "<strong>14.68</strong>" in html, user
        outsider = self.login(self.dave).get(f"/my/usage-report/?{RANGE}").content.decode()
        assert "<strong>0.00</strong>" in outsider
        assert "No usage reported in these months." in outsider

    def test_it_refuses_consumers_the_provider_page(self) -> None:
        assert self.login(self.alice).get("/provider/usage-report/").status_code == 403
