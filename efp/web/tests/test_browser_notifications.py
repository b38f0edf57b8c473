"""The bell in Debian's Chromium, with a task worker beside the live server: `member` places an order,
the worker dispatches its event, and `owner`'s bell shows that an order waits for them.

The worker is Django Tasks' own `db_worker` on the test database: a subprocess on PostgreSQL; on SQLite,
whose test database lives in this process's memory, the same worker code in batch mode (`InlineWorker`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from efp.events.models import Event
from efp.events.recorder import Scopes, record
from efp.events.tests.running import run_tasks
from efp.marketplace import demo
from efp.marketplace.models import Order
from efp.marketplace.tests import served
from efp.notifications.models import Notification
from efp.notifications.tests.base import order_context
from efp.web.tests.test_browser import browser_page, shot
from efp.web.tests.test_browser_consumer import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page"]

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"


class InlineWorker:
    """SQLite: the test database lives in this process's memory, shared between threads with table locks
    that a worker thread keeps running into ("database table is locked"); the same worker code runs here in
    batch mode, in the test's thread, each time the walk looks at the bell."""

    def start(self) -> None:
        pass

    def tick(self) -> None:
        run_tasks()

    def stop(self) -> None:
        pass


class ProcessWorker:
    """`python manage.py db_worker --interval 0.1` on the test database (PostgreSQL)."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "EFP_DATABASE_URL": served.test_database_url(), "EFP_EMAIL_URL": "locmem://"}
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE), "db_worker", "--interval", "0.1", "--no-startup-delay"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def tick(self) -> None:
        pass  # it runs on its own

    def stop(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        assert "Traceback" not in output, output


@pytest.fixture
def task_worker(browser_page: Any) -> Iterator[InlineWorker | ProcessWorker]:
    worker = InlineWorker() if connection.vendor == "sqlite" else ProcessWorker()
    worker.start()
    yield worker
    worker.stop()


def order_event_written(name: str) -> Order:
    """The order's `marketplace_order_created`, as `create_order` writes it (written here only if the
    service did not write one: the events work lands on its own branch)."""
    order = Order.objects.select_related("project__customer", "offering__customer", "created_by").get(
        attributes__name=name
    )
    if not Event.objects.filter(order_id=order.pk).exists():
        with transaction.atomic():
            record(
                "marketplace_order_created",
                f"Marketplace order for {name} has been created.",
                scopes=Scopes(
                    customer_id=order.project.customer_id,
                    project_id=order.project_id,
                    offering_id=order.offering_id,
                    resource_id=order.resource_id,
                    order_id=order.pk,
                ),
                context=order_context(order, order.created_by),
                actor=order.created_by,
            )
    return order


def test_a_members_order_rings_the_owners_bell(browser_page: Any, task_worker: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    demo.build()

    # member places an order for a Basic offering: it waits for an owner of the organisation.
    log_in(page, "member")
    bell = page.locator("#bell")
    expect(bell).to_have_accessible_name(re.compile(r"^Notifications, \d+ unread$"))
    page.goto("/marketplace/")
    page.get_by_role("link", name="Research software consulting", exact=True).click()
    page.get_by_role("link", name="Order this offering").click()
    page.get_by_label("Project").select_option(label="University of Tartu Physics / Genome assembly")
    page.get_by_label("Resource name").fill("bell-rings")
    page.get_by_label("Consulting hours limit (hours)").fill("10")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("Waiting for the consumer").first).to_be_visible()
    order = order_event_written("bell-rings")
    log_out(page)

    # owner: the worker has dispatched the event; the bell says so in words.
    log_in(page, "owner")
    deadline = time.monotonic() + 30
    while True:  # until the worker has told the owner and has nothing left to do
        task_worker.tick()
        told = Notification.objects.filter(user__username="owner", url__contains=order.uuid.hex).exists()
        if told and not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists():
            break
        assert time.monotonic() < deadline, "the worker did not tell the owner"
        time.sleep(0.2)
    page.reload()
    name = page.locator("#bell").get_attribute("aria-label") or ""
    count = int(re.sub(r"\D", "", name) or 0)
    assert count == Notification.objects.filter(user__username="owner", read_at__isnull=True).count() >= 1
    bell = page.locator("#bell")
    expect(bell).to_have_accessible_name(re.compile(r"^Notifications, [1-9]\d* unread$"))
    expect(bell).to_contain_text(re.compile(r"[1-9]\d* unread"))
    shot(page, "n01-bell")
    bell.click()
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    link = page.get_by_role("link", name="Create order for bell-rings waits for your approval")
    expect(link).to_be_visible()
    shot(page, "n02-notifications")

    # Mark it read (htmx swaps the list and the bell), then open the order from the list.
    page.get_by_role("button", name="Mark read: Create order for bell-rings waits for your approval").click()
    expect(
        page.get_by_role("button", name=re.compile("Mark read: Create order for bell-rings"))
    ).to_have_count(0)
    unread_after = int(re.sub(r"\D", "", page.locator("#bell").get_attribute("aria-label") or "") or 0)
    assert unread_after == count - 1
    link.click()
    expect(page.get_by_role("heading", name=re.compile("bell-rings"))).to_be_visible()
    assert order.uuid.hex in page.url

    # Mark all read: the bell says 0.
    page.goto("/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#bell")).to_have_accessible_name("Notifications, 0 unread")
    page.goto("/profile/")
    expect(page.get_by_role("heading", name="E-mail notifications")).to_be_visible()
    page.get_by_role("group", name="Orders waiting for you and orders you placed").get_by_label(
        "Daily digest"
    ).check()
    page.get_by_role("button", name="Save e-mail preferences").click()
    expect(page.get_by_text("Your e-mail preferences were saved.")).to_be_visible()
    shot(page, "n03-preferences")
