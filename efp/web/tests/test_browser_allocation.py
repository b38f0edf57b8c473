"""The allocation page in Debian's Chromium, on the demo data: the provider opens climate-ensembles from
the resources list, the owner from My resources; each page shows its limits with the period they count
over, its team, orders and timeline, and its Actions menu. Screenshots at 1280 and 375 px go to
test-output/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.marketplace import demo
from efp.web.tests.test_browser import browser_page, shot, workspace_link
from efp.web.tests.test_browser_consumer import log_in, log_out, my_menu

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

NAME = "climate-ensembles"


def check_the_page(page: Any, orders: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=NAME, exact=True)).to_be_visible()
    for section in ("Limits and usage", "Team and accounts", "Orders", "Timeline"):
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(page.locator(".allocation-limits .period").first).to_have_text(re.compile("^this |^in total$"))
    expect(page.locator(f'a[href^="{orders}"]').first).to_be_visible()
    page.get_by_role("button", name=f"Actions for {NAME}").click()
    expect(page.get_by_role("menuitem", name="Show usage")).to_be_visible()
    page.keyboard.press("Escape")
    for width in (1280, 375):  # no sideways scrolling at either width
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_provider_and_the_owner_open_an_allocation_from_their_lists(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()

    log_in(page, "provider")
    page.goto("/provider/")
    workspace_link(page, "Resources").click()
    expect(page.get_by_role("heading", name="Resources", exact=True)).to_be_visible()
    page.get_by_role("link", name=NAME, exact=True).click()
    expect(page).to_have_url(re.compile(r"/provider/resources/[0-9a-f]{32}/$"))
    check_the_page(page, "/provider/orders/")
    expect(page.get_by_role("cell", name=re.compile("_aurora")).first).to_be_visible()  # accounts
    expect(page.get_by_text("ssh://aurora.example.org")).to_be_visible()  # endpoints
    shot(page, "allocation-01-provider")
    log_out(page)

    log_in(page, "owner")
    page.goto("/my/resources/")
    expect(my_menu(page, "My resources")).to_be_visible()
    page.get_by_role("link", name=NAME, exact=True).click()
    expect(page).to_have_url(re.compile(r"/my/resources/[0-9a-f]{32}/$"))
    check_the_page(page, "/my/orders/")
    expect(page.locator('a[href^="/provider/"]')).to_have_count(0)
    shot(page, "allocation-02-owner")
