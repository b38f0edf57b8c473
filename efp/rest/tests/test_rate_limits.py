"""The API's rate limits: each credential its own budget, 429 with Retry-After past it."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from rest_framework.request import Request

from efp.marketplace.tests.factories import make_token, make_user
from efp.rest.throttling import CredentialRateThrottle
from efp.settings import parse_rate


@pytest.mark.throttled
@override_settings(EFP_API_RATE=(3, 60), EFP_API_ANON_RATE=(2, 60))
class RateLimitTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        # Two site agents of one provider, each with its own token.
        cls.agent_one = make_user("agent-one")
        cls.agent_two = make_user("agent-two")
        cls.token_one = make_token(cls.agent_one)
        cls.token_two = make_token(cls.agent_two)

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


def agent_request(token_key: str) -> Request:
    """A request of a site agent authenticated by its token (a stand-in: no database needed)."""
    request = Request(RequestFactory().get("/api/marketplace-orders/", REMOTE_ADDR="192.0.2.50"))
    request.user = SimpleNamespace(is_authenticated=True, pk=1)
    request.auth = SimpleNamespace(pk=token_key)
    return request


@pytest.mark.throttled
class DefaultRateTests(SimpleTestCase):
    """A site agent's loop makes about 10 requests a minute (docs/deploy.md): the defaults let 1,000 agents
    of one provider through, each on its own token, and even all on one shared token."""

    def test_it_has_the_documented_defaults(self) -> None:
        assert (settings.EFP_API_RATE, settings.EFP_API_ANON_RATE) == ((10000, 60), (600, 60))

    @time_machine.travel(datetime.datetime(2026, 12, 1, 12, 0, 5, tzinfo=datetime.UTC), tick=False)
    def test_it_lets_1000_agents_of_one_provider_through_in_one_minute(self) -> None:
        throttle = CredentialRateThrottle()
        own = [agent_request(f"agent-{n}") for n in range(1000)]
        assert all(throttle.allow_request(r, None) for _ in range(10) for r in own)
        shared = agent_request("one-token-for-all")
        assert all(throttle.allow_request(shared, None) for _ in range(1000 * 10))
        assert not throttle.allow_request(shared, None)  # the 10,001st of the minute
        assert throttle.wait() == 55  # seconds to the next minute


class UnthrottledTestsTests(TestCase):
    def test_it_lifts_the_limits_for_tests_not_marked_throttled(self) -> None:
        token = make_token(make_user("busy-agent"))
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
