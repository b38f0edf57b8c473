"""`make scale-table`: does what a provider looks at cost the same at 100,000 resources as at 1,000?

1. For each size of SCALE_SIZES (default 1000,10000,100000) it keeps a database of its own on
   127.0.0.1:5432 (efp_scale_1k, efp_scale_10k, efp_scale_100k), seeded once with `efp seed-scale`. The
   database's comment records the size and a fingerprint of the migration files it was migrated with; a
   database whose comment differs (another schema, another size, an interrupted seed) is dropped and seeded
   again, and SCALE_RESEED=1 re-seeds every size.
2. It measures in-process, in a child process per database (django.test.Client, no server, no network):
   as the first seeded provider (token for the API, a logged-in session for the GUI), each request of
   REQUESTS is warmed up, then called up to SCALE_CALLS times (default 100; at most SCALE_SECONDS seconds
   per request, default 30, and never fewer than 3 calls); its p50 is kept.
3. The whole table is measured SCALE_RUNS times (default 3, the sizes interleaved in each run); the report
   gives the median of the runs' p50s, the ratio of the largest size to the smallest, and the verdict
   against issue 18's target (at most 1.5 times the p50 at the smallest size).
4. Writes bench/results/scale_table.md and .json.

Not part of `make test`. SCALE_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/) names the server.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench.run import provenance, size_label

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SERVER = os.environ.get("SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/") + "/"
SIZES = [int(s) for s in os.environ.get("SCALE_SIZES", "1000,10000,100000").split(",") if s.strip()]
RUNS = int(os.environ.get("SCALE_RUNS", "3"))
CALLS = int(os.environ.get("SCALE_CALLS", "100"))
SECONDS = float(os.environ.get("SCALE_SECONDS", "30"))
RESEED = os.environ.get("SCALE_RESEED", "") not in ("", "0", "false")
WARMUP = 3
MIN_CALLS = 3
TARGET = 1.5  # issue 18: p50 at the largest size at most 1.5 times the p50 at the smallest
MARKER = "efp scale seed"


def log(text: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {text}", flush=True)


def database_name(size: int) -> str:
    return f"efp_scale_{size_label(size)}"


# --- the databases ----------------------------------------------------------------------------------


def schema_fingerprint() -> str:
    """A hash of every migration file of the project: a seed made under other migrations is stale."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "efp").glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def expected_marker(size: int) -> str:
    return f"{MARKER}: resources={size} schema={schema_fingerprint()}"


