"""Every list sorts by its column headers (`?o=`), says how it is sorted (aria-sort), and keeps the choice."""

from __future__ import annotations

import re

from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase

NAMES = re.compile(r'aria-label="Expand ([^"]+)"')
ORDERS = re.compile(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>')


class SortingTests(WebTestCase):
    def test_it_sorts_the_provider_resources_by_a_header_and_remembers_it(self) -> None:
        for name in ("bravo", "alpha", "charlie"):
            self.resource(name)
        client = self.login(self.carol)
        html = client.get("/provider/resources/").content.decode()
        assert NAMES.findall(html) == ["alpha", "bravo", "charlie"]
        assert '<th scope="col" aria-sort="ascending"><a class="sort" href="?o=-name">Name' in html
        assert (
            '<a class="sort" href="?o=created">Created<span class="visually-hidden">, sort ascending' in html
        )
        html = client.get("/provider/resources/?o=-name").content.decode()
        assert NAMES.findall(html) == ["charlie", "bravo", "alpha"]
        assert 'aria-sort="descending"' in html
        # Back to the list (or filtering it) keeps the choice, per list.
        assert NAMES.findall(client.get("/provider/resources/").content.decode()) == [
            "charlie",
            "bravo",
            "alpha",
        ]
        assert NAMES.findall(client.get("/provider/resources/?q=a").content.decode()) == [
            "charlie",
            "bravo",
            "alpha",
        ]
        assert NAMES.findall(self.login(self.alice).get("/my/resources/").content.decode()) == [
            "alpha",
            "bravo",
            "charlie",
        ]
        # A column that is not sortable is ignored: the remembered choice stays.
        assert NAMES.findall(client.get("/provider/resources/?o=password").content.decode())[0] == "charlie"

    def test_it_lists_all_orders_newest_first_and_sorts_them_by_name(self) -> None:
        for name in ("first", "second", "third"):
            make_order(self.alice, self.project_a1, self.offering, name=name)
        client = self.login(self.alice)
        html = client.get("/my/orders/").content.decode()
        table = html[html.index('id="all"') :]
        assert ORDERS.findall(table) == ["third", "second", "first"]
        assert 'aria-sort="descending"><a class="sort" href="?o=created">Created (by)' in table
        table = client.get("/my/orders/?o=order").content.decode()
        assert ORDERS.findall(table[table.index('id="all"') :]) == ["first", "second", "third"]
        provider = self.login(self.carol).get("/provider/orders/?filtered=1&o=-order").content.decode()
        assert ORDERS.findall(provider) == ["third", "second", "first"]
