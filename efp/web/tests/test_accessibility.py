"""Every page of the GUI passes axe-core (WCAG 2.1 A and AA rules) in Debian's Chromium, for the persona
who uses it, on the demo data.

axe-core comes from the npm registry (`package.json`, pinned in `package-lock.json`; `make test` runs
`npm ci`). A page is a path, or a function of the demo data giving one; a new GUI page is added to PAGES.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from efp.accounts.models import User
from efp.accounts.services import issue_token
from efp.hooks.models import WebHook
from efp.marketplace import demo
from efp.marketplace.models import Offering, Order, Resource
from efp.structure.models import Customer, Project
from efp.web.tests.test_browser import OUTPUT, WIDTHS, browser_page
from efp.web.tests.test_browser_consumer import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]  # the fixture, imported so that pytest finds it here

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""

Page = str | Callable[[], str]


def _resource(name: str) -> str:
    return Resource.objects.get(name=name).uuid.hex


def _token(username: str) -> str:
    """A token of the user's, to be revoked (the demo builds none: its tokens are made when printed)."""
    return issue_token(user=User.objects.get(username=username), name="laptop")[0].uuid.hex


def _order(**lookup: Any) -> str:
    return Order.objects.filter(**lookup).order_by("pk").first().uuid.hex  # type: ignore[union-attr]


PAGES: dict[str, list[Page]] = {
    "provider": [
        "/",
        "/provider/",
        "/provider/resources/",
        "/provider/resources/?usage_flag=over_limit",  # usage-flag badges and the filter
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/",  # the allocation page
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/usage/",
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/report/",
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/correct/?component=cpu",
        lambda: f"/provider/offerings/{Offering.objects.get(name__icontains='slurm').uuid.hex}/corrections/",
        "/provider/coverage/",
        "/provider/coverage/?only_missing=on",
        "/provider/usage-report/",
        "/provider/orders/",
        lambda: f"/provider/orders/{_order(state='pending-provider')}/",
        lambda: f"/provider/orders/{_order(attributes__action='renew')}/",  # an extension request
        lambda: f"/provider/orders/{_order(state='pending-provider')}/reject/",
        lambda: f"/provider/orders/{_order(state='pending-provider')}/approve/",
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/backend-id/",
        lambda: f"/provider/resources/{_resource('climate-ensembles')}/end-date/",
        lambda: f"/provider/resources/{_resource('consulting-materials-2025')}/",  # terminated, restorable
        lambda: f"/provider/resources/{_resource('consulting-materials-2025')}/restore/",
        "/provider/hooks/",
        "/provider/hooks/new/",
        "/provider/usage-import/",
        lambda: f"/provider/hooks/{WebHook.objects.order_by('pk').first().uuid.hex}/",  # type: ignore[union-attr]
        "/notifications/",
        "/profile/",
        lambda: f"/profile/tokens/{_token('provider')}/revoke/",
    ],
    "owner": [
        "/",  # the landing page: what waits for an owner
        "/marketplace/",
        lambda: f"/marketplace/offerings/{Offering.objects.get(name__icontains='slurm').uuid.hex}/",
        lambda: f"/marketplace/offerings/{Offering.objects.get(name__icontains='slurm').uuid.hex}/order/",
        "/my/orders/",
        lambda: f"/my/orders/{_order(state='pending-consumer')}/",
        lambda: f"/my/orders/{_order(state='pending-consumer')}/approve/",
        lambda: f"/my/orders/{_order(state='pending-consumer')}/reject/",
        lambda: f"/my/orders/{_order(state='pending-consumer')}/cancel/",
        "/my/resources/",
        lambda: f"/my/resources/{_resource('climate-ensembles')}/",  # the allocation page
        "/my/usage-report/",
        lambda: f"/my/resources/{_resource('climate-ensembles')}/usage/",
        lambda: f"/my/resources/{_resource('climate-ensembles')}/limits/",
        lambda: f"/my/resources/{_resource('climate-ensembles')}/terminate/",
        lambda: f"/my/resources/{_resource('climate-ensembles')}/extend/",
        "/organisations/",
        lambda: f"/organisations/{Customer.objects.filter(projects__isnull=False).first().uuid.hex}/",  # type: ignore[union-attr]
        lambda: f"/projects/{Project.objects.order_by('pk').first().uuid.hex}/",  # type: ignore[union-attr]
        lambda: f"/projects/{Project.objects.order_by('pk').first().uuid.hex}/edit/",  # type: ignore[union-attr]
        lambda: (
            f"/organisations/{Customer.objects.filter(projects__isnull=False).first().uuid.hex}/projects/new/"
        ),  # type: ignore[union-attr]
    ],
}


def violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())
    return list(page.evaluate(RUN, RULES))


@pytest.fixture
def axe_page(browser_page: Any) -> Any:
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing (make test runs npm ci)")
    return browser_page


def test_it_finds_a_violation_when_there_is_one(axe_page: Any) -> None:
    """The check can fail: an unlabelled field on the login page is reported."""
    axe_page.goto("/login/")
    assert violations(axe_page) == []
    axe_page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")
    assert "label" in {v["id"] for v in violations(axe_page)}


def test_the_page_showing_a_new_token_passes_axe(axe_page: Any) -> None:
    demo.build()
    log_in(axe_page, "provider")
    axe_page.goto("/profile/")
    assert violations(axe_page) == []
    axe_page.get_by_label("Name").fill("laptop")
    axe_page.get_by_role("button", name="Make token").click()
    assert len(axe_page.get_by_label("API key").input_value()) == 40
    assert violations(axe_page) == []


def test_every_page_passes_axe_for_its_persona(axe_page: Any, settings: Any) -> None:
    """Each page is loaded once and checked at both widths (the 375 px layout is the same page under
    other media queries); test-output/axe.txt lists every page with its violation count per width."""
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the demo's web hook posts to this machine
    demo.build()
    found: dict[str, list[dict[str, Any]]] = {}
    counts: list[str] = []
    for username, pages in PAGES.items():
        log_in(axe_page, username)
        for entry in pages:
            path = entry if isinstance(entry, str) else entry()
            axe_page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            response = axe_page.goto(path)
            assert response is not None and response.status == 200, path
            row = []
            for width in WIDTHS:
                axe_page.set_viewport_size({"width": width, "height": 900})
                problems = violations(axe_page)
                row.append(f"{width} px: {len(problems)}")
                if problems:
                    found[f"{username} {path} at {width} px"] = problems
            counts.append(f"{username} {path} | " + " | ".join(row))
        log_out(axe_page)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "axe.txt").write_text("\n".join(counts) + "\n")
    assert found == {}
