"""The CPU of a site agent's four requests in-process (issue 18, point 3): `make capacity`'s requests
(bench/capacity_locustfile.py), sent through `django.test.Client` with a provider owner's API token and the
agent's headers, on a seeded database. Prints per request type the median `time.process_time()` of a call
(this process's CPU: Python, and the database driver's side of each query) and the SQL statements a call
runs.

    EFP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/efp_bench \\
        python bench/agent_cpu.py [--calls 200] [--only orders_poll,set_usage] [--profile set_usage]

`--profile NAME` prints the cProfile (cumulative) of the calls of one type. It writes usage (set_usage and
set_user_usages on the seed's resources, this month) and a token: run it on a copy of a seed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.scale_seed import provider_token  # noqa: E402
from bench.site_agent_requests import (  # noqa: E402
    POLL_AGENT,
    REPORT_AGENT,
    RESOURCE_FIELDS,
    USERS,
    reportable_usages,
)
from efp.marketplace.billing_months import billing_period_of  # noqa: E402
from efp.marketplace.models import Offering  # noqa: E402

TYPES = ("orders_poll", "resources_list", "set_usage", "set_user_usages")


def agent() -> dict[str, Any]:
    """The first seeded provider's first Slurm offering with usage this month, as capacity.world() picks."""
    period = billing_period_of(timezone.now())
    offering = (
        Offering.objects.filter(customer__slug="scale-provider-1", type="Marketplace.Slurm")
        .order_by("pk")
        .first()
    )
    assert offering is not None, "no seed"
    resources = reportable_usages(offering, period)[:100]
    assert resources, "no usage this month: seed the database this month"
    return {"offering": offering.uuid.hex, "token": provider_token(1), "resources": resources}


def requests(me: dict[str, Any]) -> dict[str, Callable[[Client, int], Any]]:
    def headers(user_agent: str) -> dict[str, str]:
        token = f"Token {me['token']}"
        return {"Authorization": token, "User-Agent": user_agent, "Accept": "application/json"}

    def hours() -> float:
        """The month's hours so far, times 100,000: an agent reports each resource hourly, so every report
        changes its values (writes); calls here come milliseconds apart and must change them too."""
        now = datetime.datetime.now(datetime.UTC)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return (now - start).total_seconds() / 3600 * 100_000

    def orders_poll(client: Client, n: int) -> Any:
        path = f"/api/marketplace-orders/?offering_uuid={me['offering']}"
        path += "&state=pending-provider&state=executing&page_size=100"
        return client.get(path, headers=headers(POLL_AGENT))

    def resources_list(client: Client, n: int) -> Any:
        path = (
            f"/api/marketplace-provider-resources/?offering_uuid={me['offering']}&state=OK&state=Erred"
            f"&{RESOURCE_FIELDS}&page_size=100"
        )
        return client.get(path, headers=headers(REPORT_AGENT))

    def set_usage(client: Client, n: int) -> Any:
        resource, _ = me["resources"][n % len(me["resources"])]
        h = hours()
        body = {
            "resource": resource,
            "usages": [{"type": "cpu", "amount": f"{h * 40:.2f}"}, {"type": "gpu", "amount": f"{h:.2f}"}],
        }
        return client.post(
            "/api/marketplace-component-usages/set_usage/",
            json.dumps(body),
            content_type="application/json",
            headers=headers(REPORT_AGENT),
        )

    def set_user_usages(client: Client, n: int) -> Any:
        _, usage = me["resources"][n % len(me["resources"])]
        h = hours()
        users = [{"username": u, "usage": f"{h * 2 * (1 + i % 4) / 5:.2f}"} for i, u in enumerate(USERS)]
        return client.post(
            f"/api/marketplace-component-usages/{usage}/set_user_usages/",
            json.dumps({"usages": users}),
            content_type="application/json",
            headers=headers(REPORT_AGENT),
        )

    return {
        "orders_poll": orders_poll,
        "resources_list": resources_list,
        "set_usage": set_usage,
        "set_user_usages": set_user_usages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", default=",".join(TYPES))
    parser.add_argument("--profile", choices=TYPES)
    parser.add_argument("--sql", action="store_true", help="print the statements of one call of each type")
    args = parser.parse_args()
    me = agent()
    calls = requests(me)
    client = Client(REMOTE_ADDR="10.1.2.3")
    chosen = [args.profile] if args.profile else args.only.split(",")
    queries: list[str] = []

    def seen(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    print(f"{'request':<16} {'CPU ms p50':>10} {'p90':>7} {'wall ms p50':>11} {'queries':>7}  status")
    for kind in chosen:
        call = calls[kind]
        for n in range(5):  # warm: imports, caches, the connection
            call(client, n)
        queries.clear()
        with connection.execute_wrapper(seen):  # not CaptureQueriesContext: a request resets its log
            response = call(client, 0)
        assert response.status_code in (200, 201), (kind, response.status_code, response.content[:500])
        if args.sql:
            print("\n".join(f"  {q[:300]}" for q in queries))
        profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
        cpu, wall = [], []
        for n in range(args.calls):
            c, w = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            call(client, n)
            if profile:
                profile.disable()
            cpu.append((time.process_time() - c) * 1000)
            wall.append((time.perf_counter() - w) * 1000)
        p90 = statistics.quantiles(cpu, n=10)[-1]
        print(
            f"{kind:<16} {statistics.median(cpu):>10.2f} {p90:>7.2f} {statistics.median(wall):>11.2f} "
            f"{len(queries):>7}  {response.status_code}"
        )
        if profile:
            stats = pstats.Stats(profile).sort_stats("cumulative")
            stats.print_stats(60)
            stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
