"""Test-wide settings."""

from collections.abc import Iterator

import pytest


def pytest_configure() -> None:
    from django.conf import settings

    # Every persona has a password; PBKDF2 at production strength made each test class's setup take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def unthrottled(request: pytest.FixtureRequest) -> Iterator[None]:
    """The API's rate limits are lifted in tests (the fuzzer alone sends thousands of requests), except
    in those marked `throttled`, which check them (with the counts of earlier tests cleared)."""
    from django.core.cache import cache
    from django.test import override_settings

    if request.node.get_closest_marker("throttled"):
        cache.clear()
        yield
        cache.clear()
        return
    with override_settings(EFP_API_RATE=(10**9, 60), EFP_API_ANON_RATE=(10**9, 60)):
        yield
