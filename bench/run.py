"""`make bench`: the hot endpoints of a provider and its site agent against `efp serve` on PostgreSQL.

1. Creates the database (BENCH_DATABASE_URL; by default efp_bench on 127.0.0.1:5432 for the default
   BENCH_RESOURCES=10000, efp_bench_100k for 100000 and so on: each size in a database of its own),
   migrates it and runs `efp seed-scale --resources BENCH_RESOURCES` (which does nothing when the seed is
   there already; a seed of another size there stops the bench).
2. Serves the API with `efp serve` (gunicorn, 2 workers, EFP_COUNT_QUERIES=1 for X-Query-Count) and the
   floor (bench/floor.py: one hand-written SQL query per page, `json`) with gunicorn the same way.
3. Runs each scenario with locust (headless, a separate process) at 1 and 8 clients for BENCH_DURATION
   seconds (default 10), BENCH_RUNS times (default 1; the table shows medians), sampling the RSS of every
   gunicorn worker of the API throughout.
4. Writes bench/results/latest.json and bench/results/latest.md (latest_100k.* and so on for another
   BENCH_RESOURCES).

Knobs: BENCH_RESOURCES (10000), BENCH_DURATION, BENCH_RUNS, BENCH_CLIENTS ("1,8"), BENCH_ONLY
(comma-separated scenario names), BENCH_DATABASE_URL.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
RESOURCES = int(os.environ.get("BENCH_RESOURCES", "10000"))


def size_label(size: int) -> str:
    """100000 → "100k": how a seed's size names its database."""
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/efp_bench"
    + ("" if RESOURCES == 10_000 else f"_{size_label(RESOURCES)}"),
)
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
# The report of the default size is latest.{md,json}; of another, latest_100k.{md,json} and so on.
REPORT = "latest" if RESOURCES == 10_000 else f"latest_{size_label(RESOURCES)}"
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1,8").split(",")]
ONLY = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
WARMUP = 1.0  # seconds of each run left out of the figures
SPARSE = "field=uuid&field=name&field=slug&field=state&field=backend_id&field=limits&field=offering_uuid" + (
    "&field=project_uuid&field=customer_uuid"
)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- database -------------------------------------------------------------------------------------


