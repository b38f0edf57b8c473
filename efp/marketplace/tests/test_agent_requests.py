"""The four requests of `make capacity`'s site agents (bench/capacity_locustfile.py, as waldur-site-agent
1.0.7 sends them) run a fixed handful of queries, whatever the page or the report holds: the orders poll,
the resource list with the agent's fields, `set_usage` and a 20-user `set_user_usages`. The provider's owner
polls with an API token, as the capacity run's agents do. Figures: docs/performance.md, "CPU per agent
request"."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from bench import scale_seed
from bench.site_agent_requests import REPORT_AGENT, RESOURCE_FIELDS
from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.api.orders.serializers import OrderDetailsSerializer
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, Order
from efp.marketplace.states import ResourceState


def at_most(postgresql: int, sqlite: int) -> int:
    """A write's queries in a test: inside the test's transaction each atomic block is a savepoint (two
    statements more than served), and SQLite takes its write lock with an UPDATE of the resource."""
    return postgresql if connection.vendor == "postgresql" else sqlite


class AgentRequestTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        scale_seed.seed(resources=200, months=2, users_per_resource=3, write=lambda line: None)
        scale_seed.pending_order_supply(20)
        cls.token = scale_seed.provider_token(1)
        cls.supply = Offering.objects.get(name=scale_seed.SUPPLY_OFFERING)
        usage = (
            ComponentUsage.objects.filter(
                resource__offering__customer__slug=scale_seed.FIRST_PROVIDER_SLUG,
                resource__state=ResourceState.OK,
                billing_period=billing_period_of(timezone.now()),
                component__type="cpu",
            )
            .select_related("resource__offering")
            .order_by("resource_id")
            .first()
        )
        assert usage is not None
        cls.usage = usage

    def agent(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}", HTTP_USER_AGENT=REPORT_AGENT)
        return client

    def queries(self, send: Any) -> tuple[int, Any]:
        send()  # warm up: the token's first use is noted
        with CaptureQueriesContext(connection) as queries:
            response = send()
        assert response.status_code in (200, 201), response.content[:300]
        return len(queries), response

    def poll(self, page_size: int) -> Any:
        url = f"/api/marketplace-orders/?offering_uuid={self.supply.uuid.hex}"
        return self.agent().get(f"{url}&state=pending-provider&state=executing&page_size={page_size}")

    def test_it_polls_a_page_of_orders_in_four_queries_whatever_its_size(self) -> None:
        one, _ = self.queries(lambda: self.poll(1))
        twenty, response = self.queries(lambda: self.poll(20))
        assert len(response.json()) == 20
        assert one == twenty <= 4, (one, twenty, connection.vendor)

    def test_it_answers_the_poll_as_the_whole_rows_render(self) -> None:
        # The list reads only the joined columns its serializer shows; the answer is the one whole rows give.
        answer = self.poll(20).json()
        keys = [row["uuid"] for row in answer]
        whole = selectors.orders_with_details(Order.objects.filter(uuid__in=keys)).order_by("created", "pk")
        request = Request(APIRequestFactory().get("/api/marketplace-orders/"))
        request.user = User.objects.get(username=scale_seed.provider_username(1))
        rendered = OrderDetailsSerializer(whole, many=True, context={"request": request}).data
        assert json.loads(JSONRenderer().render(rendered)) == answer

    def test_it_lists_the_agents_resources_in_three_queries(self) -> None:
        offering = self.usage.resource.offering.uuid.hex
        url = f"/api/marketplace-provider-resources/?offering_uuid={offering}&state=OK&state=Erred"
        url += f"&{RESOURCE_FIELDS}"
        count, response = self.queries(lambda: self.agent().get(f"{url}&page_size=100"))
        assert response.json()
        assert count <= 3, (count, connection.vendor)

    def test_it_reports_usage_in_a_fixed_handful_of_queries(self) -> None:
        amounts = iter(range(100, 200))

        def report() -> Any:
            usages = [{"type": "cpu", "amount": f"{next(amounts)}.00"}]
            body = {"resource": self.usage.resource.uuid.hex, "usages": usages}
            return self.agent().post("/api/marketplace-component-usages/set_usage/", body, format="json")

        count, _ = self.queries(report)
        assert count <= at_most(9, 11), (count, connection.vendor)

    def test_it_reports_twenty_users_in_a_fixed_handful_of_queries_and_writes_each_value(self) -> None:
        url = f"/api/marketplace-component-usages/{self.usage.uuid.hex}/set_user_usages/"
        rounds = iter(range(1, 100))
        last: list[dict[str, str]] = []

        def report() -> Any:
            step = next(rounds)
            last[:] = [
                {"username": f"cluster-user-{n:02d}", "usage": f"{step * (n + 1)}.50"} for n in range(20)
            ]
            return self.agent().post(url, {"usages": last}, format="json")

        count, _ = self.queries(report)  # the second report changes every user's value
        assert count <= at_most(15, 17), (count, connection.vendor)
        stored = dict(
            ComponentUserUsage.objects.filter(component_usage=self.usage).values_list("username", "usage")
        )
        assert {name: str(stored[name]) for name in (row["username"] for row in last)} == {
            row["username"]: row["usage"] for row in last
        }
