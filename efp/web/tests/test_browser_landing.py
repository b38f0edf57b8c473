"""The landing page, widths and inputs in Debian's Chromium, on the demo data: each persona lands on what
waits for them (screenshots at 1280 and 375 px), no main page of either workspace scrolls sideways at
1280 px, a date field shows and takes YYYY-MM-DD, a field's error goes once it is fixed, and logging out
says so."""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.marketplace import demo
from efp.marketplace.models import Resource
from efp.web.tests.test_browser import browser_page, shot
from efp.web.tests.test_browser_consumer import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

PROVIDER_PAGES = [
    "/",
    "/provider/",
    "/provider/resources/",
    "/provider/resources/?include_terminated=on",
    "/provider/orders/",
    "/provider/orders/?filtered=1",
    "/provider/coverage/",
    "/provider/usage-report/",
    "/provider/usage-import/",
    "/provider/hooks/",
    "/notifications/",
    "/profile/",
]
CONSUMER_PAGES = [
    "/",
    "/marketplace/",
    "/my/orders/",
    "/my/resources/",
    "/my/usage-report/",
    "/organisations/",
    "/notifications/",
    "/profile/",
]


def too_wide(page: Any, paths: list[str]) -> dict[str, int]:
    wide = {}
    for path in paths:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 1280:
            wide[path] = width
    return wide


def test_each_persona_lands_on_what_waits_for_them(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    for persona in ("provider", "owner", "member"):
        log_in(page, persona)
        menu = page.get_by_role("navigation", name="My workspace")
        expect(menu.get_by_role("link", name="Waiting for me")).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", name="Waiting for me in my workspace")).to_be_visible()
        shot(page, f"l01-landing-{persona}")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_text("You have logged out.")).to_be_visible()
    # The owner's approvals open the list that holds them.
    log_in(page, "owner")
    tile = page.get_by_role("link", name=re.compile("orders waiting for my approval"))
    count = int(tile.locator(".dash-count").inner_text())
    assert count >= 1
    tile.click()
    expect(
        page.get_by_role("table", name="Orders waiting for my approval").locator("tbody tr")
    ).to_have_count(count)


def test_no_main_page_scrolls_sideways_at_1280_px(browser_page: Any) -> None:
    page = browser_page
    demo.build()
    # An end date on a resource made the provider's table 1,288 px wide.
    Resource.objects.filter(name="climate-ensembles").update(end_date="2099-12-31")
    log_in(page, "provider")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert too_wide(page, PROVIDER_PAGES) == {}
    for persona in ("owner", "member"):
        page.get_by_role("button", name="Log out").click()
        log_in(page, persona)
        assert too_wide(page, CONSUMER_PAGES) == {}, persona


def test_a_date_field_shows_iso_and_its_error_goes_once_fixed(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    resource = Resource.objects.get(name="climate-ensembles")
    log_in(page, "provider")
    page.goto(f"/provider/resources/{resource.uuid.hex}/end-date/")
    field = page.get_by_label("End date")
    assert field.get_attribute("type") == "text"
    assert field.get_attribute("placeholder") == "YYYY-MM-DD"
    field.fill("2099-13-45")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#id_end_date_error")
    expect(error).to_contain_text("Enter a date as YYYY-MM-DD")
    expect(field).to_have_attribute("aria-invalid", "true")
    shot(page, "l02-date-error")
    field.fill("2099-12-3")  # not a date yet: the error stays
    expect(error).to_be_visible()
    field.fill("2099-12-31")
    expect(error).to_have_count(0)
    expect(field).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save").click()
    resource.refresh_from_db()
    assert str(resource.end_date) == "2099-12-31"
