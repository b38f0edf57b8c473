"""Pat, whom only the OpenID provider knows, signs in through the provider's own sign-in page in Debian's
Chromium: the login page's "Sign in with Test provider" → the provider (django-oidc-provider, started on
127.0.0.1 by the test) → back, signed in as a new person. With EFP_PASSWORD_LOGIN=false the login page
offers only the provider. The login page passes axe-core both ways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from efp.accounts.models import OidcIdentity, User
from efp.accounts.oidc import discovery
from efp.tests.oidc_provider.run import PASSWORD, USERNAME, Provider, running_provider
from efp.web.tests.test_accessibility import AXE, violations
from efp.web.tests.test_browser import WIDTHS, browser_page, shot
from efp.web.tests.test_browser_consumer import log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


@pytest.fixture(scope="module")
def provider(live_server: Any) -> Iterator[Provider]:
    with running_provider(f"{live_server.url}/oidc/callback/") as started:
        yield started


@pytest.fixture
def oidc(provider: Provider, settings: Any) -> Provider:
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    discovery.forget()
    cache.clear()
    return provider


def passes_axe(page: Any) -> None:
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing (make test runs npm ci)")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert violations(page) == [], width
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def sign_in_at_the_provider(page: Any) -> None:
    page.get_by_role("link", name="Sign in with Test provider").click()
    page.get_by_role("heading", name="Test provider").wait_for()
    page.get_by_label("Provider username").fill(USERNAME)
    page.get_by_label("Provider password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()


def test_pat_signs_in_through_the_providers_page_and_becomes_a_person(
    browser_page: Any, oidc: Provider
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto("/login/")
    expect(page.get_by_label("Password")).to_be_visible()  # passwords stay on by default
    passes_axe(page)
    shot(page, "oidc-01-login")
    sign_in_at_the_provider(page)
    expect(page.get_by_role("heading", name="Welcome, Pat Provider")).to_be_visible()
    shot(page, "oidc-02-signed-in")
    pat = User.objects.get(username="pat")
    assert pat.email == "pat@example.org" and OidcIdentity.objects.get(user=pat).issuer == oidc.issuer

    # Again, later: the provider remembers Pat, and Pat is the same person here.
    log_out(page)
    page.get_by_role("link", name="Sign in with Test provider").click()
    expect(page.get_by_role("heading", name="Welcome, Pat Provider")).to_be_visible()
    assert User.objects.filter(email="pat@example.org").count() == 1


def test_with_passwords_off_the_login_page_offers_only_the_provider(
    browser_page: Any, oidc: Provider, settings: Any
) -> None:
    from playwright.sync_api import expect

    settings.PASSWORD_LOGIN = False
    page = browser_page
    page.goto("/login/?next=/profile/")
    expect(page.get_by_label("Password")).to_have_count(0)
    passes_axe(page)
    shot(page, "oidc-03-login-without-passwords")
    sign_in_at_the_provider(page)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    assert page.url.endswith("/profile/")
