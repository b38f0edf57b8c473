"""Cross-role walks through the consumer's and the provider's GUI in Debian's Chromium (issue 5).

1. `member` orders a resource → `owner` approves it as consumer → `provider` approves it → the resource
   appears in `member`'s resources.
2. `pi` requests a limit change → `owner` approves it → `provider` sees an Update order with the limit diff.
Screenshots at 1280 and 375 px go to test-output/ (ignored by git).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.marketplace import demo
from efp.marketplace.models import Order, Resource
from efp.web.tests.test_browser import browser_page, open_actions, shot, workspace_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


def log_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=re.compile("^Welcome")).wait_for()


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()


def my_menu(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="My workspace").get_by_role("link", name=name)


def test_a_member_orders_the_owner_and_the_provider_approve_and_the_resource_appears(
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()

    # member: marketplace → offering → order form (an out-of-bounds limit first, then a good one).
    log_in(page, "member")
    page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="My workspace").click()
    expect(page.get_by_role("heading", name="Marketplace", exact=True)).to_be_visible()
    shot(page, "c01-catalogue")
    page.get_by_role("link", name="Research software consulting", exact=True).click()
    expect(page.get_by_role("heading", name="Research software consulting")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Consulting hours"))).to_have_count(2)
    shot(page, "c02-offering")
    page.get_by_role("link", name="Order this offering").click()
    page.get_by_label("Project").select_option(label="University of Tartu Physics / Genome assembly")
    page.get_by_label("Resource name").fill("genome-rse-help")
    page.get_by_label("Consulting hours limit (hours)").fill("500")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("The limit of hours must be at most 200.")).to_be_visible()
    shot(page, "c03-order-form-error")
    assert not Order.objects.filter(attributes__name="genome-rse-help").exists()
    page.get_by_label("Consulting hours limit (hours)").fill("40")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("it waits for approval by an owner of the organisation")).to_be_visible()
    expect(page.get_by_text("Waiting for the consumer").first).to_be_visible()
    shot(page, "c04-order-placed")
    log_out(page)

    # owner: my orders → waiting for my approval → Approve (confirmed).
    log_in(page, "owner")
    page.get_by_role("link", name=re.compile(r"^\d+ orders waiting for my approval")).click()
    awaiting = page.locator("#awaiting")
    expect(awaiting.get_by_role("link", name="genome-rse-help")).to_be_visible()
    shot(page, "c05-my-orders-owner")
    awaiting.get_by_role("button", name="Actions for order genome-rse-help").click()
    awaiting.get_by_role("menu", name="Actions for order genome-rse-help").get_by_role(
        "menuitem", name="Approve"
    ).click()
    expect(page.get_by_role("heading", name="Approve this order for your organisation?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Consulting hours 40 hours"))).to_be_visible()
    shot(page, "c06-consumer-approve-confirm")
    page.get_by_role("button", name="Approve order").click()
    expect(page.get_by_text("Order for genome-rse-help approved.")).to_be_visible()
    log_out(page)

    # provider: the order is in the provider's queue → Approve (Basic completes at once).
    log_in(page, "provider")
    page.goto("/provider/orders/")
    menu = open_actions(page, "order genome-rse-help")
    menu.get_by_role("menuitem", name="Approve").click()
    expect(page.get_by_text("Approved by Olga Owner")).to_be_visible()
    page.get_by_role("button", name="Approve order").click()
    expect(page.get_by_text("Order for genome-rse-help approved.")).to_be_visible()
    log_out(page)

    # member: the resource is in my resources, and the order shows both decisions.
    log_in(page, "member")
    page.goto("/my/resources/")
    row = page.locator("tr.resource-row", has_text="genome-rse-help")
    expect(row).to_be_visible()
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    shot(page, "c07-my-resources-member")
    resource = Resource.objects.get(name="genome-rse-help")
    assert resource.state == "OK" and resource.limits == {"hours": 40}
    my_menu(page, "My orders").click()
    page.get_by_role("link", name="genome-rse-help").first.click()
    expect(page.get_by_text("Approved by Olga Owner")).to_be_visible()
    expect(page.get_by_text("Approved by Petra Provider")).to_be_visible()
    shot(page, "c08-order-done")


def test_a_pi_changes_a_limit_and_the_provider_sees_the_update_with_the_diff(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()

    # pi: my resources → Actions → Change limits → review (current → requested) → request.
    log_in(page, "pi")
    page.goto("/my/resources/")
    expect(page.get_by_role("heading", name="My resources")).to_be_visible()
    page.get_by_role("button", name="Expand climate-downscaling").click()
    shot(page, "c09-my-resources-pi")
    menu = open_actions(page, "climate-downscaling")
    menu.get_by_role("menuitem", name="Change limits").click()
    expect(page.get_by_role("heading", name="Change limits: climate-downscaling")).to_be_visible()
    page.get_by_label("Storage limit (TB)").fill("30")
    page.get_by_role("button", name="Review change…").click()
    expect(page.get_by_role("row", name=re.compile(r"Storage 20 TB 30 TB \(changed\)"))).to_be_visible()
    shot(page, "c10-change-limits-confirm")
    page.get_by_role("button", name="Request limit change").click()
    expect(page.get_by_text("Limit change requested for climate-downscaling")).to_be_visible()
    update = Order.objects.get(type="Update", resource__name="climate-downscaling")
    assert update.state == "pending-consumer" and update.attributes["old_limits"] == {"storage": 20}
    log_out(page)

    # owner approves it as consumer.
    log_in(page, "owner")
    page.goto(f"/my/orders/{update.uuid.hex}/approve/")
    page.get_by_role("button", name="Approve order").click()
    expect(page.get_by_text("Order for climate-downscaling approved.")).to_be_visible()
    log_out(page)

    # provider: the Update order with the limit diff in the queue and on the approval page.
    log_in(page, "provider")
    workspace_link_page = page.goto("/provider/")
    assert workspace_link_page is not None
    workspace_link(page, "Orders").click()
    row = page.get_by_role("row", name=re.compile("climate-downscaling"))
    expect(row).to_contain_text("Update")
    expect(row).to_contain_text("storage: 20 → 30 TB")
    shot(page, "c11-provider-sees-update")
    open_actions(page, "order climate-downscaling").get_by_role("menuitem", name="Approve").click()
    expect(page.get_by_role("heading", name="Approve this update order?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Storage 20 TB 30 TB"))).to_be_visible()
    shot(page, "c12-provider-approve-update")


def test_an_owner_manages_a_project_team_in_the_browser(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    log_in(page, "owner")
    page.goto("/organisations/")
    expect(page.get_by_role("heading", name="Organisations and projects")).to_be_visible()
    shot(page, "c13-organisations")
    page.get_by_role("link", name="Genome assembly").click()
    expect(page.get_by_role("heading", name="Genome assembly")).to_be_visible()
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Role", exact=True).select_option(label="Project manager")
    page.get_by_label("Role ends (optional)").fill("2040-05-01 09:30")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text("Mikko Manager is Project manager until 2040-05-01 09:30.")).to_be_visible()
    shot(page, "c14-project-team")
    page.get_by_role("link", name="Change end of manager as Project manager").click()
    page.get_by_label("Role ends (optional)").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Mikko Manager is Project manager with no end.")).to_be_visible()
    page.get_by_role("link", name="Remove manager as Project manager").click()
    page.get_by_role("button", name="Remove from team").click()
    expect(page.get_by_text("Mikko Manager is no longer Project manager.")).to_be_visible()
    # The owner's queue in the dark theme.
    page.emulate_media(color_scheme="dark")
    my_menu(page, "My orders").click()
    expect(page.get_by_role("heading", name=re.compile("Waiting for my approval"))).to_be_visible()
    shot(page, "c15-dark-my-orders")
