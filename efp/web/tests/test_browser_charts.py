"""Show usage on a 375 px phone in Debian's Chromium: the chart's ticks are at least 11 px on screen, the
current month is labelled, and a tap on a month (or the arrow keys) shows its value under the chart."""

from __future__ import annotations

from typing import Any

import pytest

from efp.marketplace import demo
from efp.marketplace.billing_months import first_day
from efp.marketplace.models import Resource
from efp.web.tests.test_browser import OUTPUT, browser_page
from efp.web.tests.test_browser_consumer import log_in
from efp.web.views.common import today

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

# The size a tick is drawn at on screen: its font size times the scale of the SVG's viewBox.
TICKS = """(selector) => {
    const svg = document.querySelector(selector);
    const scale = svg.getScreenCTM().a;
    return Array.from(svg.querySelectorAll("text.tick")).map(t => ({
        text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale,
        visible: t.getBoundingClientRect().width > 0}));
}"""


@pytest.fixture
def phone(browser_page: Any, live_server: Any) -> Any:
    """A touch-screen page 375 px wide, beside the fixture's (which checks the console stays clean)."""
    context = browser_page.context.browser.new_context(
        viewport={"width": 375, "height": 800}, has_touch=True, is_mobile=True, base_url=live_server.url
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def test_the_chart_is_readable_and_answers_a_tap_at_375_px(phone: Any) -> None:
    demo.build()
    resource = Resource.objects.get(name="climate-ensembles")
    log_in(phone, "provider")
    for path in (f"/provider/resources/{resource.uuid.hex}/usage/", "/provider/usage-report/"):
        phone.goto(path)
        chart = phone.locator("svg.chart-narrow")
        assert chart.is_visible() and not phone.locator("svg.chart-wide").is_visible()
        ticks = phone.evaluate(TICKS, "svg.chart-narrow")
        assert ticks and min(t["px"] for t in ticks) >= 11, ticks
        months = chart.locator("g.month")
        last = months.last
        label = last.get_attribute("aria-label") or ""
        if "usage-report" not in path:
            current = first_day(today()).strftime("%b %Y")
            assert label.startswith(current), label
            # The current month's tick is the last one drawn, and shown.
            assert ticks[-1]["text"] == current[:3] and ticks[-1]["visible"], ticks
        readout = phone.locator("[data-chart-readout]").first
        first = months.first
        first.tap()
        assert readout.text_content() == first.get_attribute("aria-label")
        assert ":" in (readout.text_content() or "")
        # From the keyboard: the arrow keys move along the months and read each out.
        phone.keyboard.press("ArrowRight")
        second = months.nth(1)
        assert readout.text_content() == second.get_attribute("aria-label")
        assert phone.evaluate("document.activeElement.getAttribute('aria-label')") == readout.text_content()
        phone.screenshot(path=str(OUTPUT / f"chart-tap{'-report' if 'report' in path else ''}-375.png"))
