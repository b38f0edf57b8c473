"""Import usage in Debian's Chromium: the provider downloads the template, uploads a file with a line in
error (no Apply), uploads it fixed, applies it and sees the values in Show usage. Axe checks the preview.
Screenshots at 1280 and 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from efp.marketplace import demo
from efp.marketplace.billing_months import add_months, billing_period_of, month_key
from efp.marketplace.models import ComponentUsage, Resource, UsageRevision
from efp.web.tests.test_accessibility import AXE, violations
from efp.web.tests.test_browser import browser_page, shot, workspace_link
from efp.web.tests.test_browser_consumer import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


def test_a_provider_previews_and_applies_a_usage_file(browser_page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    resource = Resource.objects.get(name="climate-ensembles")
    current = billing_period_of(timezone.now())
    this_month, last_month = month_key(current), month_key(add_months(current, -1))
    log_in(page, "provider")
    page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="Service Provider").click()
    workspace_link(page, "Import usage").click()
    expect(page.get_by_role("heading", name="Import usage", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a template CSV").click()
    assert (
        resource.uuid.hex in Path(download.value.path()).read_text()
        or "resource_uuid" in Path(download.value.path()).read_text()
    )

    # A closed month without a reason: the preview says so and offers no Apply.
    bad = tmp_path / "usage.csv"
    bad.write_text(
        "resource_uuid,component,month,amount,reason\n"
        f"{resource.uuid.hex},cpu,{this_month},777.25,\n"
        f"{resource.uuid.hex},gpu,{last_month},31.5,\n"
    )
    page.get_by_label("Usage CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("table", name="What each line of the file does")
    expect(preview.get_by_text("is closed: a correction needs a reason")).to_be_visible()
    expect(page.get_by_text("1 in error")).to_be_visible()
    expect(page.get_by_role("button", name="Apply 2 lines")).to_have_count(0)
    shot(page, "i01-import-errors")

    # Fixed with a reason: two lines to write, then Apply.
    good = tmp_path / "usage-fixed.csv"
    good.write_text(
        "resource_uuid,component,month,amount,reason\n"
        f"{resource.uuid.hex},cpu,{this_month},777.25,\n"
        f"{resource.uuid.hex},gpu,{last_month},31.5,meter fixed after outage\n"
    )
    page.get_by_label("Usage CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("0 in error")).to_be_visible()
    expect(preview.get_by_text("777.25")).to_be_visible()
    if AXE.exists():
        assert violations(page) == []
    shot(page, "i02-import-preview")
    assert not ComponentUsage.objects.filter(resource=resource, usage="777.25").exists()  # a preview only
    page.get_by_role("button", name="Apply 2 lines").click()
    expect(page.get_by_text("Imported 2 lines")).to_be_visible()
    assert UsageRevision.objects.filter(verb="import", reason="meter fixed after outage").count() == 1
    shot(page, "i03-import-applied")

    # Show usage has the imported value.
    page.goto(f"/provider/resources/{resource.uuid.hex}/usage/")
    expect(page.get_by_text("777.25").first).to_be_visible()
    shot(page, "i04-import-show-usage")
