"""The provider's walk through the usage coverage matrix in Debian's Chromium, on the demo data:
dashboard tile "Missing usage reports last month" → the matrix filtered on last month's missing reports →
all of the last six months → only missing → follow a resource to its page and its usage. Screenshots at
1280 and 375 px go to test-output/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from efp.marketplace import demo
from efp.web.tests.test_browser import browser_page, shot, workspace_link
from efp.web.tests.test_browser_consumer import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here


def names(page: Any) -> list[str]:
    return [
        name.strip()
        for name in page.locator("table.coverage-matrix tbody th[scope=row] > a").all_inner_texts()
    ]


def test_a_provider_finds_the_missing_reports_and_opens_one(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()  # genome-longread and materials-dft miss last month; climate-downscaling six months ago
    log_in(page, "provider")
    page.goto("/provider/")
    tile = page.get_by_role("link", name=re.compile("Missing usage reports last month"))
    expect(tile.locator(".dash-count")).to_have_text("2")
    tile.click()

    expect(page.get_by_role("heading", name="Usage coverage")).to_be_visible()
    expect(page.get_by_label("Only resources with a missing month")).to_be_checked()
    assert names(page) == ["materials-dft", "genome-longread"]  # Lakeside, then University of Tartu
    shot(page, "coverage-01-last-month")

    # All of the last six months, every resource; then only those with a missing month.
    workspace_link(page, "Usage coverage").click()
    expect(page.locator("table.coverage-matrix")).to_be_visible()
    everyone = names(page)
    assert {"climate-ensembles", "genome-longread", "materials-dft", "climate-downscaling"} <= set(everyone)
    expect(page.get_by_role("cell", name=re.compile("^Missing")).first).to_be_visible()
    page.get_by_label("Only resources with a missing month").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile("only_missing=on"))
    expect(page.locator("table.coverage-matrix tbody tr")).to_have_count(3)
    assert names(page) == ["materials-dft", "climate-downscaling", "genome-longread"]
    shot(page, "coverage-02-only-missing")

    # Follow a resource to its page, and on to its usage.
    page.get_by_role("link", name="genome-longread", exact=True).click()
    expect(page.get_by_role("heading", name="genome-longread", exact=True)).to_be_visible()
    page.get_by_role("button", name="Actions for genome-longread").click()
    page.get_by_role("menuitem", name="Show usage").click()
    expect(page.get_by_role("heading", name="Usage: genome-longread")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("no report")).first).to_be_visible()


def test_a_provider_reads_the_usage_report_and_its_chart(browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()
    log_in(page, "provider")
    page.goto("/provider/")
    workspace_link(page, "Usage report").click()
    expect(page.get_by_role("heading", name="Usage report")).to_be_visible()
    expect(page.locator("svg#report-cost, svg.chart-wide").first).to_be_visible()
    expect(page.get_by_role("cell", name="Marketplace.Slurm cluster Aurora").first).to_be_visible()
    page.get_by_label("Organisation").select_option(label="Lakeside Institute")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile("organisation="))
    expect(page.get_by_role("cell", name="Materials design").first).to_be_visible()
    expect(page.get_by_role("cell", name="Climate modelling")).to_have_count(0)
    shot(page, "usage-report-01-lakeside")
