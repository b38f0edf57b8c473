"""Restore in Debian's Chromium: the demo's provider finds the finished consulting engagement (Terminated,
on an offering that allows restore) among the terminated resources, chooses Restore in its Actions menu,
confirms, and the allocation is Creating again with a Restore order. Every control is reached by its
accessible name. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.marketplace import demo
from efp.marketplace.models import Order, Resource
from efp.web.tests.test_browser import browser_page, open_actions, shot, workspace_link
from efp.web.tests.test_browser_consumer import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

NAME = "consulting-materials-2025"


def test_a_provider_restores_a_terminated_allocation(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    log_in(page, "provider")
    page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="Service Provider").click()
    workspace_link(page, "Resources").click()
    expect(page.get_by_role("button", name=f"Actions for {NAME}")).to_have_count(0)  # terminated: hidden
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Include terminated resources").check()
    page.get_by_role("button", name="Apply filters").click()

    open_actions(page, NAME).get_by_role("menuitem", name="Restore").click()
    expect(page.get_by_role("heading", name=f"Restore {NAME}?")).to_be_visible()
    shot(page, "r01-restore-confirm")
    page.get_by_role("button", name="Restore").click()

    expect(page.get_by_role("heading", name=NAME)).to_be_visible()  # back on the allocation page
    expect(page.get_by_role("status")).to_contain_text(f"Restore of {NAME} requested")
    expect(page.get_by_role("link", name=re.compile("^Restore order #"))).to_be_visible()
    shot(page, "r02-restore-requested")
    resource = Resource.objects.get(name=NAME)
    assert resource.state == "Creating"
    assert Order.objects.filter(resource=resource, type="Restore").exists()
