"""API tokens with a lifetime (docs/contract.md §1.2): `user.token_lifetime` seconds after the token's
last use, 401 "Token has expired." after it; every authenticated request restarts it; empty means never."""

from __future__ import annotations

import datetime

import time_machine
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from efp.accounts.models import ApiToken
from efp.accounts.services import digest_of, issue_token
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_user

START = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)


def me(key: str) -> tuple[int, dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/users/me/")
    return response.status_code, response.json()


class TokenLifetimeTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.alice.token_lifetime = 3600
        self.alice.save(update_fields=["token_lifetime"])

    def test_it_refuses_a_token_unused_for_longer_than_the_lifetime(self) -> None:
        with time_machine.travel(START, tick=False):
            key = issue_token(user=self.alice, name="laptop")[1]
        with time_machine.travel(START + datetime.timedelta(seconds=3599), tick=False):
            assert me(key)[0] == 200
        with time_machine.travel(START + datetime.timedelta(seconds=3599 + 3601), tick=False):
            status, body = me(key)
        assert status == 401
        assert body == {"detail": "Token has expired."}

    def test_it_slides_the_lifetime_on_every_authenticated_request(self) -> None:
        with time_machine.travel(START, tick=False):
            key = issue_token(user=self.alice, name="laptop")[1]
        for hours in range(1, 6):  # five hours of use, never an hour apart
            with time_machine.travel(START + datetime.timedelta(minutes=50 * hours), tick=False):
                assert me(key)[0] == 200, hours
        token = ApiToken.objects.get(digest=digest_of(key))
        assert token.last_used == START + datetime.timedelta(minutes=250)

    def test_it_never_expires_a_token_of_a_user_without_lifetime(self) -> None:
        with time_machine.travel(START, tick=False):
            key = issue_token(user=self.bob, name="laptop")[1]
        with time_machine.travel(START + datetime.timedelta(days=400), tick=False):
            assert me(key)[0] == 200
            assert me(key)[0] == 200
        # the first use is noted, the second (within the minute, from the same address) writes nothing
        assert ApiToken.objects.get(digest=digest_of(key)).last_used == START + datetime.timedelta(days=400)

    def test_it_hands_out_a_new_token_at_each_password_login(self) -> None:
        with time_machine.travel(START, tick=False):
            old = issue_token(user=self.alice, name="laptop")[1]
        with time_machine.travel(START + datetime.timedelta(hours=2), tick=False):
            response = APIClient().post(
                "/api-auth/password/", {"username": "alice", "password": "alice"}, format="json"
            )
            new = response.json()["token"]
            assert new != old
            assert me(new)[0] == 200
            assert me(old)[0] == 401

    def test_it_prints_a_fresh_token_from_the_command(self) -> None:
        from io import StringIO

        with time_machine.travel(START, tick=False):
            old = issue_token(user=self.alice, name="laptop")[1]
        out = StringIO()
        with time_machine.travel(START + datetime.timedelta(hours=2), tick=False):
            call_command("token", "alice", stdout=out)
            assert me(out.getvalue().strip())[0] == 200
        assert out.getvalue().strip() != old

    @override_settings(TOKEN_LIFETIME=600)
    def test_it_gives_new_users_the_configured_lifetime(self) -> None:
        assert make_user("newcomer").token_lifetime == 600

    def test_it_gives_new_users_no_lifetime_by_default(self) -> None:
        assert make_user("newcomer").token_lifetime is None
