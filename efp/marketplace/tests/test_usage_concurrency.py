"""32 concurrent `set_usage` calls over real HTTP for one (resource, component, month) on PostgreSQL."""

from __future__ import annotations

import unittest
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import httpx
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test import LiveServerTestCase
from django.test.testcases import LiveServerThread

from efp.marketplace.models import ComponentUsage, UsageRevision
from efp.marketplace.tests.live_world import build_world

CALLS = 32


class WideBacklogServer(ThreadedWSGIServer):
    request_queue_size = 2 * CALLS  # Django's 10 would reset connections before they are accepted


class WideBacklogServerThread(LiveServerThread):
    server_class = WideBacklogServer


@unittest.skipIf(
    connection.vendor == "sqlite",
    "needs PostgreSQL: SQLite serialises every write, so it cannot show a race (set EFP_DATABASE_URL)",
)
class ConcurrentSetUsageTests(LiveServerTestCase):
    server_thread_class = WideBacklogServerThread

    def test_it_leaves_one_row_and_no_server_error(self) -> None:
        world = build_world()
        url = f"{self.live_server_url}/api/marketplace-component-usages/set_usage/"
        headers = {"Authorization": f"Token {world.token(world.carol)}"}
        amounts = [f"{n}.{n % 100:02d}" for n in range(1, CALLS + 1)]
        start = Barrier(CALLS)

        def report(amount: str) -> int:
            with httpx.Client(timeout=60) as client:
                start.wait()
                body = {"resource": world.resource.uuid.hex, "usages": [{"type": "cpu", "amount": amount}]}
                return client.post(url, json=body, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=CALLS) as pool:
            codes = list(pool.map(report, amounts))

        assert codes == [201] * CALLS, codes
        rows = ComponentUsage.objects.filter(resource=world.resource, component__type="cpu")
        assert rows.count() == 1
        assert rows.get().usage in {Decimal(a) for a in amounts}
        assert UsageRevision.objects.filter(component_usage=rows.get()).count() == CALLS
        world.resource.refresh_from_db()
        assert world.resource.current_usages == {"cpu": float(rows.get().usage)}