def prepare_database(env: dict[str, str]) -> None:
    import psycopg

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = DATABASE_URL.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([str(BIN / "efp"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    log(f"seeding {RESOURCES:,} resources in {name} (nothing is written when the seed is there)")
    subprocess.run([str(BIN / "efp"), "seed-scale", "--resources", str(RESOURCES)], env=env, check=True)


def world(env: dict[str, str]) -> dict[str, Any]:
    """Token, offering, resources and usage records the scenarios use, read through Django."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    import django

    django.setup()
    from django.utils import timezone

    from bench import scale_seed
    from efp.marketplace.billing_months import billing_period_of
    from efp.marketplace.models import ComponentUsage, Offering, Resource
    from efp.marketplace.states import ResourceState

    scale_seed.remove_order_supply()
    seeded = scale_seed.existing_summary()
    if seeded is None or seeded["resources"] != RESOURCES:
        found = "no seed" if seeded is None else f"a seed of {seeded['resources']:,} resources"
        raise SystemExit(
            f"{DATABASE_URL} holds {found}, not {RESOURCES:,}: set BENCH_DATABASE_URL to another database."
        )
    period = billing_period_of(timezone.now())
    provider = scale_seed.FIRST_PROVIDER_SLUG
    offering = (
        Offering.objects.filter(customer__slug=provider, type="Marketplace.Slurm").order_by("pk").first()
    )
    assert offering is not None, "no seed"
    resources = list(
        Resource.objects.filter(offering=offering, state=ResourceState.OK, current_usages__has_key="cpu")
        .order_by("pk")
        .values_list("uuid", flat=True)[:200]
    )
    usages = list(
        ComponentUsage.objects.filter(
            resource__uuid__in=resources, billing_period=period, component__type="cpu"
        ).values_list("uuid", flat=True)
    )
    return {
        "token": scale_seed.provider_token(1),
        "offering": offering.uuid.hex,
        "resources": [u.hex for u in resources],
        "usages": [u.hex for u in usages],
        "period": period.isoformat(),
    }


def scenarios(w: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources = [{"uuid": u, "period": w["period"]} for u in w["resources"]]
    orders = "/api/marketplace-orders/?state=pending-provider"
    poll = f"/api/marketplace-orders/?state=pending-provider&state=executing&offering_uuid={w['offering']}"
    users = [{"username": f"cluster-user-{n:02d}", "usage": f"{n * 1.5:.2f}"} for n in range(20)]
    table: dict[str, dict[str, Any]] = {
        "orders_pending_50": {
            "path": f"{orders}&page_size=50",
            "floor": "/orders?state=pending-provider&page_size=50",
        },
        "orders_pending_300": {
            "path": f"{orders}&page_size=300",
            "floor": "/orders?state=pending-provider&page_size=300",
        },
        "orders_agent_poll": {
            "path": f"{poll}&page_size=50",
            "floor": f"/orders?state=pending-provider&state=executing&offering_uuid={w['offering']}&page_size=50",
        },
        "resources_50": {
            "path": "/api/marketplace-provider-resources/?page_size=50",
            "floor": "/resources?page_size=50",
        },
        "resources_50_fields": {
            "path": f"/api/marketplace-provider-resources/?page_size=50&{SPARSE}",
            "floor": "/resources_sparse?page_size=50",
        },
        "resource_retrieve": {
            "path": "/api/marketplace-provider-resources/{uuid}/",
            "floor": "/resources?resource_uuid={uuid}&uuid=1&page_size=1",
            "cycle": resources,
        },
        "component_usages": {
            "path": "/api/marketplace-component-usages/?resource_uuid={uuid}&billing_period={period}",
            "floor": "/usages?resource_uuid={uuid}&billing_period={period}&page_size=10",
            "cycle": resources,
        },
        "user_usages_50": {
            "path": "/api/marketplace-component-user-usages/?resource_uuid={uuid}&page_size=50",
            "floor": "/user_usages?resource_uuid={uuid}&page_size=50",
            "cycle": resources,
        },
        # Not a target: what an authenticated request costs before it runs a query of its own (the
        # token lookup, DRF's dispatch and one small serializer), for reading the ratios above.
        "users_me": {"path": "/api/users/me/"},
        "set_usage": {
            "path": "/api/marketplace-component-usages/set_usage/",
            "body": {"resource": "{uuid}", "usages": [{"type": "cpu", "amount": "1234.50"}]},
            "cycle": resources,
        },
        "set_user_usages_20": {
            "path": "/api/marketplace-component-usages/{uuid}/set_user_usages/",
            "body": {"usages": users},
            "cycle": [{"uuid": u} for u in w["usages"]],
        },
        "approve_by_provider": {
            "path": "/api/marketplace-orders/{uuid}/approve_by_provider/",
            "body": {},
            "cycle": [],
            "once": True,
        },
    }
    for name, scenario in table.items():
        scenario["name"] = name
    return table


# --- servers --------------------------------------------------------------------------------------


def wait_until_up(url: str, token: str) -> None:
    for _ in range(100):
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
            urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 - our own local server
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler(threading.Thread):
    """The largest RSS seen per gunicorn worker of the API, sampled every 0.2 s."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.peak: dict[int, float] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for pid in children(self.master):
                self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
            time.sleep(0.2)


# --- one run of one scenario --------------------------------------------------------------------------


def run_locust(host: str, scenario: dict[str, Any], clients: int, config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config_path, samples_path = Path(tmp) / "config.json", Path(tmp) / "samples.json"
        config_path.write_text(json.dumps({**config, "scenarios": {scenario["name"]: scenario}}))
        env = {
            **os.environ,
            "BENCH_CONFIG": str(config_path),
            "BENCH_SCENARIO": scenario["name"],
            "BENCH_SAMPLES": str(samples_path),
        }
        command = [
            str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(clients),
            "-r", str(clients), "-t", f"{DURATION + WARMUP:.0f}s", "--host", host, "--only-summary",
            "--loglevel", "ERROR", "--stop-timeout", "5",
        ]  # fmt: skip
        subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = json.loads(samples_path.read_text()) if samples_path.exists() else []
    return summarise(samples)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summarise(samples: list[list[float]]) -> dict[str, Any]:
    if not samples:
        return {"requests": 0, "rps": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "errors": 0, "queries": None}
    start = min(s[0] for s in samples) + WARMUP
    kept = [s for s in samples if s[0] >= start] or samples
    window = max(s[0] + s[1] / 1000 for s in kept) - min(s[0] for s in kept)
    latencies = [s[1] for s in kept]
    errors = sum(1 for s in kept if not 200 <= s[2] < 300)
    queries = [s[3] for s in kept if s[3] >= 0]
    return {
        "requests": len(kept),
        "rps": round(len(kept) / window, 1) if window > 0 else 0.0,
        "p50": round(percentile(latencies, 0.50), 2),
        "p95": round(percentile(latencies, 0.95), 2),
        "p99": round(percentile(latencies, 0.99), 2),
        "errors": errors,
        "statuses": sorted({int(s[2]) for s in kept}),
        "queries": statistics.median(queries) if queries else None,
        "queries_max": max(queries) if queries else None,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in ("rps", "p50", "p95", "p99", "queries"):
        values = [r[key] for r in runs if r.get(key) is not None]
        merged[key] = round(statistics.median(values), 2) if values else None
    merged["errors"] = sum(r["errors"] for r in runs)
    merged["requests"] = sum(r["requests"] for r in runs)
    merged["queries_max"] = max(
        (r["queries_max"] for r in runs if r.get("queries_max") is not None), default=None
    )
    return merged


# --- the whole bench --------------------------------------------------------------------------------


def provenance(started: datetime.datetime, load_before: str) -> dict[str, Any]:
    """When, on what code and how busy the machine was: the head of every report of ours."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from the PATH, as the Makefile does
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": Path("/proc/loadavg").read_text().strip(),
    }


def main() -> None:
    env = {**os.environ, "EFP_DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "efp.settings"}
    env.setdefault("EFP_API_RATE", "1000000/minute")  # a load run's few tokens are not throttled
    started = datetime.datetime.now(datetime.UTC)
    load_before = Path("/proc/loadavg").read_text().strip()
    prepare_database(env)
    w = world(env)
    table = scenarios(w)
    if ONLY:
        table = {k: v for k, v in table.items() if k in ONLY}
    api_port, floor_port = free_port(), free_port()
    api = subprocess.Popen(
        [str(BIN / "efp"), "serve", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "2"],
        env={**env, "EFP_COUNT_QUERIES": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    floor = subprocess.Popen(
        [str(BIN / "gunicorn"), "floor:app", "--chdir", str(ROOT / "bench"), "--workers", "2",
         "--bind", f"127.0.0.1:{floor_port}"],
        env={**env, "BENCH_FLOOR_DSN": DATABASE_URL},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sampler = RssSampler(api.pid)
    results: dict[str, Any] = {}
    try:
        api_url, floor_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{floor_port}"
        wait_until_up(f"{api_url}/api/marketplace-orders/?page_size=1", w["token"])
        wait_until_up(f"{floor_url}/orders?page_size=1", w["token"])
        sampler.start()
        config = {"token": w["token"]}
        from bench import scale_seed

        for name, scenario in table.items():
            results[name] = {}
            for clients in CLIENTS:
                api_runs, floor_runs = [], []
                for _ in range(RUNS):
                    if name == "approve_by_provider":
                        supply = scale_seed.pending_order_supply(max(1500, 150 * DURATION))
                        scenario["cycle"] = [{"uuid": u} for u in supply]
                    log(f"{name} x{clients} (load {loadavg()})")
                    api_runs.append(run_locust(api_url, scenario, clients, config))
                    if name == "approve_by_provider":
                        scale_seed.remove_order_supply()
                    if "floor" in scenario:
                        floor_runs.append(
                            run_locust(floor_url, {**scenario, "path": scenario["floor"]}, clients, config)
                        )
                results[name][str(clients)] = {
                    "api": median_of(api_runs),
                    "api_runs": api_runs,
                    **({"floor": median_of(floor_runs), "floor_runs": floor_runs} if floor_runs else {}),
                }
                log(f"  api {results[name][str(clients)]['api']}")
    finally:
        sampler.stopped.set()
        for server in (api, floor):
            server.terminate()
            server.wait(timeout=30)
    report = {
        **provenance(started, load_before),
        "resources": RESOURCES,
        "database": urlparse(DATABASE_URL).path.lstrip("/"),
        "duration_s": DURATION,
        "runs": RUNS,
        "clients": CLIENTS,
        "worker_rss_peak_mb": {str(pid): round(mb, 1) for pid, mb in sampler.peak.items()},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{REPORT}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{REPORT}.md").write_text(markdown(report))
    log(f"wrote {RESULTS / f'{REPORT}.md'}")
    print(markdown(report))


LISTS = (
    "orders_pending_50", "orders_pending_300", "orders_agent_poll", "resources_50", "resources_50_fields",
    "component_usages", "user_usages_50",
)  # fmt: skip


def targets(report: dict[str, Any]) -> list[str]:
    """Issue 7's targets, each marked as met or not by this run."""
    results = report["results"]
    found = []
    lists = {name: results[name] for name in LISTS if name in results}
    queries = [
        c["api"]["queries_max"] for cells in lists.values() for c in cells.values() if c["api"]["requests"]
    ]
    worst = max(queries, default=0)
    found.append(
        f"{'met' if worst <= 6 else 'NOT met'}: at most 6 queries per list request (worst {worst:g})"
    )
    for name, cells in lists.items():
        cell = cells.get("1")
        if not cell or "floor" not in cell:
            continue
        if not cell["api"]["requests"]:
            found.append(f"NOT met: {name}: no request finished within the run")
            continue
        ratio = cell["api"]["p50"] / cell["floor"]["p50"] if cell["floor"]["p50"] else float("inf")
        found.append(
            f"{'met' if ratio <= 3 else 'NOT met'}: {name} p50 at 1 client {ratio:.2f}x the floor (<= 3)"
        )
    set_usage = results.get("set_usage", {}).get("8")
    if set_usage:
        api = set_usage["api"]
        ok = api["rps"] >= 300 and api["errors"] == 0
        found.append(
            f"{'met' if ok else 'NOT met'}: set_usage at 8 clients {api['rps']:.0f} req/s (>= 300), "
            f"{api['errors']} errors"
        )
    peak = max(report["worker_rss_peak_mb"].values(), default=0)
    found.append(f"{'met' if peak < 250 else 'NOT met'}: peak worker RSS {peak:.0f} MB (< 250)")
    return found


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# make bench: latest results",
        "",
        f"Commit {report['commit']}, {report['started']} to {report['finished']} (UTC); "
        f"seed of {report.get('resources', 10_000):,} resources; "
        f"{report['runs']} run(s) of {report['duration_s']} s per cell (medians), {report['cpus']} CPUs.",
        f"Load average before: `{report['loadavg_before']}`; after: `{report['loadavg_after']}`.",
        "Peak RSS per API gunicorn worker (MB): "
        + ", ".join(f"{mb:.0f}" for mb in report["worker_rss_peak_mb"].values()),
        "",
        "Latencies in ms; q = SQL queries per request (median, max); floor = one hand-written SQL query + json.",
        "",
        "| scenario | clients | req/s | p50 | p95 | p99 | q | errors | floor req/s | floor p50 | p50 / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by_clients in report["results"].items():
        for clients, cell in by_clients.items():
            api, floor = cell["api"], cell.get("floor")
            if not api["requests"]:
                lines.append(
                    f"| {name} | {clients} | no request finished within the run |  |  |  |  |  |  |  |  |"
                )
                continue
            ratio = f"{api['p50'] / floor['p50']:.2f}" if floor and floor["p50"] else ""
            q = "" if api["queries"] is None else f"{api['queries']:g} ({api['queries_max']:g})"
            lines.append(
                f"| {name} | {clients} | {api['rps']:.1f} | {api['p50']:.1f} | {api['p95']:.1f} | "
                f"{api['p99']:.1f} | {q} | {api['errors']} | "
                + (f"{floor['rps']:.1f} | {floor['p50']:.1f} | {ratio} |" if floor else " |  |  |")
            )
    lines += ["", "## Targets", ""] + [f"- {line}" for line in targets(report)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
