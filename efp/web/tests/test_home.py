"""The landing page after login: what waits for me, counts that open their lists, with my workspace menu."""

from __future__ import annotations

import datetime
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.events.tests.running import run_tasks
from efp.marketplace.services.resources import set_resource_end_date_by_provider
from efp.marketplace.tests.factories import make_order
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role
from efp.web.tests.base import WebTestCase
from efp.web.views.common import today


def tile(html: str, title: str) -> tuple[str, str]:
    """(count, link) of the tile whose title is `title`."""
    found = re.findall(
        r'<a class="dash-tile" href="([^"]+)"><span class="dash-count">(\d+)</span> '
        rf'<span class="dash-title">{re.escape(title)}</span>',
        html,
    )
    assert len(found) >= 1, (title, html)
    return found[0][1], found[0][0].replace("&amp;", "&")


class HomeTests(WebTestCase):
    def test_it_counts_orders_waiting_for_the_owner_and_links_to_them(self) -> None:
        make_order(self.bob, self.project_a1, self.offering, name="one")
        make_order(self.bob, self.project_a1, self.offering, name="two")
        html = self.login(self.alice).get("/").content.decode()
        assert tile(html, "orders waiting for my approval") == ("2", "/my/orders/")
        assert tile(html, "of my resources ending within 30 days") == ("0", "/my/resources/?o=end_date")
        assert 'aria-label="My workspace"' in html  # the workspace menu, not one sentence
        assert 'aria-current="page">Waiting for me</a>' in html
        assert "Waiting for me as a service provider" not in html  # alice has no provider role

    def test_it_counts_what_waits_for_the_provider(self) -> None:
        waiting = make_order(self.alice, self.project_a1, self.offering, name="waits")
        assert waiting.state == "pending-provider"
        ending = self.resource("ending")
        set_resource_end_date_by_provider(
            resource=ending, user=self.carol, end_date=today() + datetime.timedelta(days=10)
        )
        self.resource("theirs", offering=self.offering_q, provider=self.quinn)  # not carol's
        page = self.login(self.carol).get("/").content.decode()
        html = page[page.index("Waiting for me as a service provider") :]
        assert tile(html, "orders waiting for my approval") == ("1", "/provider/orders/")
        assert tile(html, "resources in error") == ("0", "/provider/resources/?state=Erred")
        assert tile(html, "resources ending within 30 days") == ("1", "/provider/resources/?ending_within=30")
        # the list it opens holds what it counted
        listed = self.login(self.carol).get("/provider/resources/?ending_within=30").content.decode()
        assert 'aria-label="Expand ending"' in listed
        # alice, who owns its project, sees it on her side, sorted by end date
        mine = self.login(self.alice).get("/").content.decode()
        assert tile(mine, "of my resources ending within 30 days") == ("1", "/my/resources/?o=end_date")

    def test_it_counts_unread_notifications(self) -> None:
        make_order(self.bob, self.project_a1, self.offering, name="first")
        make_order(self.bob, self.project_a1, self.offering, name="second")
        run_tasks()  # the worker tells alice, who may approve them
        html = self.login(self.alice).get("/").content.decode()
        assert tile(html, "unread notifications") == ("2", "/notifications/")
        assert tile(self.login(self.bob).get("/").content.decode(), "unread notifications")[0] == "0"

    def test_it_keeps_its_queries_fixed_whatever_waits(self) -> None:
        client = self.login(self.carol)
        with CaptureQueriesContext(connection) as few:
            client.get("/")
        for n in range(5):
            make_order(self.alice, self.project_a1, self.offering, name=f"o{n}")
            self.resource(f"r{n}")
        with CaptureQueriesContext(connection) as many:
            html = client.get("/").content.decode()
        provider_side = html[html.index("Waiting for me as a service provider") :]
        assert tile(provider_side, "orders waiting for my approval")[0] == "5"
        assert len(many) == len(few) <= 14


class OfferingManagerTests(WebTestCase):
    """oscar manages offering O of provider P (and so is P's service manager, as in Waldur); carol owns P."""

    def test_it_shows_an_offering_manager_only_the_offering_they_manage(self) -> None:
        self.resource("on-o")
        self.resource("on-b", offering=self.basic)
        make_order(self.alice, self.project_a1, self.offering, name="order-o")
        make_order(self.alice, self.project_a1, self.basic, name="order-b")
        oscar, carol = self.login(self.oscar), self.login(self.carol)
        resources = oscar.get("/provider/resources/").content.decode()
        assert 'aria-label="Expand on-o"' in resources and "on-b" not in resources
        orders = oscar.get("/provider/orders/").content.decode()
        assert "order-o" in orders and "order-b" not in orders
        home = oscar.get("/").content.decode()
        provider_side = home[home.index("Waiting for me as a service provider") :]
        assert tile(provider_side, "orders waiting for my approval")[0] == "1"
        # the owner sees both offerings
        assert "on-b" in carol.get("/provider/resources/").content.decode()
        assert "order-b" in carol.get("/provider/orders/").content.decode()

    def test_a_service_manager_who_manages_no_offering_sees_them_all(self) -> None:
        grant_customer_role(customer=self.provider_p, user=self.dave, role=Role.CUSTOMER_MANAGER)
        self.resource("on-b", offering=self.basic)
        assert "on-b" in self.login(self.dave).get("/provider/resources/").content.decode()
