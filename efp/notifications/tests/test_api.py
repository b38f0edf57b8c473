"""`/api/notifications/` and `/api/notification-preferences/`: each person reads and marks their own."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.events.models import Event
from efp.notifications import services
from efp.notifications.models import Notification
from efp.notifications.tests.base import NotificationTestCase


class NotificationApiTests(NotificationTestCase):
    def setUp(self) -> None:
        self.first = self.place_order(self.bob, name="first")
        self.second = self.place_order(self.bob, name="second")
        self.deliver()

    def test_it_lists_my_own_newest_first(self) -> None:
        response = self.as_user(self.alice).get("/api/notifications/")
        assert response.status_code == 200
        rows = response.json()
        assert [row["subject"] for row in rows] == [
            "Create order for second waits for your approval",
            "Create order for first waits for your approval",
        ]
        row = rows[0]
        assert row["url"] == f"http://127.0.0.1:8000/my/orders/{self.second.uuid.hex}/"
        assert (row["kind"], row["group"], row["is_read"], row["read_at"]) == (
            "order_waiting",
            "orders",
            False,
            None,
        )
        assert (
            row["event_uuid"]
            == Event.objects.get(pk=Notification.objects.get(uuid=row["uuid"]).event_id).uuid.hex
        )
        assert row["email_state"] == "sent" and row["emailed_at"].endswith("Z")
        assert "html" not in row
        assert response["X-Result-Count"] == "2"

    def test_nobody_sees_anyone_elses(self) -> None:
        for user in (self.bob, self.carol, self.dave, self.staff):
            assert self.as_user(user).get("/api/notifications/").json() == [], user
        mine = Notification.objects.filter(user=self.alice).first()
        assert mine is not None
        assert self.as_user(self.staff).get(f"/api/notifications/{mine.uuid.hex}/").status_code == 404
        assert self.as_user(self.dave).post(f"/api/notifications/{mine.uuid.hex}/read/").status_code == 404
        assert self.as_user(None).get("/api/notifications/").status_code == 401
        mine.refresh_from_db()
        assert mine.read_at is None

    def test_marking_one_read_and_the_unread_filter(self) -> None:
        client = self.as_user(self.alice)
        first = Notification.objects.get(user=self.alice, subject__contains="first")
        response = client.post(f"/api/notifications/{first.uuid.hex}/read/")
        assert response.status_code == 200 and response.json()["is_read"] is True
        again = client.post(f"/api/notifications/{first.uuid.hex}/read/")
        assert again.json()["read_at"] == response.json()["read_at"]
        unread = client.get("/api/notifications/?unread=true").json()
        assert [row["subject"] for row in unread] == ["Create order for second waits for your approval"]
        read = client.get("/api/notifications/?unread=false").json()
        assert [row["uuid"] for row in read] == [first.uuid.hex]
        assert services.unread_count(self.alice) == 1
        assert len(client.get("/api/notifications/?group=orders").json()) == 2
        assert client.get("/api/notifications/?group=usage").json() == []

    def test_marking_all_read(self) -> None:
        response = self.as_user(self.alice).post("/api/notifications/read_all/")
        assert response.status_code == 200 and response.json() == {"marked": 2}
        assert self.as_user(self.alice).post("/api/notifications/read_all/").json() == {"marked": 0}
        assert services.unread_count(self.alice) == 0

    def test_the_list_runs_the_same_queries_for_one_row_and_for_many(self) -> None:
        client = self.as_user(self.alice)

        def count(url: str) -> tuple[int, int]:
            client.get(url)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            return len(queries), len(response.json())

        few, rows = count("/api/notifications/?page_size=50")
        for index in range(12):
            self.place_order(self.bob, name=f"more-{index}")
        self.deliver()
        many, more_rows = count("/api/notifications/?page_size=50")
        assert (rows, more_rows) == (2, 14)
        assert many == few, (few, many)


class PreferenceApiTests(NotificationTestCase):
    def test_it_reads_and_sets_my_own(self) -> None:
        client = self.as_user(self.bob)
        assert client.get("/api/notification-preferences/").json()["orders"] == "immediately"
        response = client.put(
            "/api/notification-preferences/", {"orders": "daily_digest", "usage": "off"}, format="json"
        )
        assert response.status_code == 200
        assert response.json() == {
            "orders": "daily_digest",
            "usage": "off",
            "end_dates": "immediately",
            "roles": "immediately",
            "hooks": "immediately",
        }
        assert services.preferences_of(self.bob)["orders"] == "daily_digest"
        assert services.preferences_of(self.alice)["orders"] == "immediately"

    def test_bad_input_is_400_with_field_errors(self) -> None:
        response = self.as_user(self.bob).put(
            "/api/notification-preferences/", {"orders": "weekly"}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["orders"]
        assert self.as_user(None).get("/api/notification-preferences/").status_code == 401
