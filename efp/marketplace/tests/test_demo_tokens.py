"""The demo prints working API tokens however often it runs, and each demo user keeps one `demo` token."""

from __future__ import annotations

from django.test import TestCase
from rest_framework.test import APIClient

from efp.accounts.models import ApiToken
from efp.marketplace import demo


def status_with(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/users/me/").status_code


class DemoTokenTests(TestCase):
    def test_it_prints_working_tokens_and_keeps_one_per_user(self) -> None:
        first = demo.tokens()
        again = demo.tokens()
        assert set(again) == set(demo.DEMO_USERS)
        assert all(status_with(key) == 200 for key in again.values())
        assert all(status_with(key) == 401 for key in first.values())  # the ones printed before
        live = ApiToken.objects.filter(name=demo.DEMO_TOKEN, revoked__isnull=True)
        assert sorted(live.values_list("user__username", flat=True)) == sorted(demo.DEMO_USERS)
