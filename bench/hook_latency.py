"""`make hook-latency`: how long a web hook takes to arrive after its event was written, with two workers.

1. Creates a fresh database (LATENCY_DATABASE_URL, default efp_latency on 127.0.0.1:5432; dropped first if
   it exists), migrates it and loads the demo (`efp demo`).
2. Starts `efp serve` on a free port and `efp worker --processes 2` on it, with EFP_WEBHOOK_ALLOW_PRIVATE=true
   so that a hook may post to 127.0.0.1, and a receiver on 127.0.0.1 that notes when each delivery arrives.
3. Creates a web hook as staff through `POST /api/hooks-web/` for the usage events, then writes
   LATENCY_EVENTS events (default 1,000) at LATENCY_RATE per second (default 20) through the API: the
   provider reports usage with `set_usage`, which writes one `marketplace_component_usage_reported` event.
4. Waits for every delivery (at most LATENCY_WAIT seconds after the last write, default 60) and reports
   p50 / p99 / max of (received - the event's `created`) on stdout and in bench/results/hook_latency.json.

Not part of `make test`. Run it from a checkout: `make hook-latency` (or `.venv/bin/python -m
bench.hook_latency`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE_URL = os.environ.get("LATENCY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/efp_latency")
EVENTS = int(os.environ.get("LATENCY_EVENTS", "1000"))
RATE = float(os.environ.get("LATENCY_RATE", "20"))
WAIT = float(os.environ.get("LATENCY_WAIT", "60"))
WORKERS = 2
EVENT_TYPE = "marketplace_component_usage_reported"


def log(text: str) -> None:
    print(f"[hook-latency {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def efp(*args: str) -> list[str]:
    """`efp ARGS` of this checkout (whatever `efp` the venv's script would import)."""
    return [sys.executable, "-m", "efp.cli", *args]


# --- database -------------------------------------------------------------------------------------


def fresh_database(env: dict[str, str]) -> None:
    import psycopg

    name = urlparse(DATABASE_URL).path.lstrip("/")
    admin = DATABASE_URL.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        log(f"creating a fresh database {name}")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(efp("migrate", "--noinput", "-v", "0"), env=env, cwd=ROOT, check=True)
    subprocess.run(efp("demo"), env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def token(env: dict[str, str], username: str) -> str:
    out = subprocess.run(
        efp("token", username), env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


# --- the receiver ---------------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Notes the arrival time of each delivery (by X-EFP-Delivery; a retry of one counts once)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, dict[str, Any]]] = {}
        self.posts = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        delivery = self.headers.get("X-EFP-Delivery") or f"no-id-{arrived}"
        with self.server.lock:
            self.server.posts += 1
            self.server.arrivals.setdefault(delivery, (arrived, payload))

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- the API --------------------------------------------------------------------------------------


def call(base: str, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own local server
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own local server
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text.decode(errors="replace")


def wait_until_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/version/", timeout=2):  # noqa: S310 - local
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"efp serve did not answer at {base} within {timeout} s")


def create_hook(base: str, staff: str, receiver: Receiver) -> None:
    body = {"destination_url": receiver.url, "event_types": [EVENT_TYPE], "content_type": "json"}
    status, answer = call(base, staff, "POST", "/api/hooks-web/", body)
    if status == 404:
        raise SystemExit(
            "POST /api/hooks-web/ answered 404: this checkout has no web hooks endpoint yet (issue 15, "
            "point 3), so there is nothing to measure"
        )
    if status != 201:
        raise SystemExit(f"POST /api/hooks-web/ answered {status}: {answer}")
    log(f"web hook {answer.get('uuid')} posts {EVENT_TYPE} to {receiver.url}")


def usage_targets(base: str, provider: str) -> list[str]:
    """The provider's resources that take a cpu usage report (the demo's SLURM allocations)."""
    status, resources = call(
        base, provider, "GET", "/api/marketplace-provider-resources/?state=OK&page_size=50"
    )
    assert status == 200, (status, resources)
    targets = []
    for resource in resources:
        status, _ = call(
            base,
            provider,
            "POST",
            "/api/marketplace-component-usages/set_usage/",
            report(resource["uuid"], 0),
        )
        if status == 201:
            targets.append(resource["uuid"])
    if not targets:
        raise SystemExit("no demo resource takes a cpu usage report from the provider")
    return targets


def report(resource: str, n: int) -> dict[str, Any]:
    return {"resource": resource, "usages": [{"type": "cpu", "amount": f"{100000 + n}.00"}]}


def write_events(base: str, provider: str, targets: list[str]) -> tuple[int, float]:
    """EVENTS usage reports at RATE per second; how many were acknowledged and the seconds it took."""
    start = time.monotonic()
    acknowledged = 0
    for n in range(1, EVENTS + 1):
        due = start + (n - 1) / RATE
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        status, answer = call(
            base,
            provider,
            "POST",
            "/api/marketplace-component-usages/set_usage/",
            report(targets[n % len(targets)], n),
        )
        if status == 201:
            acknowledged += 1
        else:
            log(f"set_usage answered {status}: {answer}")
        if n % 200 == 0:
            log(f"{n} events written")
    return acknowledged, time.monotonic() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def waiting_tasks() -> int:
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult"  # django_tasks_db's table
            " WHERE status = 'RUNNING' OR (status = 'READY'"
            " AND (run_after <= now() OR run_after >= '9999-01-01'))"  # 9999: no run_after given
        ).fetchone()
    return int(row[0]) if row else 0


def drain(what: str, timeout: float = 600) -> None:
    """Waits until the workers have run every task that is due (a retry due later does not count)."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while (waiting := waiting_tasks()) > 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not run the tasks of {what} within {timeout:.0f} s")
        if int(time.monotonic() - started) % 10 == 0:
            log(f"waiting for the workers to run the tasks of {what}: {waiting} left")
        time.sleep(1)


def measure(receiver: Receiver, written: int, since: float) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with receiver.lock:
            if len(receiver.arrivals) >= written:
                break
        time.sleep(0.2)
    with receiver.lock:
        arrivals = list(receiver.arrivals.values())
        posts = receiver.posts
    latencies = []
    for arrived, payload in arrivals:
        if payload.get("event_type") != EVENT_TYPE or "created" not in payload:
            continue
        created = datetime.datetime.fromisoformat(payload["created"]).timestamp()
        if created >= since:  # a late delivery of a probe report is not one of ours
            latencies.append((arrived - created) * 1000)
    if not latencies:
        raise SystemExit(
            f"no {EVENT_TYPE} delivery arrived within {WAIT:.0f} s of the last write: does set_usage write "
            "its event (issue 15, point 2), and does the worker deliver hooks?"
        )
    return {
        "received": len(latencies),
        "posts": posts,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }


# --- main -----------------------------------------------------------------------------------------


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def commit() -> str:
    git = ["git", "rev-parse", "--short", "HEAD"]
    out = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def main() -> None:
    env = {
        **os.environ,
        "EFP_DATABASE_URL": DATABASE_URL,
        "EFP_WEBHOOK_ALLOW_PRIVATE": "true",
        "DJANGO_SETTINGS_MODULE": "efp.settings",
    }
    fresh_database(env)
    staff, provider = token(env, "staff"), token(env, "provider")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = Path(tempfile.gettempdir()) / "efp-hook-latency.log"
    log(f"the server's and the worker's output go to {logs}")
    RESULTS.mkdir(exist_ok=True)
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with logs.open("wb") as output:
        server = subprocess.Popen(
            efp("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "4"),
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        worker = subprocess.Popen(
            efp("worker", "--processes", str(WORKERS)),
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_until_up(base)
            log(f"efp serve on {base}, efp worker --processes {WORKERS}, receiver on {receiver.url}")
            drain("the demo's events")  # before the hook exists: none of them is delivered
            create_hook(base, staff, receiver)
            targets = usage_targets(base, provider)
            drain("the probe reports")
            with receiver.lock:
                receiver.arrivals.clear()
                receiver.posts = 0
            log(f"writing {EVENTS} events at {RATE:g}/s over {len(targets)} resources")
            since = time.time()
            written, seconds = write_events(base, provider, targets)
            figures = measure(receiver, written, since)
        finally:
            stop(worker)
            stop(server)
            receiver.shutdown()
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "command": "make hook-latency",
        "database": urlparse(DATABASE_URL).path.lstrip("/"),
        "workers": WORKERS,
        "events": EVENTS,
        "acknowledged": written,
        "rate_per_s": RATE,
        "write_seconds": round(seconds, 1),
        **figures,
    }
    (RESULTS / "hook_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    log(
        f"{figures['received']}/{written} delivered; latency (hook received - event created): "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
