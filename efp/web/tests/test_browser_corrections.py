"""A correction walked through in Debian's Chromium (issue 16): `provider` corrects last month's CPU of
climate-ensembles with a reason; `owner` then reads the reason in the allocation's Corrections and the
notification. The demo's own corrections (one leaves a month whose users exceed its total) show too.
Screenshots go to test-output/ (ignored by git)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from efp.events.tests.running import run_tasks
from efp.marketplace import demo
from efp.marketplace.billing_months import add_months, billing_period_of
from efp.marketplace.models import ComponentUsage, Resource, UsageRevision
from efp.notifications.models import Notification
from efp.web.tests.test_browser import browser_page, shot
from efp.web.tests.test_browser_consumer import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

REASON = "Node 17 reported twice during the outage; corrected from the accounting database."


def test_a_provider_corrects_a_closed_month_and_the_owner_reads_the_reason(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    demo.build()  # idempotent: the demo's corrections are written once
    corrected = UsageRevision.objects.filter(verb=UsageRevision.Verb.CORRECT)
    assert corrected.count() == len(demo.DEMO_CORRECTIONS)
    resource = Resource.objects.get(name="climate-ensembles")
    current = billing_period_of(timezone.now())
    last, flagged = add_months(current, -1), add_months(current, -2)

    # provider: Show usage → Correct (last month) → amount and reason → the Corrections list.
    log_in(page, "provider")
    page.goto(f"/provider/resources/{resource.uuid.hex}/usage/?component=cpu&month={flagged:%Y-%m}")
    expect(page.get_by_text("users ", exact=False).filter(has_text="total 12.50").first).to_be_visible()
    page.get_by_role("link", name=f"Correct {last:%B %Y}").click()
    expect(page.get_by_role("heading", name="Correct usage")).to_be_visible()
    page.get_by_label("Corrected total").fill("1234.5")
    page.get_by_role("button", name="Correct usage").click()
    expect(page.get_by_text("Give a reason: the consumer sees it with the correction.")).to_be_visible()
    shot(page, "k01-correct-needs-a-reason")
    page.get_by_label("Reason (both sides of the allocation can read it)").fill(REASON)
    page.get_by_role("button", name="Correct usage").click()
    expect(page.get_by_text(f"CPU usage of climate-ensembles for {last:%B %Y} corrected to")).to_be_visible()
    corrections = page.get_by_role("table", name="Corrections of the usage of climate-ensembles")
    expect(corrections.get_by_text(REASON)).to_be_visible()
    shot(page, "k02-provider-corrections")
    usage = ComponentUsage.objects.get(resource=resource, component__type="cpu", billing_period=last)
    assert usage.usage == 1234.5
    log_out(page)
    run_tasks()  # what `efp worker` does: the event tells the consumer side

    # owner: the allocation's usage page lists the correction with its reason; the bell has it too.
    log_in(page, "owner")
    page.goto(f"/my/resources/{resource.uuid.hex}/usage/")
    corrections = page.get_by_role("table", name="Corrections of the usage of climate-ensembles")
    expect(corrections.get_by_text(REASON)).to_be_visible()
    expect(
        corrections.get_by_text("Only the jobs of the pilot study are billed to this allocation.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Correct usage")).to_have_count(0)
    shot(page, "k03-owner-corrections")
    page.goto("/notifications/")
    told = f"climate-ensembles: CPU usage of {last:%B %Y} was corrected"
    expect(page.get_by_role("link", name=told).first).to_be_visible()
    assert Notification.objects.filter(
        user__username="owner", kind="usage_corrected", text__contains=REASON
    ).exists()
