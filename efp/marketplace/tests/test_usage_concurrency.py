"""Concurrent usage writes over real HTTP for one (resource, component, month) on PostgreSQL.

Every race runs `races.ROUNDS` times (EFP_RACE_ROUNDS). What must hold: every call is answered 201, one
record per (resource, component, month), its value one of those sent, one row per (record, username), and
every revision kept.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.test import LiveServerTestCase
from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, UsageRevision
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.races import (
    ROUNDS,
    WideBacklogServerThread,
    needs_postgresql,
    post_once,
    poster,
    race,
)

CALLS = 32


@needs_postgresql
class ConcurrentSetUsageTests(LiveServerTestCase):
    server_thread_class = WideBacklogServerThread

    def setUp(self) -> None:
        self.world = build_world()
        self.usages_url = f"{self.live_server_url}/api/marketplace-component-usages/"

    def test_it_leaves_one_row_and_no_server_error(self) -> None:
        world = self.world
        token = world.token(world.carol)
        for round_ in range(ROUNDS):
            amounts = [f"{round_ * 1000 + n}.{n % 100:02d}" for n in range(1, CALLS + 1)]
            codes = race(
                [
                    poster(
                        f"{self.usages_url}set_usage/",
                        token,
                        {"resource": world.resource.uuid.hex, "usages": [{"type": "cpu", "amount": amount}]},
                    )
                    for amount in amounts
                ]
            )
            assert codes == [201] * CALLS, (round_, codes)
            rows = ComponentUsage.objects.filter(resource=world.resource, component__type="cpu")
            assert rows.count() == 1
            assert rows.get().usage in {Decimal(a) for a in amounts}, round_
            revisions = UsageRevision.objects.filter(component_usage=rows.get(), username="")
            assert revisions.count() == CALLS * (round_ + 1)
            world.resource.refresh_from_db()
            assert world.resource.current_usages == {"cpu": float(rows.get().usage)}

    def test_it_keeps_one_row_per_user_with_the_values_of_one_request(self) -> None:
        world = self.world
        token = world.token(world.carol)
        post_once(
            f"{self.usages_url}set_usage/",
            token,
            {"resource": world.resource.uuid.hex, "usages": [{"type": "cpu", "amount": "10"}]},
        )
        parent = ComponentUsage.objects.get(resource=world.resource, component__type="cpu")
        url = f"{self.usages_url}{parent.uuid.hex}/set_user_usages/"
        calls = CALLS // 2
        for round_ in range(ROUNDS):
            sent = [(Decimal(round_ * 100 + n), Decimal(round_ * 100 + n + 50)) for n in range(calls)]
            bodies = [
                {"usages": [{"username": "ana", "usage": str(a)}, {"username": "ben", "usage": str(b)}]}
                for a, b in sent
            ]
            codes = race([poster(url, token, body) for body in bodies])
            assert codes == [201] * calls, (round_, codes)
            rows = ComponentUserUsage.objects.filter(component_usage=parent)
            assert sorted(rows.values_list("username", flat=True)) == ["ana", "ben"], round_
            stored = (rows.get(username="ana").usage, rows.get(username="ben").usage)
            assert stored in sent, (round_, stored)  # both values come from one and the same request

    def test_it_makes_one_record_for_a_month_written_as_a_total_and_per_user_at_once(self) -> None:
        """Staff back-fill last month (no record yet) with set_usage and set_user_usages at the same time."""
        world = self.world
        token = world.token(world.staff)
        last_month = add_months(billing_period_of(timezone.now()), -1)
        date = (month_start(last_month) + datetime.timedelta(days=3)).isoformat()
        for round_ in range(ROUNDS):
            resource = make_resource(
                world.alice, world.carol, world.resource.project, world.offering, name=f"b{round_}"
            )
            post_once(
                f"{self.usages_url}set_usage/",
                token,
                {"resource": resource.uuid.hex, "usages": [{"type": "cpu", "amount": "1"}]},
            )
            this_month = ComponentUsage.objects.get(resource=resource, component__type="cpu")
            totals = [Decimal(100 + n) for n in range(CALLS // 2)]
            per_user = [Decimal(n + 1) for n in range(CALLS // 2)]
            calls = [
                poster(
                    f"{self.usages_url}set_usage/",
                    token,
                    {
                        "resource": resource.uuid.hex,
                        "date": date,
                        "usages": [{"type": "cpu", "amount": str(t)}],
                    },
                )
                for t in totals
            ] + [
                poster(
                    f"{self.usages_url}{this_month.uuid.hex}/set_user_usages/",
                    token,
                    {"usages": [{"username": "ana", "usage": str(u), "date": date}]},
                )
                for u in per_user
            ]
            codes = race(calls)
            assert codes == [201] * CALLS, (round_, codes)
            records = ComponentUsage.objects.filter(
                resource=resource, component__type="cpu", billing_period=last_month
            )
            assert records.count() == 1, (round_, list(records.values_list("plan_period_id", "usage")))
            record = records.get()
            # Totals overwrite; a record first made by a per-user call takes the sum of its users (one: ana).
            assert record.usage in {*totals, *per_user}, (round_, record.usage)
            users = ComponentUserUsage.objects.filter(component_usage__resource=resource)
            assert list(users.values_list("component_usage_id", "username")) == [(record.pk, "ana")]
            assert users.get().usage in per_user
            this_month.refresh_from_db()
            assert this_month.usage == Decimal(1)  # the current month is untouched
