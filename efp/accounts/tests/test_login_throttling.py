"""Login throttling (django-axes): five wrong passwords for one username from one address lock that pair
out for the cool-off time, on the GUI login and on POST /api-auth/password/; the right password does not
help meanwhile; after the cool-off it works again; a success resets the count."""

from __future__ import annotations

import datetime

import time_machine
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from efp.marketplace.tests.base import MarketplaceTestCase

START = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)
LIMIT = settings.AXES_FAILURE_LIMIT
COOLOFF = settings.AXES_COOLOFF_TIME


def api_login(password: str, username: str = "alice", address: str = "10.0.0.1") -> tuple[int, dict, dict]:
    response = APIClient(REMOTE_ADDR=address).post(
        "/api-auth/password/", {"username": username, "password": password}, format="json"
    )
    return response.status_code, response.json(), dict(response.headers)


def gui_login(password: str, username: str = "alice", address: str = "10.0.0.1") -> tuple[int, str]:
    response = Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})
    return response.status_code, response.content.decode()


class TokenEndpointThrottlingTests(MarketplaceTestCase):
    def test_it_locks_out_after_the_failure_limit_and_lets_in_after_the_cool_off(self) -> None:
        assert LIMIT == 5 and datetime.timedelta(minutes=15) == COOLOFF
        with time_machine.travel(START, tick=False):
            for _ in range(LIMIT - 1):
                assert api_login("wrong")[0] == 401
            status, body, headers = api_login("wrong")
            assert status == 429
            assert body == {"detail": "Too many failed login attempts. Try again in 15 minutes."}
            assert headers["Retry-After"] == "900"
            assert api_login("alice")[0] == 429  # the right password does not help while locked
        with time_machine.travel(START + COOLOFF - datetime.timedelta(seconds=5), tick=False):
            assert api_login("alice")[0] == 429
        with time_machine.travel(START + COOLOFF + datetime.timedelta(seconds=5), tick=False):
            status, body, _ = api_login("alice")
            assert status == 200 and "token" in body

    def test_it_locks_only_the_username_and_address_pair(self) -> None:
        for _ in range(LIMIT):
            api_login("wrong")
        assert api_login("alice")[0] == 429
        assert api_login("alice", address="10.0.0.2")[0] == 200  # alice elsewhere
        assert api_login("bob", username="bob")[0] == 200  # bob from the same address

    def test_it_resets_the_count_after_a_success(self) -> None:
        for _ in range(LIMIT - 1):
            assert api_login("wrong")[0] == 401
        assert api_login("alice")[0] == 200
        for _ in range(LIMIT - 1):
            assert api_login("wrong")[0] == 401
        assert api_login("alice")[0] == 200


class GuiLoginThrottlingTests(MarketplaceTestCase):
    def test_it_locks_out_the_gui_login_after_the_failure_limit(self) -> None:
        with time_machine.travel(START, tick=False):
            for _ in range(LIMIT - 1):
                status, html = gui_login("wrong")
                assert status == 200 and "correct username and password" in html
            status, html = gui_login("wrong")
            assert status == 429
            assert "Too many failed login attempts. Try again in 15 minutes." in html
            assert gui_login("alice")[0] == 429
        with time_machine.travel(START + COOLOFF + datetime.timedelta(seconds=5), tick=False):
            status, _ = gui_login("alice")
            assert status == 302

    def test_it_counts_gui_and_api_failures_together(self) -> None:
        for _ in range(LIMIT - 1):
            gui_login("wrong")
        assert api_login("wrong")[0] == 429
        assert gui_login("alice")[0] == 429
