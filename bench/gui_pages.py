"""The provider GUI's pages timed in-process on a seeded database (issue 18, point 2): p50 of
`django.test.Client` calls as the first seeded provider's owner and as an offering manager of its first
offering.

    EFP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/efp_bench \\
        python bench/gui_pages.py [--calls 50] [--only dashboard,coverage] [--explain] [--profile NAME]

`--explain` prints each query of one call of every page with its EXPLAIN ANALYZE timing; `--profile NAME`
prints the cProfile of 20 calls of one page. The offering manager (`scale-offering-manager`) is granted
through the service the first time (the seed has none).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.scale_seed import provider_username  # noqa: E402
from efp.accounts.models import User  # noqa: E402
from efp.marketplace.models import ComponentUsage, Offering  # noqa: E402
from efp.marketplace.services.offerings import grant_offering_manager  # noqa: E402

MANAGER = "scale-offering-manager"


def personas() -> dict[str, Any]:
    owner = User.objects.get(username=provider_username(1))
    offering = Offering.objects.filter(customer__roles__user=owner).order_by("pk").first()
    assert offering is not None
    manager = User.objects.filter(username=MANAGER).first()
    if manager is None:
        manager = User.objects.create_user(username=MANAGER, email="manager@example.org")
        grant_offering_manager(offering=offering, user=manager)
    return {"owner": owner, "manager": manager, "offering": offering}


def pages(offering: Offering) -> dict[str, str]:
    usage = (
        ComponentUsage.objects.filter(resource__offering=offering)
        .order_by("resource_id")
        .values("resource__uuid")
    ).first()
    assert usage is not None
    uuid = usage["resource__uuid"].hex
    return {
        "dashboard": "/provider/",
        "resources": "/provider/resources/",
        "resources_p4": "/provider/resources/?page=4",
        "orders": "/provider/orders/",
        "orders_all_p4": "/provider/orders/?filtered=1&page=4",
        "show_usage": f"/provider/resources/{uuid}/usage/",
        "coverage": "/provider/coverage/",
        "coverage_missing": "/provider/coverage/?only_missing=on",
    }


def time_page(client: Client, url: str, calls: int) -> tuple[float, int]:
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(times), len(queries)


def explain(client: Client, url: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]
            print(f"  {plan['Execution Time']:8.2f} ms  {sql[:220]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--only", default="")
    parser.add_argument("--as", dest="persona", default="owner,manager")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    people = personas()
    urls = pages(people["offering"])
    only = [name for name in args.only.split(",") if name]
    for persona in args.persona.split(","):
        client = Client()
        client.force_login(people[persona])
        for name, url in urls.items():
            if only and name not in only:
                continue
            if args.profile == name:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(20):
                    client.get(url)
                profile.disable()
                pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
                continue
            if args.explain:
                print(f"{persona} {name} {url}")
                explain(client, url)
                continue
            p50, count = time_page(client, url, args.calls)
            print(f"{persona:8} {name:18} p50 {p50:8.1f} ms  {count:3} queries", flush=True)


if __name__ == "__main__":
    main()