def prepare(size: int) -> str:
    """The URL of a database seeded with `size` resources under the current migrations."""
    import psycopg

    name = database_name(size)
    url = SERVER + name
    marker = expected_marker(size)
    with psycopg.connect(SERVER + "postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if row is not None and row[0] == marker and not RESEED:
            log(f"{name}: seeded already ({marker})")
            return url
        why = "missing" if row is None else "SCALE_RESEED" if RESEED else f"was {row[0]!r}"
        log(f"{name}: seeding {size:,} resources ({why})")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "EFP_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "efp.settings"}
    subprocess.run([str(BIN / "efp"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    started = time.monotonic()
    subprocess.run([str(BIN / "efp"), "seed-scale", "--resources", str(size)], env=env, check=True)
    log(f"{name}: seeded in {time.monotonic() - started:.0f} s")
    with psycopg.connect(SERVER + "postgres", autocommit=True) as conn:
        # The comment is the last thing written: an interrupted seed has none and is seeded again.
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{marker}'")
    return url


# --- the child: one database, every request ----------------------------------------------------------


def requests_of(world: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name → (client, path): the lists and pages of issue 18's point 2, and the site agent's poll."""
    month = world["last_month"]
    usages = "/api/marketplace-component-usages/?page_size=50"
    users = "/api/marketplace-component-user-usages/?page_size=50"
    orders = "/api/marketplace-orders/?page_size=50"
    resources = "/api/marketplace-provider-resources/?page_size=50"
    poll = f"/api/marketplace-orders/?offering_uuid={world['offering']}" + (
        "&state=pending-provider&state=executing"
    )
    return {
        "component usages": ("api", usages),
        "component usages, page 4": ("api", f"{usages}&page=4"),
        "component usages of last month": ("api", f"{usages}&billing_period={month}"),
        "component usages of last month, page 4": ("api", f"{usages}&billing_period={month}&page=4"),
        "user usages": ("api", users),
        "user usages, page 4": ("api", f"{users}&page=4"),
        "user usages of last month": ("api", f"{users}&component_usage__billing_period={month}"),
        "user usages of last month, page 4": (
            "api",
            f"{users}&component_usage__billing_period={month}&page=4",
        ),
        "orders": ("api", orders),
        "orders, page 4": ("api", f"{orders}&page=4"),
        "provider resources": ("api", resources),
        "provider resources, page 4": ("api", f"{resources}&page=4"),
        "agent's order poll": ("api", poll),
        "GUI dashboard": ("gui", "/provider/"),
        "GUI resources": ("gui", "/provider/resources/"),
        "GUI orders": ("gui", "/provider/orders/"),
        "GUI Show usage": ("gui", f"/provider/resources/{world['resource']}/usage/"),
        "GUI coverage": ("gui", "/provider/coverage/"),
    }


def world() -> dict[str, str]:
    """What the requests name, the same at every size: the first provider's first SLURM offering, its
    first resource that reports usage, last month."""
    from django.utils import timezone

    from bench import scale_seed
    from efp.marketplace.billing_months import add_months, billing_period_of
    from efp.marketplace.models import Offering, OfferingType, Resource
    from efp.marketplace.states import ResourceState

    offering = (
        Offering.objects.filter(customer__slug=scale_seed.FIRST_PROVIDER_SLUG, type=OfferingType.SLURM)
        .exclude(name=scale_seed.SUPPLY_OFFERING)
        .order_by("pk")
        .first()
    )
    assert offering is not None, "no seed here"
    resource = (
        Resource.objects.filter(offering=offering, state=ResourceState.OK)
        .exclude(current_usages={})
        .order_by("pk")
        .first()
    )
    assert resource is not None, "no resource that reports usage"
    return {
        "offering": offering.uuid.hex,
        "resource": resource.uuid.hex,
        "last_month": add_months(billing_period_of(timezone.now()), -1).isoformat(),
        "token": scale_seed.provider_token(1),
        "username": scale_seed.provider_username(1),
    }


def measure_here() -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    # The static files are not collected in a checkout; the pages measured do not serve them.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.test import Client

    from efp.accounts.models import User

    w = world()
    api = Client(HTTP_AUTHORIZATION=f"Token {w['token']}")
    gui = Client()
    gui.force_login(User.objects.get(username=w["username"]))
    clients = {"api": api, "gui": gui}
    figures: dict[str, Any] = {}
    for name, (kind, path) in requests_of(w).items():
        client = clients[kind]
        count = None
        for call in range(WARMUP):
            started = time.perf_counter()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
            count = response.headers.get("X-Result-Count")
            if call == 0 and time.perf_counter() - started > SECONDS / MIN_CALLS:
                break  # a request this slow is warm after one call, and the budget is for measuring
        times: list[float] = []
        budget_end = time.perf_counter() + SECONDS
        while len(times) < CALLS and (len(times) < MIN_CALLS or time.perf_counter() < budget_end):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        figures[name] = {
            "p50": statistics.median(times),
            "calls": len(times),
            "count": None if count is None else int(count),
        }
    return {"world": {k: v for k, v in w.items() if k != "token"}, "requests": figures}


def measure(url: str) -> dict[str, Any]:
    env = {**os.environ, "EFP_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "efp.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale_table", "--child"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- the table ---------------------------------------------------------------------------------------


def summarise(runs: list[dict[str, dict[str, Any]]], sizes: list[int]) -> dict[str, dict[str, Any]]:
    """request → {size label: median p50, "ratio": largest/smallest, "verdict": met/NOT met, "counts":
    X-Result-Count at each size}."""
    names = list(runs[0][size_label(sizes[0])]["requests"])
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        row: dict[str, Any] = {"counts": {}}
        for size in sizes:
            measured = [run[size_label(size)]["requests"][name] for run in runs]
            row[size_label(size)] = round(statistics.median(m["p50"] for m in measured), 2)
            row["counts"][size_label(size)] = measured[0]["count"]
        if len(sizes) > 1:
            ratio = row[size_label(sizes[-1])] / row[size_label(sizes[0])]
            row["ratio"] = round(ratio, 2)
            row["verdict"] = "met" if ratio <= TARGET else "NOT met"
        table[name] = row
    return table


def markdown(report: dict[str, Any]) -> str:
    sizes = [size_label(s) for s in report["sizes"]]
    ratio_head = f"{sizes[-1]}/{sizes[0]}" if len(sizes) > 1 else ""
    lines = [
        "# make scale-table: p50 per request at each seed size",
        "",
        f"Commit {report['commit']}, {report['started']} to {report['finished']} (UTC), "
        f"{report['cpus']} CPUs; "
        f"median of {report['runs']} run(s), each the p50 of up to {report['calls']} in-process calls "
        f"(django.test.Client, PostgreSQL) after {WARMUP} warm-up calls (one for a slow request), "
        "as the first seeded provider.",
        f"Load average before: `{report['loadavg_before']}`; after: `{report['loadavg_after']}`.",
        "p50 in ms; rows: the list's X-Result-Count at each size.",
        "",
        "| request | " + " | ".join(sizes)
        + (f" | {ratio_head} | at most {TARGET}x" if ratio_head else "") + " | rows |",
        "|---|" + "---:|" * len(sizes) + ("---:|---|" if ratio_head else "") + "---|",
    ]  # fmt: skip
    for name, row in report["table"].items():
        cells = " | ".join(f"{row[s]:.1f}" for s in sizes)
        tail = f" | {row['ratio']:.2f} | {row['verdict']}" if ratio_head else ""
        counts = " / ".join(f"{row['counts'][s]:,}" for s in sizes if row["counts"][s] is not None)
        lines.append(f"| {name} | {cells}{tail} | {counts} |")
    if ratio_head:
        met = sum(1 for row in report["table"].values() if row["verdict"] == "met")
        lines += ["", f"{met} of {len(report['table'])} requests within {TARGET}x their p50 at {sizes[0]}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    started = datetime.datetime.now(datetime.UTC)
    sizes = sorted(SIZES)
    urls = {size: prepare(size) for size in sizes}
    load_before = Path("/proc/loadavg").read_text().strip()
    runs: list[dict[str, dict[str, Any]]] = []
    text = "no run (SCALE_RUNS=0)"
    for number in range(1, RUNS + 1):
        run: dict[str, dict[str, Any]] = {}
        for size in sizes:
            log(f"run {number}/{RUNS}: {database_name(size)}")
            run[size_label(size)] = measure(urls[size])
        runs.append(run)
        # Written after every run: an interrupted table keeps the runs it finished.
        text = write_report(started, load_before, sizes, runs)
    log(f"wrote {RESULTS / 'scale_table.md'}")
    print(text)


def write_report(
    started: datetime.datetime, load_before: str, sizes: list[int], runs: list[dict[str, dict[str, Any]]]
) -> str:
    report = {
        **provenance(started, load_before),
        "sizes": sizes,
        "runs": len(runs),
        "calls": CALLS,
        "target": TARGET,
        "table": summarise(runs, sizes),
        "measured": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale_table.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / "scale_table.md").write_text(text)
    return text


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(measure_here()))
    else:
        main()
