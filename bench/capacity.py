"""`make capacity`: 1,000 site agents and 20 people on the provider GUI against `efp serve` and one
`efp worker`.

1. Creates, migrates and seeds the database once (CAPACITY_DATABASE_URL; by default efp_capacity_100k on
   127.0.0.1:5432 for CAPACITY_RESOURCES=100000, efp_capacity_<n>k otherwise; `efp seed-scale` writes
   nothing when the seed is there).
2. Serves it with `efp serve` (gunicorn, CAPACITY_WORKERS workers, default 3 as `efp serve`;
   EFP_COUNT_QUERIES=1 for X-Query-Count) and runs one `efp worker` beside it.
3. Runs bench/capacity_locustfile.py (open loop, see there) in CAPACITY_LOCUSTS locust processes (default 1)
   at the real rates (or CAPACITY_FIRST times them) for CAPACITY_DURATION seconds (default 600), then at
   CAPACITY_MULTIPLES (default 1.5,2,3,4) for CAPACITY_STEP_DURATION seconds each (default 120) until some
   request type's p99 crosses 200 ms (the headroom); when the first step already crosses it, it steps down
   (CAPACITY_DOWN, default 0.5,0.25,0.1) instead. Before each step it waits until the server is idle again.
   The peak RSS of the `efp worker` supervisor and its children and of the gunicorn processes is sampled
   from /proc every 0.5 s, and locust's CPU time taken from its rusage.
4. Writes bench/results/capacity.json and capacity.md (CAPACITY_RESULTS names another stem).

bench/capacity_hosts.py runs the same load against app hosts in network namespaces.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import signal
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

from bench.run import children, rss_mb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
RESOURCES = int(os.environ.get("CAPACITY_RESOURCES", "100000"))
LABEL = f"{RESOURCES // 1000}k" if RESOURCES % 1000 == 0 else str(RESOURCES)
DATABASE_URL = os.environ.get(
    "CAPACITY_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/efp_capacity_{LABEL}"
)
DURATION = float(os.environ.get("CAPACITY_DURATION", "600"))
STEP_DURATION = float(os.environ.get("CAPACITY_STEP_DURATION", "120"))
MULTIPLES = [float(m) for m in os.environ.get("CAPACITY_MULTIPLES", "1.5,2,3,4").split(",") if m]
FIRST = float(os.environ.get("CAPACITY_FIRST", "1"))  # the multiple of the first (long) step
DOWN = [float(m) for m in os.environ.get("CAPACITY_DOWN", "0.5,0.25,0.1").split(",") if m]
WORKERS = int(os.environ.get("CAPACITY_WORKERS", "3"))
LOCUSTS = int(os.environ.get("CAPACITY_LOCUSTS", "1"))
AGENTS, RESOURCES_PER_AGENT, BROWSERS = 1000, 100, 20
LIMIT_MS = 200.0
WARMUP = 10.0  # seconds of each step left out of the percentiles (connections, prepared statements)
TYPES = ("orders_poll", "resources_list", "set_usage", "set_user_usages",
         "gui_dashboard", "gui_resources", "gui_orders", "gui_usage", "gui_coverage")  # fmt: skip


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def log(text: str) -> None:
    print(f"[capacity {time.strftime('%H:%M:%S')}] {text}", flush=True)


def django_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "EFP_DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "efp.settings"}


# --- database and the agents' world -----------------------------------------------------------------


def create_database(url: str) -> bool:
    """Creates the database `url` names unless it exists; whether it did."""
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(url.replace(f"/{name}", "/postgres", 1), autocommit=True) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.DuplicateDatabase:
            return False
    log(f"created database {name}")
    return True


def prepare_database(env: dict[str, str]) -> None:
    create_database(DATABASE_URL)
    subprocess.run([str(BIN / "efp"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    log(f"seeding {RESOURCES} resources (nothing is written when the seed is there)")
    subprocess.run([str(BIN / "efp"), "seed-scale", "--resources", str(RESOURCES)], env=env, check=True)


def world(env: dict[str, str]) -> dict[str, Any]:
    """1,000 agents (offering, token, 100 resources with this month's cpu usage) and 20 browser sessions."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from bench import scale_seed
    from bench.site_agent_requests import reportable_usages
    from efp.accounts.models import User
    from efp.marketplace.billing_months import billing_period_of
    from efp.marketplace.models import Offering

    period = billing_period_of(timezone.now())
    offerings = list(
        Offering.objects.filter(customer__slug__startswith="scale-provider-", type="Marketplace.Slurm")
        .select_related("customer")
        .order_by("pk")
    )
    pool: dict[int, list[list[str]]] = {}
    for offering in offerings:
        pool[offering.pk] = reportable_usages(offering, period)
    offerings = [o for o in offerings if pool[o.pk]]
    assert offerings, "no seed"
    token = {p: scale_seed.provider_token(p) for p in range(1, 5)}
    agents = []
    for a in range(AGENTS):
        offering = offerings[a % len(offerings)]
        chosen = pool[offering.pk]
        first = a // len(offerings) * RESOURCES_PER_AGENT
        provider = int(offering.customer.slug.rsplit("-", 1)[1])
        agents.append(
            {
                "offering": offering.uuid.hex,
                "token": token[provider],
                "resources": [chosen[(first + j) % len(chosen)] for j in range(RESOURCES_PER_AGENT)],
            }
        )
    distinct = len({r[0] for agent in agents for r in agent["resources"]})
    browsers = []
    for b in range(BROWSERS * 4):  # enough sessions for the multiples
        p = b % 4 + 1
        user = User.objects.get(username=scale_seed.provider_username(p))
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        owned = next(agent for agent in agents if agent["token"] == token[p])
        browsers.append({"session": session.session_key, "resource": owned["resources"][0][0]})
    return {
        "agents": agents,
        "browsers": browsers,
        "distinct_resources": distinct,
        "period": period.isoformat(),
    }


# --- processes ----------------------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children(p))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    """The largest RSS seen per process of each named tree and of each tree as a whole, every 0.5 s."""

    def __init__(self, roots: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_process: dict[str, float] = {}
        self.peak_total: dict[str, float] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for name, root in self.roots.items():
                sizes = [rss_mb(p) for p in tree(root)]
                self.peak_process[name] = max(self.peak_process.get(name, 0.0), max(sizes, default=0.0))
                self.peak_total[name] = max(self.peak_total.get(name, 0.0), sum(sizes))
            time.sleep(0.5)


def start_app(env: dict[str, str], host: str, port: int, prefix: list[str] | None = None) -> dict[str, Any]:
    """`efp serve` and one `efp worker` (under `prefix`, e.g. `ip netns exec NAME`)."""
    prefix = prefix or []
    logs = Path(tempfile.mkdtemp(prefix="capacity-"))
    serve = subprocess.Popen(
        [*prefix, str(BIN / "efp"), "serve", "--host", host, "--port", str(port), "--workers", str(WORKERS)],
        env={**env, "EFP_COUNT_QUERIES": "1", "EFP_ALLOWED_HOSTS": f"{host},127.0.0.1,localhost"},
        stdout=subprocess.DEVNULL,
        stderr=open(logs / "serve.err", "w"),  # noqa: SIM115
    )
    worker = subprocess.Popen(
        [*prefix, str(BIN / "efp"), "worker"], env=env, stdout=subprocess.DEVNULL,
        stderr=open(logs / "worker.err", "w"),  # noqa: SIM115
    )  # fmt: skip
    return {"serve": serve, "worker": worker, "url": f"http://{host}:{port}", "logs": str(logs)}


def wait_until_up(url: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/api/", timeout=5).read()  # noqa: S310 - our own server
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def pending_tasks(env: dict[str, str]) -> int:
    import psycopg

    with psycopg.connect(env["EFP_DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY'")
        return int(row.fetchone()[0])  # type: ignore[index]


# --- one step of the load -------------------------------------------------------------------------------


def run_step(w: dict[str, Any], targets: list[str], multiple: float, duration: float,
             locusts: int) -> dict[str, Any]:  # fmt: skip
    """The load at `multiple` times the real rates; agent a goes to locust process a % locusts, whose
    target is targets[process % len(targets)]."""
    browsers = round(BROWSERS * multiple)
    start_at = time.time() + 20  # locust starts and reads the timetable meanwhile, even on a busy machine
    processes, outputs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for share in range(locusts):
            config = {
                "agents": w["agents"], "agent_count": AGENTS, "resources_per_agent": RESOURCES_PER_AGENT,
                "multiple": multiple, "duration": duration, "share": share, "shares": locusts,
                "start_at": start_at, "browsers": w["browsers"],
                "browser_count": browsers // locusts + (1 if share < browsers % locusts else 0),
            }  # fmt: skip
            config_path, samples = Path(tmp) / f"config{share}.json", Path(tmp) / f"samples{share}.json"
            config_path.write_text(json.dumps(config))
            users = 1 + config["browser_count"]
            command = [
                str(BIN / "locust"), "-f", str(ROOT / "bench" / "capacity_locustfile.py"), "--headless",
                "-u", str(users), "-r", str(users), "-t", f"{duration + 90:.0f}s",
                "--host", targets[share % len(targets)], "--only-summary", "--loglevel", "ERROR",
                "--stop-timeout", "30",
            ]  # fmt: skip
            env = {**os.environ, "CAPACITY_CONFIG": str(config_path), "CAPACITY_SAMPLES": str(samples)}
            processes.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            outputs.append(samples)
        locust_cpu = 0.0
        for process in processes:
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = 0
            locust_cpu += usage.ru_utime + usage.ru_stime
        found: list[list[Any]] = []
        for path in outputs:
            if path.exists():
                found += json.loads(path.read_text())
    return summarise(found, start_at, multiple, duration, browsers, locust_cpu)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summarise(samples: list[list[Any]], start_at: float, multiple: float, duration: float, browsers: int,
              locust_cpu: float) -> dict[str, Any]:  # fmt: skip
    kept = [s for s in samples if s[1] >= start_at + WARMUP]
    window = duration - WARMUP
    by_type: dict[str, Any] = {}
    for kind in TYPES:
        rows = [s for s in kept if s[0] == kind]
        if not rows:
            continue
        ms = [s[3] for s in rows]
        lag = [(s[2] - s[1]) * 1000 for s in rows]
        queries = [s[5] for s in rows if s[5] >= 0]
        by_type[kind] = {
            "requests": len(rows),
            "rate": round(len(rows) / window, 2),
            "p50": round(percentile(ms, 0.50), 1),
            "p95": round(percentile(ms, 0.95), 1),
            "p99": round(percentile(ms, 0.99), 1),
            "max": round(max(ms), 1),
            "errors": sum(1 for s in rows if not 200 <= s[4] < 300),
            "statuses": sorted({int(s[4]) for s in rows}),
            "queries": statistics.median(queries) if queries else None,
            "start_lag_p99": round(percentile(lag, 0.99), 1),
        }
    rate = sum(t["rate"] for t in by_type.values())
    worst = max((t["p99"] for t in by_type.values()), default=0.0)
    return {
        "multiple": multiple,
        "duration_s": duration,
        "browsers": browsers,
        "requests": len(kept),
        "rate": round(rate, 1),
        "errors": sum(t["errors"] for t in by_type.values()),
        "worst_p99": worst,
        "held": worst < LIMIT_MS and all(t["errors"] == 0 for t in by_type.values()),
        "locust_cpu_s": round(locust_cpu, 1),
        "locust_cpu_share": round(locust_cpu / (duration + 20), 2),
        "loadavg_after": loadavg(),
        "types": by_type,
    }


def settle(targets: list[str], limit: float = 180) -> float:
    """Waits until every target answers the login page within 0.5 s twice in a row (the requests queued in
    gunicorn's backlog by the last step are done); the seconds waited."""
    started = time.monotonic()
    calm = 0
    while calm < 2 and time.monotonic() - started < limit:
        clock = time.monotonic()
        try:
            for target in targets:
                urllib.request.urlopen(f"{target}/login/", timeout=10).read()  # noqa: S310 - our own server
            calm = calm + 1 if time.monotonic() - clock < 0.5 * len(targets) else 0
        except Exception:
            calm = 0
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def ladder(w: dict[str, Any], targets: list[str], locusts: int, restart: Any = None) -> list[dict[str, Any]]:
    """The real rates for DURATION, then multiples up (or down) until the p99 limit is crossed (or held)."""
    steps: list[dict[str, Any]] = []
    plan = [(FIRST, DURATION)]
    while plan:
        multiple, duration = plan.pop(0)
        if restart and steps:
            restart()  # an overloaded step leaves minutes of requests in gunicorn's backlog
        waited = settle(targets)
        log(f"{multiple}x for {duration:.0f} s against {', '.join(targets)} (load average {loadavg()})")
        before = loadavg()
        step = run_step(w, targets, multiple, duration, locusts)
        step["loadavg_before"] = before
        step["settle_s"] = waited
        log(f"  {step['rate']} req/s, worst p99 {step['worst_p99']} ms, errors {step['errors']}, "
            f"locust CPU {step['locust_cpu_share']:.0%}")  # fmt: skip
        steps.append(step)
        if len(steps) == 1:
            plan = [(m, STEP_DURATION) for m in (MULTIPLES if step["held"] else DOWN)]
        elif step["held"] != (multiple > FIRST):  # crossed on the way up, or held on the way down
            plan = []
    return steps


def headroom(steps: list[dict[str, Any]]) -> dict[str, Any]:
    held = [s for s in steps if s["held"]]
    crossed = sorted((s for s in steps if not s["held"]), key=lambda s: s["multiple"])
    best = max(held, key=lambda s: s["multiple"], default=None)
    return {
        "held_multiple": best["multiple"] if best else None,
        "held_rate": best["rate"] if best else None,
        "crossed_multiple": crossed[0]["multiple"] if crossed else None,
    }


# --- the whole run --------------------------------------------------------------------------------------


def exit_on_signal(*_: Any) -> None:
    raise SystemExit(143)  # through the `finally` that stops the servers


def main() -> None:
    signal.signal(signal.SIGTERM, exit_on_signal)
    env = django_env(DATABASE_URL)
    started = datetime.datetime.now(datetime.UTC)
    prepare_database(env)
    w = world(env)
    log(f"{AGENTS} agents over {w['distinct_resources']} distinct resources")
    port = int(os.environ.get("CAPACITY_PORT", "8017"))
    app = start_app(env, "127.0.0.1", port)
    sampler = RssSampler({"efp worker": app["worker"].pid, "gunicorn": app["serve"].pid})

    def restart() -> None:
        stop(app["serve"])
        stop(app["worker"])
        app.update(start_app(env, "127.0.0.1", port))
        sampler.roots.update({"efp worker": app["worker"].pid, "gunicorn": app["serve"].pid})
        wait_until_up(app["url"])

    try:
        wait_until_up(app["url"])
        sampler.start()
        steps = ladder(w, [app["url"]], LOCUSTS, restart)
        backlog = pending_tasks(env)
        cpu = {
            "gunicorn": cpu_seconds(tree(app["serve"].pid)),
            "efp worker": cpu_seconds(tree(app["worker"].pid)),
        }
    finally:
        sampler.stopped.set()
        stop(app["serve"])
        stop(app["worker"])
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "database": urlparse(DATABASE_URL).path.lstrip("/"),
        "resources": RESOURCES,
        "distinct_resources_reported": w["distinct_resources"],
        "gunicorn_workers": WORKERS,
        "locust_processes": LOCUSTS,
        "cpus": os.cpu_count(),
        "peak_rss_mb": {
            "efp worker (largest process)": round(sampler.peak_process.get("efp worker", 0), 1),
            "efp worker (supervisor + children)": round(sampler.peak_total.get("efp worker", 0), 1),
            "gunicorn (largest process)": round(sampler.peak_process.get("gunicorn", 0), 1),
        },
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "tasks_pending_at_end": backlog,
        "steps": steps,
        "headroom": headroom(steps),
    }
    write(report, os.environ.get("CAPACITY_RESULTS", "capacity"))


def git_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,  # noqa: S607
                          check=False).stdout.strip()  # fmt: skip


def write(report: dict[str, Any], stem: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(report))
    log(f"wrote {RESULTS / stem}.md")
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    room = report["headroom"]
    lines = [
        f"# make capacity: {report['resources']:,} resources",
        "",
        f"Commit {report['commit']}, {report['started']} to {report['finished']} (UTC), "
        f"{report['cpus']} CPUs, "
        f"database {report['database']}; gunicorn workers per host: {report['gunicorn_workers']}; "
        f"locust processes: {report['locust_processes']}.",
        f"Peak RSS (MB): {', '.join(f'{k} {v:.0f}' for k, v in report['peak_rss_mb'].items())}.",
        f"Rate held with every p99 < {LIMIT_MS:.0f} ms and no error: "
        + (
            f"{room['held_rate']} req/s ({room['held_multiple']}x the real rates)"
            if room["held_rate"]
            else "none"
        )
        + (
            f"; first crossed at {room['crossed_multiple']}x."
            if room["crossed_multiple"]
            else "; not crossed."
        ),
        "",
    ]
    if "hosts" in report:
        lines.insert(3, f"App hosts: {report['hosts']} (network namespaces), PostgreSQL in a third.")
    for step in report["steps"]:
        lines += [
            f"## {step['multiple']}x for {step['duration_s']:.0f} s: {step['rate']} req/s, "
            f"{step['browsers']} browsers, worst p99 {step['worst_p99']} ms, errors {step['errors']}, "
            f"locust CPU {step['locust_cpu_share']:.0%} of one core; load average before "
            f"`{step['loadavg_before']}`, after `{step['loadavg_after']}` (1, 5, 15 min; shared machine)",
            "",
            "| request | req/s | p50 | p95 | p99 | max | errors | queries | start lag p99 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, t in step["types"].items():
            q = "" if t["queries"] is None else f"{t['queries']:g}"
            lines.append(
                f"| {kind} | {t['rate']} | {t['p50']} | {t['p95']} | {t['p99']} | {t['max']} | {t['errors']} "
                f"{'' if not t['errors'] else str(t['statuses'])}| {q} | {t['start_lag_p99']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the open loop may hold many connections
    main()
