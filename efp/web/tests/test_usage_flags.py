"""Usage flags in the GUI: dashboard tiles that open the filtered list, badges with words, the list's filter.

Today is 28 June 2026. alice's allocation "over" has used 12 of its 10 TB of storage, "calm" 1 of 10;
quinn's "elsewhere" (provider Q) is over too, and carol must not count it.
"""

from __future__ import annotations

import datetime
import re

import time_machine

from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.tests.factories import make_resource
from efp.web.tests.base import WebTestCase
from efp.web.tests.test_dashboard import tile

NOW = datetime.datetime(2026, 6, 28, 12, tzinfo=datetime.UTC)


def listed(html: str) -> list[str]:
    return re.findall(r'aria-label="Expand ([^"]+)"', html)


def badges(html: str) -> list[str]:
    return re.findall(r'<span class="flag flag-[a-z_]+" title="[^"]*">([^<]+)</span>', html)


@time_machine.travel(NOW, tick=False)
class UsageFlagPageTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(NOW, tick=False):
            cls.over, cls.calm = cls.make("over"), cls.make("calm")
            cls.elsewhere = make_resource(
                cls.alice, cls.quinn, cls.project_a1, cls.offering_q, name="elsewhere"
            )

    @classmethod
    def make(cls, name: str) -> object:
        return make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name=name)

    def setUp(self) -> None:
        self.report(self.over, storage=12)
        self.report(self.calm, storage=1)
        self.report(self.elsewhere, storage=12)
        refresh_forecasts()

    def test_the_dashboard_counts_each_flag_and_links_to_the_filtered_list(self) -> None:
        client = self.login(self.carol)
        html = client.get("/provider/").content.decode()
        count, url = tile(html, "Over a limit")
        assert (count, url) == (1, "/provider/resources/?usage_flag=over_limit")
        page = client.get(url).content.decode()
        assert listed(page) == ["over"]
        assert badges(page) == ["Over a limit"]
        for label in ("Runs out before its end", "Usage lowered", "Usage spike"):
            count, url = tile(html, label)
            assert count == 0 and url.startswith("/provider/resources/?usage_flag="), label

    def test_the_resources_list_shows_badges_in_words_and_filters_by_flag(self) -> None:
        client = self.login(self.carol)
        page = client.get("/provider/resources/").content.decode()
        assert listed(page) == ["calm", "over"]
        assert badges(page) == ["Over a limit"]
        assert 'title="Usage is over a limit."' in page
        assert '<option value="over_limit">Over a limit</option>' in page
        assert listed(client.get("/provider/resources/?usage_flag=spike").content.decode()) == []

    def test_an_unknown_flag_is_an_error_on_the_form_not_a_crash(self) -> None:
        response = self.login(self.carol).get("/provider/resources/?usage_flag=doomed")
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()

    def test_the_consumer_sees_badges_on_my_resources(self) -> None:
        page = self.login(self.alice).get("/my/resources/").content.decode()
        assert badges(page) == ["Over a limit", "Over a limit"]  # over and elsewhere
        assert badges(self.login(self.dave).get("/my/resources/").content.decode()) == []

    def test_the_provider_reader_sees_the_tiles_and_another_provider_does_not_see_carols(self) -> None:
        count, _ = tile(self.login(self.rita).get("/provider/").content.decode(), "Over a limit")
        assert count == 1
        count, url = tile(self.login(self.quinn).get("/provider/").content.decode(), "Over a limit")
        assert count == 1
        assert listed(self.login(self.quinn).get(url).content.decode()) == ["elsewhere"]

    def test_show_usage_says_when_the_limit_runs_out_and_shows_the_flags(self) -> None:
        client = self.login(self.carol)
        page = client.get(
            f"/provider/resources/{self.over.uuid.hex}/usage/?component=storage"
        ).content.decode()
        assert "At 12 TB a day (this month so far and the 3 months before), the limit runs out on" in page
        assert "<strong>2026-06-28</strong>" in page
        assert badges(page) == ["Over a limit"]
        calm = self.login(self.alice).get(f"/my/resources/{self.calm.uuid.hex}/usage/?component=storage")
        assert "the limit does not run out before it starts over." in calm.content.decode()
        assert badges(calm.content.decode()) == []
