"""The provider's resource and order lists at a cost that does not grow with them (issue 18, point 2):
the pager's count is the list tally's when every filter in use is a tally dimension, the rows' count
otherwise, and always exact; a page is read by its keys, in the list's order; the organisation choices
are those of the rows, read from the tally (efp/web/views/listing.py).

Carol's provider P has 27 resources of offering O in Alice's project A1 (two erred) and one of offering
B in Dave's project Z1, and Alice's order for a third waits for carol; Quinn's provider Q has one in A1
that carol must not count.
"""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace.models import ListTally, Order, Resource
from efp.marketplace.services import resources as resource_services
from efp.marketplace.states import OrderState
from efp.marketplace.tests.factories import make_order, make_resource
from efp.web.tests.base import WebTestCase

TALLY = ListTally._meta.db_table


def total(html: str) -> int:
    found = re.search(r"(\d+) in total", html)
    assert found is not None, html
    return int(found.group(1))


def names(html: str) -> list[str]:
    return re.findall(r'aria-label="Expand ([^"]+)"', html)


def choices(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, field
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


class ListPagerTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.mine = [cls.make(f"alloc-{n:02d}") for n in range(27)]
        for erred in cls.mine[:2]:
            resource_services.set_resource_erred(resource=erred, user=cls.carol, error_message="disk")
        cls.in_z = make_resource(cls.dave, cls.carol, cls.project_z1, cls.basic, name="z-alloc")
        make_resource(cls.alice, cls.quinn, cls.project_a1, cls.offering_q, name="theirs")
        cls.waiting = make_order(cls.alice, cls.project_a1, cls.offering, name="waits")

    @classmethod
    def make(cls, name: str) -> Resource:
        return make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name=name)

    def page(self, path: str) -> tuple[str, list[str]]:
        client = self.login(self.carol)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, path
        return response.content.decode(), [q["sql"] for q in captured.captured_queries]

    def assert_counted(self, path: str, expected: int, *, from_tally: bool, table: str) -> str:
        html, statements = self.page(path)
        assert total(html) == expected, (path, total(html), expected)
        counted = [sql for sql in statements if "COUNT(" in sql.upper() and f'FROM "{table}"' in sql]
        # The menu badge reads the tally too; the list's count is the other statement on it.
        tallied = [sql for sql in statements if TALLY in sql and "SUM(" in sql.upper()]
        if from_tally:
            assert not counted and len(tallied) == 2, (path, statements)
        else:
            assert len(counted) == 1 and len(tallied) == 1, (path, statements)
        return html

    def test_it_counts_the_resources_from_the_tally_when_the_filters_are_its_dimensions(self) -> None:
        table = Resource._meta.db_table
        for path, expected in (
            ("/provider/resources/", 29),
            ("/provider/resources/?state=Erred", 2),
            ("/provider/resources/?state=OK&state=Erred", 28),
            ("/provider/resources/?include_terminated=on", 29),
            (f"/provider/resources/?offering={self.basic.uuid.hex}", 1),
            (f"/provider/resources/?offering={self.offering.uuid.hex}&state=OK", 25),
            ("/provider/resources/?state=Terminated", 0),
        ):
            self.assert_counted(path, expected, from_tally=True, table=table)

    def test_it_counts_the_rows_when_a_filter_is_not_a_dimension(self) -> None:
        table = Resource._meta.db_table
        for path, expected in (
            ("/provider/resources/?q=alloc-1", 10),
            (f"/provider/resources/?organisation={self.org_z.uuid.hex}", 1),
            ("/provider/resources/?project=Z1&state=OK", 1),
            ("/provider/resources/?ending_within=30", 0),
        ):
            self.assert_counted(path, expected, from_tally=False, table=table)

    def test_it_reads_a_page_by_its_keys_in_the_lists_order(self) -> None:
        expected = sorted([r.name for r in self.mine] + ["waits", "z-alloc"])
        first, _ = self.page("/provider/resources/")
        second, _ = self.page("/provider/resources/?page=2")
        assert names(first) + names(second) == expected
        backwards, _ = self.page("/provider/resources/?o=-name&page=2")
        assert names(backwards) == expected[::-1][25:]

    def test_it_offers_the_organisations_of_the_rows(self) -> None:
        html, _ = self.page("/provider/resources/")
        assert choices(html, "organisation") == ["Any organisation", "Organisation A", "Organisation Z"]
        html, _ = self.page("/provider/orders/")
        assert choices(html, "organisation") == ["Any organisation", "Organisation A", "Organisation Z"]
        quinn = self.login(self.quinn).get("/provider/resources/").content.decode()
        assert choices(quinn, "organisation") == ["Any organisation", "Organisation A"]

    def test_it_counts_the_orders_from_the_tally_when_the_filters_are_its_dimensions(self) -> None:
        table = Order._meta.db_table
        done = OrderState.DONE.value
        for path, expected in (
            ("/provider/orders/", 1),
            ("/provider/orders/?filtered=1", 29),
            (f"/provider/orders/?filtered=1&state={done}", 28),
            (f"/provider/orders/?filtered=1&offering={self.basic.uuid.hex}", 1),
        ):
            self.assert_counted(path, expected, from_tally=True, table=table)
        for path, expected in (
            ("/provider/orders/?filtered=1&type=Create", 29),
            ("/provider/orders/?filtered=1&q=waits", 1),
        ):
            self.assert_counted(path, expected, from_tally=False, table=table)
