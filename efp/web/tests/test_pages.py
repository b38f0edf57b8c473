"""Every page answers every persona without a server error, with the status their role calls for."""

from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase


class EveryPageTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        self.report(self.alloc, cpu=3, storage=2)
        self.order = make_order(self.alice, self.project_a1, self.offering, name="pending")
        r, o = self.alloc.uuid.hex, self.order.uuid.hex
        self.pages = [
            "/provider/",
            "/provider/resources/",
            "/provider/resources/?state=Bogus&min_percent=-1&ending_within=x&no_report=2026-13&offering=zz&page=99",
            f"/provider/resources/{r}/usage/",
            f"/provider/resources/{r}/usage/?component=nope&months=7&month=bad",
            f"/provider/resources/{r}/usage.csv?months=all",
            f"/provider/resources/{r}/report/",
            f"/provider/resources/{r}/backend-id/",
            f"/provider/resources/{r}/end-date/",
            "/provider/orders/",
            "/provider/orders/?filtered=1&state=nope&type=nope&created_before=never&page=-3",
            f"/provider/orders/{o}/",
            f"/provider/orders/{o}/approve/",
            f"/provider/orders/{o}/reject/",
        ]

    def test_it_serves_every_page_to_provider_users(self) -> None:
        for user in (self.carol, self.oscar, self.rita, self.staff):
            client = self.login(user)
            for path in self.pages:
                response = client.get(path)
                expected = {200}
                if user == self.rita and path.endswith("/report/"):
                    expected = {403}
                assert response.status_code in expected, (user.username, path, response.status_code)

    def test_it_refuses_every_page_to_consumers_and_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            client = self.login(user)
            for path in self.pages:
                assert client.get(path).status_code == 403, (user.username, path)
                assert client.post(path, {}).status_code in (403, 405), (user.username, path)

    def test_it_sends_anonymous_users_to_log_in(self) -> None:
        client = self.login(None)
        for path in self.pages:
            response = client.get(path)
            assert response.status_code == 302 and response["Location"].startswith("/login/"), path

    def test_it_survives_empty_and_odd_posts(self) -> None:
        client = self.login(self.carol)
        for path in self.pages:
            response = client.post(
                path, {"month": "1999-01", "amount_cpu": "NaN", "end_date": "x", "comment": ""}
            )
            assert response.status_code < 500, (path, response.status_code)
        assert client.post("/provider/orders/bulk/", {}).status_code == 302
        assert client.post("/provider/orders/bulk/", {"action": "approve"}).status_code == 302
        assert client.post("/logout/", {}).status_code == 302

    def test_it_answers_nul_bytes_and_junk_without_a_server_error(self) -> None:
        client = self.login(self.carol)
        junk = "a\x00b"
        r = self.alloc.uuid.hex
        for path in self.pages:
            response = client.get(
                path, {"q": junk, "project": junk, "month": junk, "component": junk, "next": junk}
            )
            assert response.status_code < 500, (path, response.status_code)
        posts = {
            f"/provider/resources/{r}/backend-id/": {"backend_id": junk},
            f"/provider/resources/{r}/end-date/": {"end_date": "", "next": "/provider/\x00\r\nX: y"},
            f"/provider/resources/{r}/report/": {"month": junk, "amount_cpu": "1", "description_cpu": junk},
            f"/provider/orders/{self.order.uuid.hex}/reject/": {"comment": junk, "next": junk},
            "/provider/orders/bulk/": {
                "action": "reject",
                "order": [junk, self.order.uuid.hex],
                "confirm": "1",
            },
        }
        for path, data in posts.items():
            response = client.post(path, data)
            assert response.status_code < 500, (path, response.status_code)
        self.order.refresh_from_db()
        assert self.order.state == "pending-provider"
