"""The provider's walk through the GUI in Debian's Chromium, with screenshots at 1280 and 375 px.

log in → Service Provider → Resources → expand a row → Actions → Show usage → Actions → Report usage
(submit, see the new value) → Orders → Approve one order (confirm) → Reject another (with a reason) →
see both on their order pages. Screenshots go to test-output/ (ignored by git).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from efp.marketplace import demo
from efp.marketplace.models import ComponentUsage, Order, Resource

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[3] / "test-output"
WIDTHS = (1280, 375)


EXPECTED_CONSOLE_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def console_error(errors: list[str], message: Any) -> None:
    if message.type == "error" and not EXPECTED_CONSOLE_ERROR.match(message.text):
        errors.append(f"{message.text} ({message.location.get('url')}:{message.location.get('lineNumber')})")


@pytest.fixture
def browser_page(live_server: Any) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls stay synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (make chromium installs it)")
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A Content-Security-Policy violation (an inline script, style or handler) is a console error; a 4xx
        # answer the walk provokes on purpose (a refused form) is one too, and is not counted.
        page.on("console", lambda message: console_error(errors, message))
        page.efp_errors = errors  # what the page reported so far, for tests that provoke an error on purpose
        yield page
        context.close()
        browser.close()
        # While Playwright's event loop runs, Django keeps this thread's database connections in a context
        # variable: the test's queries used a connection of their own, which must be closed here or
        # PostgreSQL cannot drop the test database at the end of the run.
        connections.close_all()
    assert not errors, errors


def shot(page: Any, name: str) -> None:
    """One full-page screenshot per width; the page is left at 1280 px."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(OUTPUT / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def open_actions(page: Any, name: str) -> Any:
    page.get_by_role("button", name=f"Actions for {name}").click()
    menu = page.get_by_role("menu", name=f"Actions for {name}")
    menu.wait_for(state="visible")
    return menu


