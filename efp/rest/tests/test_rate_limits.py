"""The API's rate limits: each credential its own budget, 429 with Retry-After past it."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase, TestCase, override_settings
from rest_framework.authtoken.models import Token

from efp.marketplace.tests.factories import make_user
from efp.settings import parse_rate


@pytest.mark.throttled
@override_settings(EFP_API_RATE=(3, 60), EFP_API_ANON_RATE=(2, 60))
class RateLimitTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        # Two site agents of one provider, each with its own token.
        cls.agent_one = make_user("agent-one")
        cls.agent_two = make_user("agent-two")
        cls.token_one = Token.objects.create(user=cls.agent_one).key
        cls.token_two = Token.objects.create(user=cls.agent_two).key

    def get_me(self, token: str, **extra: str) -> int:
        return self.client.get("/api/users/me/", HTTP_AUTHORIZATION=f"Token {token}", **extra).status_code

    def test_it_answers_429_with_retry_after_once_a_token_spent_its_budget(self) -> None:
        assert [self.get_me(self.token_one) for _ in range(3)] == [200, 200, 200]
        response = self.client.get("/api/users/me/", HTTP_AUTHORIZATION=f"Token {self.token_one}")
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["detail"].startswith("Request was throttled.")
        assert 1 <= int(response["Retry-After"]) <= 60

    def test_it_keeps_a_budget_per_token_not_per_address(self) -> None:
        for _ in range(3):
            self.get_me(self.token_one)
        assert self.get_me(self.token_one) == 429
        # The other agent, from the same address, is not slowed down by the first.
        assert [self.get_me(self.token_two) for _ in range(3)] == [200, 200, 200]

    def test_it_counts_anonymous_requests_by_address(self) -> None:
        here, there = {"REMOTE_ADDR": "192.0.2.10"}, {"REMOTE_ADDR": "192.0.2.20"}
        assert [self.client.get("/api/version/", **here).status_code for _ in range(3)] == [200, 200, 429]
        assert self.client.get("/api/version/", **there).status_code == 200
        # A token from the exhausted address has its own budget.
        assert self.get_me(self.token_one, **here) == 200

    def test_it_counts_a_signed_in_person_by_user(self) -> None:
        self.client.force_login(self.agent_one)
        assert [self.client.get("/api/users/me/").status_code for _ in range(4)] == [200, 200, 200, 429]


class UnthrottledTestsTests(TestCase):
    def test_it_lifts_the_limits_for_tests_not_marked_throttled(self) -> None:
        token = Token.objects.create(user=make_user("busy-agent")).key
        statuses = {self.client.get("/api/version/", HTTP_AUTHORIZATION=f"Token {token}").status_code}
        statuses |= {self.client.get("/api/version/").status_code for _ in range(700)}
        assert statuses == {200}


class ParseRateTests(SimpleTestCase):
    def test_it_reads_drf_spelling(self) -> None:
        assert parse_rate("EFP_API_RATE", "10000/minute") == (10000, 60)
        assert parse_rate("EFP_API_RATE", " 5/second ") == (5, 1)
        assert parse_rate("EFP_API_RATE", "100/day") == (100, 86400)

    def test_it_refuses_a_bad_value_naming_the_variable(self) -> None:
        for bad in ("", "10000", "many/minute", "0/minute", "10/fortnight", "-1/hour"):
            with pytest.raises(ImproperlyConfigured, match="EFP_API_ANON_RATE"):
                parse_rate("EFP_API_ANON_RATE", bad)
