"""The bell on every page, the notifications page and the e-mail preferences in the profile."""

from __future__ import annotations

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from efp.accounts.models import User
from efp.notifications import services
from efp.notifications.models import Notification
from efp.notifications.tests.base import NotificationTestCase

BELL = re.compile(
    r'<a id="bell"[^>]*aria-label="Notifications, (\d+) unread"[^>]*>.*?(\d+) unread</span></a>', re.S
)


class BellTests(NotificationTestCase):
    def login(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def bell(self, client: Client, path: str = "/") -> tuple[int, int]:
        html = client.get(path).content.decode()
        match = BELL.search(html)
        assert match, html[:2000]
        return int(match.group(1)), int(match.group(2))

    def test_the_bell_shows_the_unread_count_in_words_on_every_page(self) -> None:
        alice = self.login(self.alice)
        assert self.bell(alice) == (0, 0)
        self.place_order(self.bob, name="first")
        self.place_order(self.bob, name="second")
        self.deliver()
        for path in ("/", "/profile/", "/my/orders/", "/organisations/", "/notifications/"):
            assert self.bell(alice, path) == (2, 2), path
        assert self.bell(self.login(self.bob)) == (0, 0)
        partial = alice.get("/notifications/bell/")
        assert partial.status_code == 200 and BELL.search(partial.content.decode())
        assert 'hx-get="/notifications/bell/"' in partial.content.decode()

    def test_the_page_lists_mine_newest_first_with_links_and_marks_them_read(self) -> None:
        first = self.place_order(self.bob, name="first")
        second = self.place_order(self.bob, name="second")
        self.deliver()
        alice = self.login(self.alice)
        html = alice.get("/notifications/").content.decode()
        assert html.index("Create order for second") < html.index("Create order for first")
        assert (
            f'<a href="/my/orders/{first.uuid.hex}/">Create order for first waits for your approval</a>'
            in html
        )
        assert html.count("Mark read</button>") == 2
        assert "Create order" not in self.login(self.carol).get("/notifications/").content.decode()

        row = Notification.objects.get(user=self.alice, subject__contains="second")
        assert alice.post(f"/notifications/{row.uuid.hex}/read/")["Location"] == "/notifications/"
        assert services.unread_count(self.alice) == 1
        unread = alice.get("/notifications/?unread=1").content.decode()
        assert f"/my/orders/{second.uuid.hex}/" not in unread and f"/my/orders/{first.uuid.hex}/" in unread
        # Someone else's notification is nobody's business: 404, and it stays unread.
        other = self.place_order(self.alice, name="own")
        self.deliver()
        carols = Notification.objects.get(user=self.carol, subject__contains="own")
        assert alice.post(f"/notifications/{carols.uuid.hex}/read/").status_code == 404
        carols.refresh_from_db()
        assert carols.read_at is None and other.state == "pending-provider"

        response = alice.post("/notifications/read-all/", follow=True)
        assert "1 notification marked read." in response.content.decode()
        assert services.unread_count(self.alice) == 0
        assert "No unread notifications." in alice.get("/notifications/?unread=1").content.decode()

    def test_the_page_runs_the_same_queries_for_few_and_many(self) -> None:
        alice = self.login(self.alice)

        def count() -> int:
            alice.get("/notifications/")
            with CaptureQueriesContext(connection) as queries:
                assert alice.get("/notifications/").status_code == 200
            return len(queries)

        self.place_order(self.bob, name="one")
        self.deliver()
        few = count()
        for index in range(10):
            self.place_order(self.bob, name=f"more-{index}")
        self.deliver()
        assert count() == few


class PreferencesPageTests(NotificationTestCase):
    def test_the_profile_shows_and_saves_the_choice_per_group(self) -> None:
        client = Client()
        client.force_login(self.bob)
        html = client.get("/profile/").content.decode()
        assert "<title>Profile · EFP Allocations</title>" in html
        assert html.count('<h2 id="notification-preferences">E-mail notifications</h2>') == 1
        assert "<legend>Orders waiting for you and orders you placed</legend>" in html
        assert re.search(r'<input type="radio" name="orders" value="immediately"[^>]*checked', html)
        body = {"orders": "daily_digest", "usage": "off", "end_dates": "immediately", "roles": "immediately"}
        body["hooks"] = "off"
        response = client.post("/profile/notifications/", body, follow=True)
        assert "Your e-mail preferences were saved." in response.content.decode()
        assert services.preferences_of(self.bob) == body
        assert re.search(
            r'<input type="radio" name="orders" value="daily_digest"[^>]*checked', response.content.decode()
        )

    def test_a_bad_choice_shows_the_form_again(self) -> None:
        client = Client()
        client.force_login(self.bob)
        response = client.post("/profile/notifications/", {"orders": "weekly"})
        assert response.status_code == 400
        assert "Select a valid choice." in response.content.decode()
        assert services.preferences_of(self.bob)["orders"] == "immediately"