def workspace_link(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Provider workspace").get_by_role("link", name=name)


def test_a_provider_walks_from_login_to_decided_orders(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()  # includes twelve months of usage per resource

    # Log in.
    page.goto("/login/")
    shot(page, "01-login")
    page.get_by_label("Username").fill("provider")
    page.get_by_label("Password").fill("provider")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome, Petra Provider")).to_be_visible()

    # Service Provider → Dashboard.
    page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="Service Provider").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Orders pending my approval")).to_be_visible()
    shot(page, "02-dashboard")

    # Resources → expand a row.
    workspace_link(page, "Resources").click()
    expect(page.get_by_role("heading", name="Resources", exact=True)).to_be_visible()
    shot(page, "03-resources")
    expand = page.get_by_role("button", name="Expand climate-ensembles")
    expand.click()
    expect(expand).to_have_attribute("aria-expanded", "true")
    details = page.locator("tr.details-row:not([hidden])")
    expect(details.get_by_text("Storage (TB)")).to_be_visible()
    expect(details.get_by_text("This month:").first).to_be_visible()
    shot(page, "04-resource-expanded")

    # Actions → Show usage.
    menu = open_actions(page, "climate-ensembles")
    expect(menu.get_by_role("menuitem", name="Report usage")).to_be_enabled()
    shot(page, "05-actions-menu")
    menu.get_by_role("menuitem", name="Show usage").click()
    expect(page.get_by_role("heading", name="Usage: climate-ensembles")).to_be_visible()
    expect(page.locator("svg.chart-wide")).to_be_visible()
    shot(page, "06-show-usage")
    page.get_by_role("link", name="24 months").click()
    expect(page.get_by_role("link", name="24 months")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("row", name=re.compile("no report")).first).to_be_visible()

    # Actions → Report usage: submit, see the new value.
    workspace_link(page, "Resources").click()
    open_actions(page, "climate-ensembles").get_by_role("menuitem", name="Report usage").click()
    expect(page.get_by_role("heading", name="Report usage: climate-ensembles")).to_be_visible()
    page.get_by_label("CPU amount (core-hours)").fill("4321.5")
    page.get_by_label("CPU description").fill("November batch jobs")
    page.get_by_label("Storage amount (TB)").fill("36")
    expect(page.get_by_text(re.compile(r"\d+ % of limit after this report"))).to_be_visible()
    page.get_by_text("Per-user amounts for CPU (optional)").click()
    page.get_by_label("CPU: user 1 username").fill("pi")
    page.get_by_label("CPU: user 1 amount").fill("4000")
    page.get_by_label("CPU: user 2 username").fill("member")
    page.get_by_label("CPU: user 2 amount").fill("321.5")
    # The demo's users left out of the grid keep their stored amounts: the running total counts them.
    running = page.locator(".running").first
    expect(running).to_contain_text("kept for")
    expect(running).to_contain_text("(users exceed the total)")
    shot(page, "07-report-usage")
    page.get_by_role("button", name="Report usage").click()
    # The kept users add up to more than the new total: nothing is saved until the provider says what
    # becomes of the users' rows, with a reason (issue 16).
    choice = page.get_by_role("group", name="The users' rows add up to more than the new total")
    # The demo's month-to-date usage grows with the day of the month: the users' sum is read, not fixed.
    expect(choice).to_contain_text(re.compile(r"CPU: users [\d,]+\.\d\d, total 4,321\.50"))
    users = re.search(r"CPU: users ([\d,]+\.\d\d)", choice.inner_text())
    assert users is not None and float(users.group(1).replace(",", "")) > 4321.5
    choice.get_by_label("Replace the users' rows with those entered above").check()
    page.get_by_label("Reason").fill("Only pi and member ran jobs this month.")
    shot(page, "07b-users-above-total")
    page.get_by_role("button", name="Report usage").click()
    expect(page.get_by_text("reported: CPU 4,321.50 core-hours; Storage 36.00 TB")).to_be_visible()
    cpu = ComponentUsage.objects.filter(resource__name="climate-ensembles", component__type="cpu")
    rows = cpu.order_by("-billing_period").first().user_usages.values_list("username", "usage")  # type: ignore[union-attr]
    assert sorted((name, str(usage)) for name, usage in rows) == [("member", "321.50"), ("pi", "4000.00")]
    newest = page.locator(".table-twin tbody tr").first  # the current month comes first
    expect(newest.get_by_role("cell", name="4,321.50", exact=True)).to_be_visible()
    expect(newest).to_contain_text("November batch jobs")
    shot(page, "08-usage-reported")

    # Orders: opens on pending provider approval.
    workspace_link(page, "Orders").click()
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    expect(page.get_by_text("Showing: Waiting for the provider.")).to_be_visible()
    shot(page, "09-orders")

    # Approve the limit change (confirm shows current → requested).
    menu = open_actions(page, "order climate-ensembles")
    menu.get_by_role("menuitem", name="Approve").click()
    expect(page.get_by_role("heading", name="Approve this update order?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Storage 40 TB 60 TB"))).to_be_visible()
    shot(page, "10-approve-confirm")
    page.get_by_role("button", name="Approve order").click()
    expect(page.get_by_text("Order for climate-ensembles approved.")).to_be_visible()

    # Reject another with a reason.
    menu = open_actions(page, "order genome-gpu-request")
    menu.get_by_role("menuitem", name="Reject").click()
    expect(page.get_by_role("heading", name="Reject this create order?")).to_be_visible()
    page.get_by_role("button", name="Reject order").click()
    expect(page.get_by_text("Give a reason: the consumer sees it.")).to_be_visible()
    page.get_by_label("Reason for rejecting (shown to the consumer)").fill(
        "GPU partition is full until March; please request CPU only."
    )
    shot(page, "11-reject-reason")
    page.get_by_role("button", name="Reject order").click()
    expect(page.get_by_text("Order for genome-gpu-request rejected.")).to_be_visible()
    shot(page, "12-orders-after-decisions")

    # Both decisions on their order pages.
    approved = Order.objects.get(type="Update", resource__name="climate-ensembles")
    rejected = Order.objects.get(attributes__name="genome-gpu-request")
    assert approved.state == "executing" and rejected.state == "rejected"
    page.goto(f"/provider/orders/{approved.uuid.hex}/")
    expect(page.get_by_text("Approved by Petra Provider")).to_be_visible()
    expect(page.get_by_text("approved by provider")).to_be_visible()
    # The timeline, built from the events, shows the approval first (newest first).
    expect(page.locator(".timeline li").first).to_contain_text("Marketplace order has been approved.")
    shot(page, "13-approved-order")
    page.goto(f"/provider/orders/{rejected.uuid.hex}/")
    expect(
        page.get_by_text("Reason: GPU partition is full until March; please request CPU only.")
    ).to_be_visible()
    shot(page, "14-rejected-order")

    # The profile makes a named token, shows its key once, lists it by its first characters, and revoking
    # it asks first.
    page.get_by_role("link", name="Profile").click()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Make token").click()
    key = page.get_by_label("API key").input_value()
    assert len(key) == 40
    shot(page, "15-new-token")
    page.get_by_role("link", name="Back to my profile").click()
    expect(page.locator("#api-tokens")).to_contain_text(key[:8])
    assert key not in page.content()
    page.get_by_role("link", name=re.compile(r"^Revoke\s*laptop")).click()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("The token “laptop” was revoked.")).to_be_visible()
    shot(page, "16-profile")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_menus_and_rows_work_with_the_keyboard_and_in_dark_mode(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()  # includes twelve months of usage per resource
    page.emulate_media(color_scheme="dark")
    page.goto("/login/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("manager")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Welcome, Mikko Manager")).to_be_visible()
    page.goto("/provider/resources/")
    expand = page.get_by_role("button", name="Expand climate-ensembles")
    expand.focus()
    page.keyboard.press("Enter")
    expect(expand).to_have_attribute("aria-expanded", "true")
    button = page.get_by_role("button", name="Actions for climate-ensembles")
    button.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for climate-ensembles")
    expect(menu.get_by_role("menuitem", name="Show usage")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Report usage")).to_be_focused()
    shot(page, "17-dark-keyboard-menu")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()
    # Filters apply in place (htmx) and land in the address bar.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Terminated", exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("button", name="Expand climate-too-big")).to_be_visible()
    expect(page.get_by_role("button", name="Expand climate-ensembles")).to_have_count(0)
    assert "state=Terminated" in page.url
    # A filter the server refuses shows its error after the in-place swap (past the browser's own checks).
    page.evaluate("document.querySelector('.filter-form').noValidate = true")
    page.get_by_label("At least this % of a limit used").fill("-5")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 0.")).to_be_visible()
    expect(page.get_by_role("button", name="Apply filters")).to_be_focused()
    expect(page.get_by_role("button", name="Expand climate-too-big")).to_be_visible()
    page.get_by_role("button", name="Actions for climate-too-big").click()
    disabled = page.get_by_role("menu", name="Actions for climate-too-big").get_by_role(
        "menuitem", name="Report usage"
    )
    expect(disabled).to_have_attribute("aria-disabled", "true")
    terminated_menu = page.get_by_role("menu", name="Actions for climate-too-big")
    expect(terminated_menu.get_by_text("this one is Terminated")).to_be_visible()
    page.goto(f"/provider/resources/{Resource.objects.get(name='climate-ensembles').uuid.hex}/usage/")
    shot(page, "18-dark-show-usage")


def test_the_content_security_policy_blocks_inline_code_and_the_walks_would_see_it(browser_page: Any) -> None:
    """The policy is enforced by the browser, and a violation reaches the error list the walks assert on."""
    page = browser_page
    page.goto("/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: red">x</p>');
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected") is None
    colour = page.evaluate("() => getComputedStyle(document.getElementById('styled')).color")
    assert colour != "rgb(255, 0, 0)"
    violations = [e for e in page.efp_errors if "Content Security Policy" in e]
    assert len(violations) == 2, page.efp_errors
    page.efp_errors.clear()
