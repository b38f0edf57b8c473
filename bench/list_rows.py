"""What a page of each API list costs in-process, and the plan of its page query (issue 18, point 2).

    EFP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/efp_bench python -m bench.list_rows [--calls 100]
        [--only cu,uu] [--personas provider,manager,staff] [--explain] [--no-count] [--json out.json]

For every list of point 2 (both usage lists, orders, provider resources; unfiltered, with the month filter,
page 4; the site agent's order poll and resource listing) and every persona (the owner of the first seeded
provider, a manager of one of its offerings, staff), times `--calls` requests through `django.test.Client`
and prints the median. Each page's row query (the statement with LIMIT, without the count a first page
of the hand-written usage pages carries in it) is run with EXPLAIN (ANALYZE, BUFFERS) three times: the
median execution time is printed, and with `--explain` the plan.
`--no-count` leaves counting out (a fixed X-Result-Count), to time the rows alone.

The offering manager (`scale-offering-manager`, of the provider's first offering) and the staff user
(`scale-staff`) are created on first use. Not part of `make test`; it reads a seeded database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MONTH = "2026-11-01"


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    import django

    django.setup()


def personas() -> dict[str, Any]:
    from efp.accounts.models import User
    from efp.marketplace.models import Offering
    from efp.marketplace.services.offerings import grant_offering_manager

    owner = User.objects.get(username="scale-provider-1")
    offering = Offering.objects.filter(customer__slug="scale-provider-1").order_by("pk").first()
    assert offering is not None
    manager, created = User.objects.get_or_create(
        username="scale-offering-manager", defaults={"email": "scale-offering-manager@example.org"}
    )
    if created:
        grant_offering_manager(offering=offering, user=manager)
    staff, _ = User.objects.get_or_create(
        username="scale-staff", defaults={"email": "scale-staff@example.org", "is_staff": True}
    )
    return {"provider": owner, "manager": manager, "staff": staff, "offering": offering}


def requests(offering_uuid: str) -> dict[str, str]:
    cu, uu = "/api/marketplace-component-usages/", "/api/marketplace-component-user-usages/"
    orders, resources = "/api/marketplace-orders/", "/api/marketplace-provider-resources/"
    agent_fields = "&".join(
        f"field={name}" for name in ("uuid", "name", "backend_id", "state", "limits", "project_uuid")
    )
    return {
        "cu": f"{cu}?page_size=50",
        "cu_month": f"{cu}?page_size=50&billing_period={MONTH}",
        "cu_p4": f"{cu}?page_size=50&page=4",
        "cu_month_p4": f"{cu}?page_size=50&billing_period={MONTH}&page=4",
        "uu": f"{uu}?page_size=50",
        "uu_month": f"{uu}?page_size=50&component_usage__billing_period={MONTH}",
        "uu_p4": f"{uu}?page_size=50&page=4",
        "orders": f"{orders}?page_size=50",
        "orders_p4": f"{orders}?page_size=50&page=4",
        "orders_poll": f"{orders}?offering_uuid={offering_uuid}&state=pending-provider&state=executing"
        "&page_size=100",
        "res": f"{resources}?page_size=50",
        "res_p4": f"{resources}?page_size=50&page=4",
        "res_agent": f"{resources}?offering_uuid={offering_uuid}&state=OK&state=Erred&page_size=100"
        f"&{agent_fields}",
    }


@contextmanager
def without_count() -> Iterator[None]:
    """X-Result-Count fixed at a large number: the page's rows alone (measuring only)."""
    from unittest import mock

    from django.db import connection

    from efp.rest import sqlrows

    original = sqlrows.SqlRows.__getitem__

    def page_only(self: Any, page: slice) -> Any:
        start = page.start or 0
        if start:
            return original(self, page)
        # the first page without the count it carries: asked as a later page is
        self._count = 10**6
        sql = f"SELECT {self.fields.select} {self.from_where} ORDER BY {self.order_by} LIMIT %s OFFSET %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*self.params, page.stop - start, start])
            rows = cursor.fetchall()
        return [self.render(values) for values in sqlrows.convert(rows, self.fields.columns)]

    with (
        mock.patch.object(sqlrows.SqlRows, "__getitem__", page_only),
        mock.patch.object(sqlrows.SqlRows, "count", lambda self: 10**6),
        mock.patch("django.db.models.query.QuerySet.count", lambda self: 10**6),
    ):
        yield


def page_statements(client: Any, path: str) -> list[tuple[str, list[Any]]]:
    """The statements of one request that read a page (LIMIT), the count subquery cut off."""
    from django.db import connection

    seen: list[tuple[str, list[Any]]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if " LIMIT " in sql and "marketplace_" in sql:
            seen.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        client.get(path)
    return seen


def explain(sql: str, params: list[Any]) -> str:
    from django.db import connection

    marker = ", (SELECT COUNT(*) "
    if marker in sql:  # the first page of a usage page: drop the count column and its parameters
        start = sql.index(marker)
        depth, end = 0, start + 2
        for end in range(start + 2, len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            if depth == 0:
                break
        sql = sql[:start] + sql[end + 1 :]
        half = (len(params) - 2) // 2
        params = [*params[:half], *params[-2:]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--only", default="")
    parser.add_argument("--personas", default="provider,manager,staff")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-count", action="store_true")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    setup()
    from django.test import Client

    from efp.accounts.services import issue_token

    people = personas()
    paths = requests(people["offering"].uuid.hex)
    only = [name for name in args.only.split(",") if name]
    results: dict[str, dict[str, float]] = {}
    for persona in args.personas.split(","):
        token = issue_token(user=people[persona], name="bench")[1]
        client = Client(HTTP_USER_AGENT="waldur-site-agent-order/0.9", HTTP_AUTHORIZATION=f"Token {token}")
        for name, path in paths.items():
            if only and name not in only:
                continue
            with without_count() if args.no_count else _nothing():
                response = client.get(path)
                assert response.status_code == 200, (persona, name, response.status_code)
                for _ in range(3):
                    client.get(path)
                times = []
                for _ in range(args.calls):
                    start = time.perf_counter()
                    client.get(path)
                    times.append((time.perf_counter() - start) * 1000)
            p50 = statistics.median(times)
            results.setdefault(persona, {})[name] = round(p50, 2)
            print(f"{persona:9} {name:12} p50 {p50:7.2f} ms  rows {len(response.json()):3}  "
                  f"count {response.headers.get('X-Result-Count')}", flush=True)  # fmt: skip
            for sql, params in page_statements(client, path):
                plans = [explain(sql, params) for _ in range(3)]
                ms = statistics.median(
                    float(plan.rsplit("Execution Time: ", 1)[1].split()[0]) for plan in plans
                )
                results[persona][f"{name}_sql"] = ms
                print(f"{'':9} {name:12} page SQL {ms:7.2f} ms", flush=True)
                if args.explain:
                    print(plans[-1], flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
