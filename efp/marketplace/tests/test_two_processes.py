"""Two `efp serve` processes on one PostgreSQL database, every client spreading its requests over both:
the final state is the one the acknowledged requests call for, as with one process.

- orders created through either server all exist, once each;
- each order is approved at the same moment by carol through one server and by oscar through the other:
  exactly one approval answers 200 and the other 409, the order shows that reviewer and one transition;
- usage reports alternate between the servers, two clients even share one resource across the servers:
  every acknowledged value is stored once, nothing else is, and the stored usage is a last value.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
from django.test import TransactionTestCase

from efp.marketplace.models import ComponentUsage, Order, OrderEvent, UsageRevision
from efp.marketplace.tests.factories import make_resource, plan_of
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.served import Server, needs_postgresql

ORDERS = 12
REPORTS = 15  # per client


@needs_postgresql
class TwoProcessesTests(TransactionTestCase):
    def setUp(self) -> None:
        self.world = build_world()
        w = self.world
        # Worker threads must not touch the ORM (each would keep a connection open): tokens and URLs now.
        self.tokens = {user.pk: w.token(user) for user in (w.alice, w.carol, w.oscar)}
        self.plan = plan_of(w.offering)
        self.servers = [Server(workers=2), Server(workers=2)]
        for server in self.servers:
            server.start()

    def tearDown(self) -> None:
        for server in self.servers:
            server.stop()

    def api(self, user: object, server: Server) -> httpx.Client:
        token = self.tokens[user.pk]  # type: ignore[attr-defined]
        return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=60)

    def test_it_ends_in_the_state_the_acknowledged_requests_call_for(self) -> None:
        created = self.create_orders()
        self.approve_from_both_sides(created)
        self.report_usage_through_both()
        for server in self.servers:  # both still serve after all of it
            assert httpx.get(f"{server.url}/api/version/", timeout=10).status_code == 200

    def create_orders(self) -> list[str]:
        w = self.world

        def create(i: int) -> str:
            server = self.servers[i % 2]
            body = {
                "project": f"{server.url}/api/projects/{w.resource.project.uuid.hex}/",
                "offering": f"{server.url}/api/marketplace-public-offerings/{w.offering.uuid.hex}/",
                "plan": f"{server.url}/api/marketplace-plans/{self.plan.uuid.hex}/",
                "attributes": {"name": f"order-{i}"},
                "limits": {"storage": i + 1},
            }
            with self.api(w.alice, server) as client:
                response = client.post("/api/marketplace-orders/", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["uuid"])

        with ThreadPoolExecutor(max_workers=4) as pool:
            created = list(pool.map(create, range(ORDERS)))
        assert len(set(created)) == ORDERS
        orders = Order.objects.filter(uuid__in=created)
        assert orders.count() == ORDERS
        assert {o.resource.name for o in orders.select_related("resource")} == {
            f"order-{i}" for i in range(ORDERS)
        }
        assert {o.state for o in orders} == {"pending-provider"}
        return created

    def approve_from_both_sides(self, created: list[str]) -> None:
        w = self.world
        a, b = self.servers

        def approve(order: str, user: object, server: Server, start: threading.Barrier) -> int:
            with self.api(user, server) as client:
                start.wait()
                return client.post(f"/api/marketplace-orders/{order}/approve_by_provider/").status_code

        with ThreadPoolExecutor(max_workers=2 * ORDERS) as pool:
            races = []
            for i, order in enumerate(created):
                start = threading.Barrier(2)
                first, second = (a, b) if i % 2 else (b, a)  # each reviewer through each server in turn
                races.append(
                    (
                        order,
                        pool.submit(approve, order, w.carol, first, start),
                        pool.submit(approve, order, w.oscar, second, start),
                    )
                )
            for order_uuid, carols, oscars in races:
                codes = (carols.result(), oscars.result())
                assert sorted(codes) == [200, 409], (order_uuid, codes)
                order = Order.objects.get(uuid=order_uuid)
                winner = w.carol if codes[0] == 200 else w.oscar
                assert (order.state, order.provider_reviewed_by) == ("executing", winner), order_uuid
                assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1

    def report_usage_through_both(self) -> None:
        w = self.world
        own = [
            make_resource(w.alice, w.carol, w.resource.project, w.offering, name=f"own-{i}") for i in range(2)
        ]
        shared = w.resource
        # (resource, user, values): two clients own a resource each; carol and oscar share one.
        clients = [
            (own[0], w.carol, [Decimal(n) for n in range(1, REPORTS + 1)]),
            (own[1], w.oscar, [Decimal(n) for n in range(1, REPORTS + 1)]),
            (shared, w.carol, [Decimal(n) + Decimal("0.25") for n in range(1, REPORTS + 1)]),
            (shared, w.oscar, [Decimal(n) + Decimal("0.75") for n in range(1, REPORTS + 1)]),
        ]

        def report(resource: object, user: object, values: list[Decimal]) -> list[Decimal]:
            acknowledged = []
            for i, value in enumerate(values):
                server = self.servers[i % 2]
                with self.api(user, server) as client:
                    response = client.post(
                        "/api/marketplace-component-usages/set_usage/",
                        json={
                            "resource": resource.uuid.hex,
                            "usages": [{"type": "cpu", "amount": str(value)}],
                        },  # type: ignore[attr-defined]
                    )
                assert response.status_code == 201, response.text
                acknowledged.append(value)
            return acknowledged

        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            results = list(pool.map(lambda c: report(*c), clients))

        for resource, acknowledged in ((own[0], results[0]), (own[1], results[1])):
            usage = ComponentUsage.objects.get(resource=resource, component__type="cpu")
            assert usage.usage == acknowledged[-1]
            stored = list(
                UsageRevision.objects.filter(component_usage=usage).values_list("new_value", flat=True)
            )
            assert sorted(stored) == acknowledged
        usage = ComponentUsage.objects.get(resource=shared, component__type="cpu")
        stored = list(
            UsageRevision.objects.filter(component_usage=usage)
            .order_by("pk")
            .values_list("new_value", flat=True)
        )
        assert sorted(stored) == sorted(results[2] + results[3])
        assert usage.usage in {results[2][-1], results[3][-1]}  # one of the two clients wrote last
        assert usage.usage == stored[-1]  # the row lock serialises the writes: the last revision is the value
        shared.refresh_from_db()
        assert shared.current_usages == {"cpu": float(usage.usage)}
