"""`make import-bench`: how long the preview (dry run) of a 100,000-line usage CSV takes, on SQLite and on
PostgreSQL, through the service and through `POST /api/marketplace-usage-imports/`.

For each database (a fresh SQLite file; IMPORT_BENCH_DATABASE_URL, default efp_importbench on
127.0.0.1:5432, dropped and created again) a child process migrates it, builds a world in bulk
(IMPORT_BENCH_RESOURCES resources, default 1,000, of one offering, with 24 offering users and last
month's and this month's totals already reported for half of them), writes IMPORT_BENCH_LINES lines
(default 100,000: per resource, component cpu and gpu, this month and last month with a reason, the total
and 24 users' rows) and times `import_usage(dry_run=True)` and the API call (multipart, token auth,
every middleware), then the apply (`dry_run=False`) through the service. The figures are printed;
docs/performance.md quotes them. Not part of `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("IMPORT_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/efp_importbench")
RESOURCES = int(os.environ.get("IMPORT_BENCH_RESOURCES", "1000"))
LINES = int(os.environ.get("IMPORT_BENCH_LINES", "100000"))
USERS = 24


def log(text: str) -> None:
    print(f"[import-bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def fresh_postgres() -> None:
    import psycopg

    name = urlparse(PG_URL).path.lstrip("/")
    admin = PG_URL.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in (("SQLite", f"sqlite:///{tmp}/importbench.sqlite3"), ("PostgreSQL", PG_URL)):
            if label == "PostgreSQL":
                fresh_postgres()
            env = {**os.environ, "EFP_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
            log(f"{label}: migrating, building {RESOURCES} resources, timing a {LINES:,}-line preview")
            out = subprocess.run(
                [sys.executable, "-m", "bench.usage_import", "--child"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            results[label] = json.loads(out.stdout.strip().splitlines()[-1])
    for label, figures in results.items():
        print(
            f"{label}: {figures['lines']:,} lines ({figures['bytes'] / 1e6:.1f} MB),"
            f" outcomes {figures['summary']};"
            f" preview: service {figures['service_s']:.1f} s, API {figures['api_s']:.1f} s;"
            f" apply (service, dry_run=false) {figures['apply_s']:.1f} s"
        )


# --- the child: one database ------------------------------------------------------------------------


def child() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    user, content = build_world()
    from django.test import Client

    from efp.accounts.services import issue_token
    from efp.marketplace.services.usage_imports import import_usage

    started = time.perf_counter()
    plan = import_usage(user=user, content=content, dry_run=True)
    service_s = time.perf_counter() - started
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client(HTTP_AUTHORIZATION="Token " + issue_token(user=user, name="bench")[1])
    upload = SimpleUploadedFile("usage.csv", content, content_type="text/csv")
    started = time.perf_counter()
    response = client.post("/api/marketplace-usage-imports/", {"file": upload, "dry_run": "true"})
    api_s = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    assert response.json()["summary"] == plan.summary
    started = time.perf_counter()
    import_usage(user=user, content=content, dry_run=False)
    apply_s = time.perf_counter() - started
    figures = {
        "lines": len(plan.lines),
        "bytes": len(content),
        "summary": plan.summary,
        "service_s": round(service_s, 2),
        "api_s": round(api_s, 2),
        "apply_s": round(apply_s, 2),
    }
    print(json.dumps(figures))


def build_world() -> tuple[object, bytes]:
    from decimal import Decimal

    from django.utils import timezone

    from efp.marketplace.billing_months import add_months, billing_period_of, month_key, month_start
    from efp.marketplace.models import ComponentUsage, OfferingUser, Resource, ResourcePlanPeriod, scope_of
    from efp.marketplace.tests.factories import make_customer, make_offering, make_project, make_user, plan_of

    carol = make_user("carol")
    provider = make_customer("Provider P", owner=carol)
    offering = make_offering(provider, name="Cluster")
    plan = plan_of(offering)
    consumer = make_customer("Consumer A", owner=make_user("alice"))
    project = make_project(consumer, "Project A1")
    now = timezone.now()
    current = billing_period_of(now)
    last = add_months(current, -1)
    created = month_start(add_months(current, -2))
    resources = Resource.objects.bulk_create(
        [
            Resource(
                name=f"alloc {n}",
                state="OK",
                project=project,
                offering=offering,
                plan=plan,
                created=created,
                live_from=created,  # live since created, as the transitions keep it (coverage.py)
            )
            for n in range(RESOURCES)
        ],
        batch_size=1000,
    )
    ResourcePlanPeriod.objects.bulk_create(
        [ResourcePlanPeriod(resource=r, plan=plan, start=created) for r in resources], batch_size=1000
    )
    usernames = [f"user{n}" for n in range(USERS)]
    OfferingUser.objects.bulk_create(
        [OfferingUser(offering=offering, user=make_user(name), username=name) for name in usernames]
    )
    components = {c.type: c for c in offering.components.all()}
    ComponentUsage.objects.bulk_create(
        [
            ComponentUsage(
                resource=r,
                **scope_of(r),
                component=components["cpu"],
                component_type=components["cpu"].type,
                usage=Decimal(5),
                date=month_start(month),
                billing_period=month,
                plan_period=None,
            )
            for r in resources[: RESOURCES // 2]
            for month in (last, current)
        ],
        batch_size=1000,
    )
    rows = ["resource_uuid,component,month,amount,username,reason"]
    for n, resource in enumerate(resources):
        for component in ("cpu", "gpu"):
            for month, reason in ((current, ""), (last, "meter fixed")):
                amount = "5.00" if n % 4 == 0 else f"{n % 97}.{n % 10}0"
                rows.append(f"{resource.uuid.hex},{component},{month_key(month)},{amount},,{reason}")
                for name in usernames:
                    rows.append(f"{resource.uuid.hex},{component},{month_key(month)},1.5,{name},{reason}")
                if len(rows) > LINES:
                    break
    content = ("\n".join(rows[: LINES + 1]) + "\n").encode()
    return carol, content


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
