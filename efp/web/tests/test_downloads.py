"""Download CSV on the GUI's lists (web/views/downloads.py): every row the page's filters match, not only
the page shown, for the persona's own rows only."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase
from efp.web.views.common import PAGE_SIZE
from efp.web.views.downloads import ORDER_COLUMNS, RESOURCE_COLUMNS


def rows_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


class DownloadTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.count = PAGE_SIZE + 3
        cls.resources = [
            make_order(cls.alice, cls.project_a1, cls.basic, name=f"basic-{n:02d}") for n in range(cls.count)
        ]
        cls.pending = make_order(cls.alice, cls.project_a1, cls.offering, name="waiting")
        cls.elsewhere = make_order(cls.dave, cls.project_z1, cls.offering_q, name="quinns")

    def test_it_downloads_every_resource_of_the_provider_with_the_filters(self) -> None:
        rows = rows_of(self.login(self.carol).get("/provider/resources/?format=csv"))
        assert list(rows[0]) == [name for name, _ in RESOURCE_COLUMNS]
        assert len(rows) == self.count + 1 > PAGE_SIZE  # with the resource of the waiting order
        assert "quinns" not in {row["name"] for row in rows}
        filtered = rows_of(self.login(self.carol).get("/provider/resources/?q=basic-01&format=csv"))
        assert [row["name"] for row in filtered] == ["basic-01"]
        assert filtered[0]["organisation"] == "Organisation A" and filtered[0]["limits"].startswith("{")

    def test_it_downloads_the_consumers_resources_and_orders(self) -> None:
        resources = rows_of(self.login(self.bob).get("/my/resources/?format=csv"))
        assert len(resources) == self.count + 1
        orders = rows_of(self.login(self.alice).get("/my/orders/?format=csv"))
        assert list(orders[0]) == [name for name, _ in ORDER_COLUMNS]
        assert len(orders) == self.count + 1 and orders[0]["resource"] == "waiting"  # newest first
        waiting = rows_of(self.login(self.erin).get("/my/orders/?format=csv&q=waiting"))
        assert [(row["resource"], row["state"]) for row in waiting] == [("waiting", "pending-provider")]
        assert [row["name"] for row in rows_of(self.login(self.dave).get("/my/resources/?format=csv"))] == [
            "quinns"
        ]

    def test_it_downloads_the_providers_queue_as_the_page_filters_it(self) -> None:
        queue = rows_of(self.login(self.carol).get("/provider/orders/?format=csv"))
        assert len(queue) == self.count + 1 > PAGE_SIZE  # every order waiting for the provider
        assert {row["state"] for row in queue} == {"pending-provider"}
        found = rows_of(self.login(self.carol).get("/provider/orders/?filtered=1&q=waiting&format=csv"))
        assert [row["resource"] for row in found] == ["waiting"]
        none = rows_of(self.login(self.carol).get("/provider/orders/?filtered=1&state=done&format=csv"))
        assert none == []
        assert rows_of(self.login(self.quinn).get("/provider/orders/?filtered=1&format=csv"))[0][
            "resource"
        ] == ("quinns")
        assert self.login(self.bob).get("/provider/orders/?format=csv").status_code == 403

    def test_it_offers_the_download_with_the_pages_filters(self) -> None:
        for user, page in (
            (self.carol, "/provider/resources/?q=basic"),
            (self.carol, "/provider/orders/?filtered=1"),
            (self.alice, "/my/resources/?q=basic"),
            (self.alice, "/my/orders/"),
        ):
            html = self.login(user).get(page).content.decode()
            assert "Download CSV</a>" in html, page
            assert "format=csv" in html, page
        html = self.login(self.carol).get("/provider/resources/?q=basic&page=2").content.decode()
        assert 'href="?q=basic&amp;format=csv" download' in html

    def test_it_runs_no_query_per_row(self) -> None:
        client = self.login(self.carol)
        rows_of(client.get("/provider/resources/?format=csv"))
        with CaptureQueriesContext(connection) as all_rows:
            rows_of(client.get("/provider/resources/?format=csv"))
        with CaptureQueriesContext(connection) as one_row:
            rows_of(client.get("/provider/resources/?q=basic-01&format=csv"))
        assert len(all_rows) == len(one_row)
