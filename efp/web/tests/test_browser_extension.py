"""The extension request walked in Debian's Chromium (issue 17): `owner` asks for six more months and
more storage with a justification → `provider` sees it in Orders with the justification, the usage chart
and the forecast, and approves it → once done (the site agent's part) the end date has moved.
Screenshots at 1280 and 375 px go to test-output/ (ignored by git).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from efp.marketplace import demo
from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.renewal_dates import plus_months
from efp.web.tests.test_browser import browser_page, open_actions, shot
from efp.web.tests.test_browser_consumer import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

WHY = "The second ensemble needs six more months; the first one ran as planned."


def test_an_owner_asks_for_an_extension_and_the_provider_approves_it_beside_the_usage(
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()

    # owner: my resources → Actions → Request extension (no justification first, then with one).
    log_in(page, "owner")
    page.goto("/my/resources/")
    open_actions(page, "climate-downscaling").get_by_role("menuitem", name="Request extension").click()
    expect(page.get_by_role("heading", name="Request extension: climate-downscaling")).to_be_visible()
    page.get_by_label("More months").fill("6")
    page.get_by_label("Storage limit (TB)").fill("30")
    page.get_by_role("button", name="Request extension").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    shot(page, "x01-extension-form-error")
    page.get_by_label("Justification").fill(WHY)
    shot(page, "x02-extension-form")
    page.get_by_role("button", name="Request extension").click()
    expect(page.get_by_text("Extension requested for climate-downscaling")).to_be_visible()
    order = Order.objects.get(attributes__action="renew", resource__name="climate-downscaling")
    assert order.state == "pending-provider" and order.attributes["justification"] == WHY
    log_out(page)

    # provider: Orders → the request with the justification, the chart and the forecast → Approve.
    log_in(page, "provider")
    page.goto("/provider/orders/")
    page.get_by_role("link", name="climate-downscaling").first.click()
    expect(page.get_by_text(WHY)).to_be_visible()
    expect(page.get_by_text(re.compile(r"6 months: ends \d{4}-\d\d-\d\d"))).to_be_visible()
    expect(page.get_by_role("heading", name="Usage of climate-downscaling")).to_be_visible()
    expect(page.locator("figure.chart-box svg").first).to_be_visible()
    shot(page, "x03-provider-sees-extension")
    page.get_by_role("link", name="Approve…").click()
    page.get_by_role("button", name="Approve order").click()
    expect(page.get_by_text("Order for climate-downscaling approved.")).to_be_visible()
    log_out(page)

    # The site agent completes the order: the end date has moved, and the owner sees it.
    order.refresh_from_db()
    order_services.complete_order(order=order, user=demo.users()["provider"])
    resource = Resource.objects.get(name="climate-downscaling")
    assert resource.end_date == plus_months(timezone.localdate(), 6)
    assert resource.limits == {"storage": 30}
    log_in(page, "owner")
    page.goto(f"/my/orders/{order.uuid.hex}/")
    expect(page.get_by_text("Approved by Petra Provider")).to_be_visible()
    shot(page, "x04-extension-done")
