"""`make capacity-hosts`: `make capacity`'s load against CAPACITY_HOSTS app hosts (1 or 2), each a network
namespace running `efp serve` and one `efp worker`, with PostgreSQL in a namespace of its own. Needs root
(`ip netns`).

The network: a bridge `efpcap0` in the root namespace (10.77.0.1/24, where locust runs) and one veth pair per
namespace, its inner end addressed 10.77.0.10 (`efpcap-db`), 10.77.0.11 (`efpcap-app1`), 10.77.0.12
(`efpcap-app2`). PostgreSQL in `efpcap-db` is a second cluster made with Debian's binaries
(/usr/lib/postgresql/15/bin, CAPACITY_PG_BIN) in CAPACITY_PG_DIR (default /tmp/efp-capacity-pg), listening on
10.77.0.10 only, with the machine cluster's settings (the defaults) and trust for 10.77.0.0/24. It is loaded
once from the seeded database (bench/capacity.py's CAPACITY_DATABASE_URL) with pg_dump | pg_restore and
reused by later runs (CAPACITY_PG_FRESH=1 reloads it). Locust's processes (one per host) split the agents
between the hosts. The namespaces, the bridge and the cluster's server are removed at the end, also on
Ctrl-C or SIGTERM; the data directory stays for the next run.

Writes bench/results/capacity_hosts<N>.{md,json}.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench import capacity
from bench.capacity import log

HOSTS = int(os.environ.get("CAPACITY_HOSTS", "2"))
PG_BIN = Path(os.environ.get("CAPACITY_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_DIR = Path(os.environ.get("CAPACITY_PG_DIR", "/tmp/efp-capacity-pg"))  # noqa: S108 - a bench cluster
BRIDGE, NET, GATEWAY = "efpcap0", "10.77.0", "10.77.0.1"
DB_NS, DB_ADDRESS = "efpcap-db", "10.77.0.10"
PORT = 8000


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def app_namespaces() -> list[tuple[str, str]]:
    return [(f"efpcap-app{n}", f"{NET}.{10 + n}") for n in range(1, HOSTS + 1)]


def network_up() -> None:
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")
    for n, (namespace, address) in enumerate([(DB_NS, DB_ADDRESS), *app_namespaces()]):
        inner, outer = f"efpcap{n}i", f"efpcap{n}o"
        sh("ip", "netns", "add", namespace)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", namespace)
        sh("ip", "link", "set", outer, "master", BRIDGE, "up")
        inside = ["ip", "netns", "exec", namespace]
        sh(*inside, "ip", "addr", "add", f"{address}/24", "dev", inner)
        sh(*inside, "ip", "link", "set", inner, "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", "default", "via", GATEWAY)


def network_down() -> None:
    for namespace in [DB_NS, *(name for name, _ in app_namespaces())]:
        sh("ip", "netns", "del", namespace, check=False)
    sh("ip", "link", "del", BRIDGE, check=False)


def as_postgres(*command: str, namespace: str | None = None) -> list[str]:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    return [*prefix, "runuser", "-u", "postgres", "--", *command]


def postgres_up(source_url: str, name: str) -> str:
    """The cluster in the database namespace, loaded from `source_url` unless it holds `name` already."""
    fresh = os.environ.get("CAPACITY_PG_FRESH") == "1"
    if fresh and PG_DIR.exists():
        shutil.rmtree(PG_DIR)
    if not (PG_DIR / "PG_VERSION").exists():
        PG_DIR.mkdir(parents=True, exist_ok=True)
        shutil.chown(PG_DIR, "postgres", "postgres")
        initdb = as_postgres(str(PG_BIN / "initdb"), "-D", str(PG_DIR), "-A", "trust", "-U", "postgres")
        subprocess.run(initdb, check=True, capture_output=True)
        with open(PG_DIR / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {NET}.0/24 trust\n")
    sockets = PG_DIR / "sockets"
    sockets.mkdir(exist_ok=True)
    shutil.chown(sockets, "postgres", "postgres")
    options = f"-c listen_addresses={DB_ADDRESS} -c unix_socket_directories={sockets} -c port=5432"
    subprocess.run(
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(PG_DIR), "-l", str(PG_DIR / "server.log"),
                    "-o", options, "-w", "start", namespace=DB_NS),
        check=True, capture_output=True,
    )  # fmt: skip
    url = f"postgres://postgres@{DB_ADDRESS}:5432/{name}"
    if capacity.create_database(url):
        log(f"loading {name} into the cluster of {DB_NS} (pg_dump | pg_restore)")
        started = time.monotonic()
        dump = subprocess.Popen([str(PG_BIN / "pg_dump"), "-Fc", "-Z0", source_url], stdout=subprocess.PIPE)
        subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", "-d", url], stdin=dump.stdout, check=True)
        dump.wait()
        subprocess.run([str(PG_BIN / "vacuumdb"), "--analyze-only", "-q", "-d", url], check=True)
        log(f"  loaded in {time.monotonic() - started:.0f} s")
    return url


def postgres_down() -> None:
    if (PG_DIR / "postmaster.pid").exists():
        subprocess.run(as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(PG_DIR), "-m", "fast", "-w", "stop"),
                       check=False, capture_output=True)  # fmt: skip


def wait_for(address: str, port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{address}:{port} does not answer")


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("make capacity-hosts needs root (ip netns)")
    signal.signal(signal.SIGTERM, capacity.exit_on_signal)
    started = datetime.datetime.now(datetime.UTC)
    source_env = capacity.django_env(capacity.DATABASE_URL)
    capacity.prepare_database(source_env)
    name = urlparse(capacity.DATABASE_URL).path.lstrip("/")
    apps: list[dict[str, Any]] = []
    sampler = None
    network_down()  # what an interrupted run may have left
    try:
        network_up()
        url = postgres_up(capacity.DATABASE_URL, name)
        env = capacity.django_env(url)
        w = capacity.world(env)
        log(
            f"{capacity.AGENTS} agents over {w['distinct_resources']} distinct resources; {HOSTS} app host(s)"
        )
        for namespace, address in app_namespaces():
            apps.append(capacity.start_app(env, address, PORT, prefix=["ip", "netns", "exec", namespace]))
        roots = {}
        for n, app in enumerate(apps, 1):
            wait_for(app["url"].split("//")[1].split(":")[0], PORT)
            capacity.wait_until_up(app["url"])
            roots[f"efp worker {n}"] = app["worker"].pid
            roots[f"gunicorn {n}"] = app["serve"].pid
        sampler = capacity.RssSampler(roots)
        sampler.start()

        def restart() -> None:
            for n, ((namespace, address), app) in enumerate(zip(app_namespaces(), apps, strict=True), 1):
                capacity.stop(app["serve"])
                capacity.stop(app["worker"])
                app.update(capacity.start_app(env, address, PORT, prefix=["ip", "netns", "exec", namespace]))
                roots.update({f"efp worker {n}": app["worker"].pid, f"gunicorn {n}": app["serve"].pid})
                capacity.wait_until_up(app["url"])

        steps = capacity.ladder(w, [app["url"] for app in apps], len(apps), restart)
        backlog = capacity.pending_tasks(env)
    finally:
        if sampler:
            sampler.stopped.set()
        for app in apps:
            capacity.stop(app["serve"])
            capacity.stop(app["worker"])
        postgres_down()
        network_down()
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": capacity.git_commit(),
        "database": f"{name} (copy in {DB_NS})",
        "hosts": HOSTS,
        "resources": capacity.RESOURCES,
        "distinct_resources_reported": w["distinct_resources"],
        "gunicorn_workers": capacity.WORKERS,
        "locust_processes": len(apps),
        "cpus": os.cpu_count(),
        "peak_rss_mb": {k: round(v, 1) for k, v in sampler.peak_total.items()} if sampler else {},
        "tasks_pending_at_end": backlog,
        "steps": steps,
        "headroom": capacity.headroom(steps),
    }
    capacity.write(report, os.environ.get("CAPACITY_RESULTS", f"capacity_hosts{HOSTS}"))


if __name__ == "__main__":
    main()
