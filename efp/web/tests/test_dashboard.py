import datetime
import re

import time_machine
from django.utils import timezone

from efp.marketplace.models import Resource
from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase


def tile(html: str, title: str) -> tuple[int, str]:
    match = re.search(
        r'<a class="dash-tile" href="([^"]+)"><span class="dash-count">(\d+)</span> <span class="dash-title">'
        + re.escape(title),
        html,
    )
    assert match, title
    return int(match.group(2)), match.group(1).replace("&amp;", "&")


class DashboardTests(WebTestCase):
    def test_it_shows_tiles_that_link_to_prefiltered_lists(self) -> None:
        full = self.resource("full")
        self.report(full, storage=10, cpu=3)
        ending = self.resource("ending")
        Resource.objects.filter(pk=ending.pk).update(
            end_date=timezone.localdate() + datetime.timedelta(days=5)
        )
        make_order(self.alice, self.project_a1, self.offering, name="waiting")
        client = self.login(self.carol)
        html = client.get("/provider/").content.decode()

        count, url = tile(html, "Orders pending my approval")
        assert count == 1 and url == "/provider/orders/"
        count, url = tile(html, "Active resources")
        assert count == 2 and url == "/provider/resources/?state=OK"
        count, url = tile(html, "Erred resources")
        assert count == 0
        count, url = tile(html, "At or above 90 % of a limit")
        assert count == 1 and url == "/provider/resources/?min_percent=90"
        assert re.findall(r'aria-label="Expand ([^"]+)"', client.get(url).content.decode()) == ["full"]
        count, url = tile(html, "Ending within 30 days")
        assert count == 1
        assert re.findall(r'aria-label="Expand ([^"]+)"', client.get(url).content.decode()) == ["ending"]
        count, url = tile(html, "Missing usage reports last month")
        assert url.startswith("/provider/coverage/?from=")

    def test_it_counts_the_resources_without_last_months_report_that_its_list_shows(self) -> None:
        with time_machine.travel(timezone.now() - datetime.timedelta(days=70), tick=False):
            self.resource("silent")
            talkative = self.resource("talkative")
        last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
        self.report(talkative, month=last_month, cpu=5)
        client = self.login(self.carol)
        count, url = tile(client.get("/provider/").content.decode(), "Missing usage reports last month")
        month = f"{last_month:%Y-%m}"
        assert count == 1 and url == f"/provider/coverage/?from={month}&to={month}&only_missing=on"
        matrix = client.get(url).content.decode()
        assert re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', matrix) == ["silent"]
        listed = client.get(f"/provider/resources/?no_report={month}").content.decode()
        assert re.findall(r'aria-label="Expand ([^"]+)"', listed) == ["silent"]

    def test_it_shows_a_sparkline_per_component(self) -> None:
        self.report(self.resource(), cpu=5)
        html = self.login(self.carol).get("/provider/").content.decode()
        assert '<svg class="sparkline"' in html
        assert "Offering O, CPU: monthly usage over 12 months" in html

    def test_it_shows_the_pending_badge_in_the_menu(self) -> None:
        make_order(self.alice, self.project_a1, self.offering)
        html = self.login(self.carol).get("/provider/").content.decode()
        assert '<span class="badge">1<span class="visually-hidden"> waiting for approval</span>' in html

    def test_it_forbids_consumers(self) -> None:
        assert self.login(self.alice).get("/provider/").status_code == 403
