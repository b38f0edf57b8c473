"""Usage imports racing each other and `set_usage` over real HTTP on PostgreSQL: an apply locks the
resources it names before it plans, so every call is answered, one record per (resource, component,
month) is left, its value one of those sent, and every value written keeps its revision."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
from django.test import LiveServerTestCase
from django.utils import timezone

from efp.marketplace.billing_months import billing_period_of, month_key
from efp.marketplace.models import ComponentUsage, UsageRevision
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.races import ROUNDS, WideBacklogServerThread, needs_postgresql, poster, race

CALLS = 8


def importer(url: str, token: str, content: str) -> Callable[[httpx.Client], int]:
    def call(client: httpx.Client) -> int:
        files = {"file": ("usage.csv", content.encode(), "text/csv")}
        response = client.post(
            url, files=files, data={"dry_run": "false"}, headers={"Authorization": f"Token {token}"}
        )
        return response.status_code

    return call


@needs_postgresql
class ConcurrentImportTests(LiveServerTestCase):
    server_thread_class = WideBacklogServerThread

    def test_imports_and_reports_of_one_month_leave_one_record(self) -> None:
        world = build_world()
        token = world.token(world.carol)
        base = self.live_server_url
        month = month_key(billing_period_of(timezone.now()))
        for round_ in range(ROUNDS):
            amounts = [f"{round_ * 100 + n}.25" for n in range(1, CALLS + 1)]
            calls = []
            for n, amount in enumerate(amounts):
                if n % 2:
                    body = {
                        "resource": world.resource.uuid.hex,
                        "usages": [{"type": "cpu", "amount": amount}],
                    }
                    calls.append(poster(f"{base}/api/marketplace-component-usages/set_usage/", token, body))
                else:
                    line = f"{world.resource.uuid.hex},cpu,{month},{amount}"
                    content = f"resource_uuid,component,month,amount\n{line}\n"
                    calls.append(importer(f"{base}/api/marketplace-usage-imports/", token, content))
            codes = race(calls)
            assert codes == [200 if n % 2 == 0 else 201 for n in range(CALLS)], (round_, codes)
            rows = ComponentUsage.objects.filter(resource=world.resource, component__type="cpu")
            assert rows.count() == 1
            assert rows.get().usage in {Decimal(a) for a in amounts}
            revisions = UsageRevision.objects.filter(component_usage=rows.get(), username="")
            assert revisions.count() == CALLS * (round_ + 1)

    def test_imports_naming_the_same_resources_in_other_orders_do_not_deadlock(self) -> None:
        world = build_world()
        other = make_resource(world.alice, world.carol, world.resource.project, world.offering, name="other")
        token = world.token(world.carol)
        month = month_key(billing_period_of(timezone.now()))
        url = f"{self.live_server_url}/api/marketplace-usage-imports/"
        for round_ in range(ROUNDS):
            calls = []
            for n in range(CALLS):
                first, second = (world.resource, other) if n % 2 else (other, world.resource)
                content = (
                    "resource_uuid,component,month,amount\n"
                    f"{first.uuid.hex},cpu,{month},{round_}.{n}\n{second.uuid.hex},gpu,{month},{round_}.{n}\n"
                )
                calls.append(importer(url, token, content))
            assert race(calls) == [200] * CALLS, round_
        assert ComponentUsage.objects.filter(resource__in=[world.resource, other]).count() == 4
