"""Approve, reject and report usage from the keyboard alone (Tab, Enter, Space, the arrow keys; no click),
through the Actions menus of the list rows, in Debian's Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from efp.marketplace import demo
from efp.marketplace.models import ComponentUsage, Order
from efp.web.tests.test_browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


def tab_to(page: Any, target: Any, limit: int = 200) -> None:
    """Presses Tab until `target` has the focus, as a keyboard user moves through the page."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def arrow_to(page: Any, target: Any, limit: int = 10) -> None:
    """Presses the down arrow in an open menu until `target` has the focus."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never reached {target}")


def test_a_provider_approves_rejects_and_reports_usage_with_the_keyboard_alone(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    page.goto("/login/")
    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type("provider")
    page.keyboard.press("Tab")
    page.keyboard.type("provider")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)

    # Approve: Tab to the row's Actions, Enter opens the menu, the arrows reach Approve, Enter follows it.
    page.goto("/provider/orders/")
    tab_to(page, page.get_by_role("button", name="Actions for order climate-ensembles"))
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for order climate-ensembles")
    arrow_to(page, menu.get_by_role("menuitem", name="Approve"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Approve this update order?")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Approve order"))
    page.keyboard.press("Space")
    expect(page.get_by_text("Order for climate-ensembles approved.")).to_be_visible()
    assert Order.objects.get(type="Update", resource__name="climate-ensembles").state == "executing"

    # Reject: the down arrow on Actions opens the menu, Space follows Reject; type a reason, Enter sends.
    tab_to(page, page.get_by_role("button", name="Actions for order genome-gpu-request"))
    page.keyboard.press("ArrowDown")
    menu = page.get_by_role("menu", name="Actions for order genome-gpu-request")
    arrow_to(page, menu.get_by_role("menuitem", name="Reject"))
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="Reject this create order?")).to_be_visible()
    tab_to(page, page.get_by_label("Reason for rejecting (shown to the consumer)"))
    page.keyboard.type("GPU partition is full until March.")
    tab_to(page, page.get_by_role("button", name="Reject order"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Order for genome-gpu-request rejected.")).to_be_visible()
    rejected = Order.objects.get(attributes__name="genome-gpu-request")
    assert rejected.state == "rejected" and rejected.provider_reviewed_by.username == "provider"  # type: ignore[union-attr]

    # Report usage: Actions → Report usage, type an amount, Enter submits.
    page.goto("/provider/resources/")
    tab_to(page, page.get_by_role("button", name="Actions for climate-ensembles"))
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for climate-ensembles")
    arrow_to(page, menu.get_by_role("menuitem", name="Report usage"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Report usage")).to_be_visible()
    # A month older than the offering's correction window: CPU (usage-based) is disabled, with the reason.
    cpu = page.get_by_label("CPU amount (core-hours)")
    tab_to(page, page.get_by_label("Month"))
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    expect(cpu).to_be_disabled()
    expect(page.locator("#refusal-cpu")).to_contain_text("may be corrected back to")
    expect(page.get_by_label("Storage amount (TB)")).to_be_enabled()  # limit-based: back-filled
    page.keyboard.press("Home")  # the current month again
    expect(cpu).to_be_enabled()
    expect(page.locator("#refusal-cpu")).to_be_hidden()
    tab_to(page, cpu)
    page.keyboard.type("-1")
    page.keyboard.press("Enter")
    # The error speaks the user's words beside the field, and goes once the amount is fixed.
    error = page.locator("#id_amount_cpu-error")
    expect(error).to_have_text("Enter 0 or more: usage cannot be negative.")
    tab_to(page, cpu)
    page.keyboard.press("Control+A")
    # Above any month-to-date figure the demo writes (at most 9,600 core-hours), so the users' rows never
    # exceed the new total and no reason is asked for, whatever the day of the month.
    page.keyboard.type("12000")
    expect(error).to_be_hidden()
    expect(cpu).not_to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Enter")
    expect(page.get_by_text("reported: CPU 12,000.00 core-hours")).to_be_visible()
    assert ComponentUsage.objects.filter(
        resource__name="climate-ensembles", component__type="cpu", usage="12000.00"
    ).exists()


def test_an_owner_approves_and_rejects_orders_with_the_keyboard_alone(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    page.goto("/login/")
    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type("owner")
    page.keyboard.press("Tab")
    page.keyboard.type("owner")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)

    page.goto("/my/orders/")  # the orders awaiting the owner come first, then all orders
    tab_to(page, page.get_by_role("button", name="Actions for order climate-pending-pi").first)
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for order climate-pending-pi").first
    arrow_to(page, menu.get_by_role("menuitem", name="Approve"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Approve this order for your organisation?")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Approve order"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Order for climate-pending-pi approved")).to_be_visible()
    assert Order.objects.get(attributes__name="climate-pending-pi").state == "pending-provider"

    tab_to(page, page.get_by_role("button", name="Actions for order genome-member-scratch").first)
    page.keyboard.press("ArrowDown")
    menu = page.get_by_role("menu", name="Actions for order genome-member-scratch").first
    arrow_to(page, menu.get_by_role("menuitem", name="Reject"))
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="Reject this order?")).to_be_visible()
    tab_to(page, page.get_by_label("Reason for rejecting (shown to whoever asked)"))
    page.keyboard.type("Use the shared scratch space.")
    tab_to(page, page.get_by_role("button", name="Reject order"))
    page.keyboard.press("Space")
    expect(page.get_by_text("Order for genome-member-scratch rejected")).to_be_visible()
    assert Order.objects.get(attributes__name="genome-member-scratch").state == "rejected"
