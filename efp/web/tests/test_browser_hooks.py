"""The provider's web hooks in Debian's Chromium: add a hook (the secret shown once), send a test that the
receiver on 127.0.0.1 refuses, refresh the deliveries (htmx), send it again, see it delivered, deactivate
and delete the hook. Every control is reached by its accessible name. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.events.tests.running import run_tasks
from efp.hooks.demo import DEMO_DESTINATION
from efp.hooks.models import WebHook, WebhookDelivery
from efp.hooks.tests.receiver import Receiver, signature_is_valid
from efp.marketplace import demo
from efp.web.tests.test_browser import browser_page, shot, workspace_link
from efp.web.tests.test_browser_consumer import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


def test_a_provider_adds_a_web_hook_tests_it_and_sends_a_delivery_again(
    browser_page: Any, settings: Any
) -> None:
    from playwright.sync_api import expect

    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = Receiver([500])
    page = browser_page
    demo.build()
    try:
        log_in(page, "provider")
        page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="Service Provider").click()
        workspace_link(page, "Web hooks").click()
        expect(page.get_by_role("heading", name="Web hooks", exact=True)).to_be_visible()
        expect(page.get_by_text(DEMO_DESTINATION)).to_be_visible()  # the demo's hook, its receiver down
        shot(page, "h01-hooks-empty")

        # Add one: nothing chosen first (the form says why), then a group and the form format.
        page.get_by_role("link", name="Add a web hook").click()
        page.get_by_label("Destination URL").fill(receiver.url)
        page.get_by_role("button", name="Add web hook").click()
        expect(page.get_by_text("Please specify list of event_types or event_groups.")).to_be_visible()
        page.get_by_role("group", name="Event groups").get_by_label("Orders and resources").check()
        page.get_by_role("group", name="Body format").get_by_label("Form-encoded").check()
        shot(page, "h02-hook-form")
        page.get_by_role("button", name="Add web hook").click()
        expect(page.get_by_role("heading", name="Web hook added")).to_be_visible()
        hook = WebHook.objects.get(destination_url=receiver.url)
        expect(page.get_by_label("Secret")).to_have_value(hook.secret)
        shot(page, "h03-hook-added")

        # Send a test: the receiver answers 500 to the first attempt.
        page.get_by_role("link", name="Open the hook").click()
        expect(page.get_by_text("No deliveries yet.")).to_be_visible()
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_text("A test event is on its way")).to_be_visible()
        run_tasks()
        page.get_by_role("link", name="Refresh").click()
        deliveries = page.get_by_role("table", name="Deliveries of this web hook")
        expect(deliveries.get_by_text("HTTP 500")).to_be_visible()
        expect(deliveries.get_by_text("Pending")).to_be_visible()
        shot(page, "h04-delivery-failed")

        # Send it again: a new delivery, taken by the receiver, signed with the secret shown once.
        deliveries.get_by_role("button", name=re.compile("^Send the webhook_test event of .* again$")).click()
        expect(page.get_by_text("sent again as a new delivery")).to_be_visible()
        run_tasks()
        page.get_by_role("link", name="Refresh").click()
        expect(deliveries.get_by_text("Delivered")).to_be_visible()
        resent = WebhookDelivery.objects.get(resend_of__isnull=False)
        assert receiver.received[-1].headers["X-EFP-Delivery"] == str(resent.uuid)
        assert signature_is_valid(hook.secret, receiver.received[-1], now=resent.created.timestamp())
        shot(page, "h05-delivered")

        # Deactivate (the test button is then disabled), then delete.
        page.get_by_role("button", name="Deactivate").click()
        expect(page.get_by_role("button", name="Send a test event")).to_be_disabled()
        expect(page.get_by_text("Inactive", exact=True)).to_be_visible()
        page.get_by_role("link", name="Delete…").click()
        page.get_by_role("button", name="Delete web hook").click()
        expect(page.get_by_text("is deleted")).to_be_visible()
        expect(page.get_by_text(DEMO_DESTINATION)).to_be_visible()
        assert not WebHook.objects.filter(destination_url=receiver.url).exists()
    finally:
        receiver.stop()
