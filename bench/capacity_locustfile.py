"""`make capacity`'s load: site agents on an open-loop schedule and people browsing the provider GUI.

One locust process runs one `Agents` user and a share of the `Browser` users (bench/capacity.py starts one
or two processes and gives each its share in CAPACITY_CONFIG). The `Agents` user does not wait for answers:
it works through a timetable computed in advance and starts every request at its time in a greenlet of
its own, whatever the earlier ones take (open loop). Each agent, as waldur-site-agent 1.0.7 sends it:

- polls its offering's orders every 60 s / multiple (`order_process`),
- lists its offering's resources every 600 s / multiple (`report`: state OK and Erred, sparse fields),
- reports each of its resources every 3600 s / multiple: `set_usage` for the usage components, then
  `set_user_usages` (the agent's bulk call, 20 users) on the month's component usage.

Every agent's three schedules have their own offset, spread evenly over the period. Browsers are closed
loop, like people: a page, then ~10 s of reading. Every request's scheduled time, start, latency, status
and X-Query-Count go to CAPACITY_SAMPLES when locust quits.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Group
from locust import FastHttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # locust puts only bench/ on the path
from bench.site_agent_requests import POLL_AGENT, REPORT_AGENT, RESOURCE_FIELDS, USERS

CONFIG: dict[str, Any] = json.loads(open(os.environ["CAPACITY_CONFIG"]).read())  # noqa: SIM115
SAMPLES: list[tuple[str, float, float, float, int, int]] = []  # (type, scheduled, start, ms, status, queries)


def timetable() -> list[tuple[float, str, int, int]]:
    """(seconds after the start, kind, agent, resource index) of this process's share, in time order."""
    agents, multiple, duration = CONFIG["agents"], CONFIG["multiple"], CONFIG["duration"]
    count, share, of = CONFIG["agent_count"], CONFIG["share"], CONFIG["shares"]
    per_agent = CONFIG["resources_per_agent"]
    poll, listing, report = 60 / multiple, 600 / multiple, 3600 / multiple
    found: list[tuple[float, str, int, int]] = []
    for a in range(share, count, of):
        for period, kind in ((poll, "orders_poll"), (listing, "resources_list")):
            t = a / count * period
            while t < duration:
                found.append((t, kind, a, 0))
                t += period
        for j in range(per_agent):
            t = (j * count + a) / (count * per_agent) * report
            while t < duration:
                found.append((t, "usage_report", a, j))
                t += report
    assert len(agents) == count
    found.sort()
    return found


def month_hours() -> float:
    now = datetime.datetime.now(datetime.UTC)
    return (now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600


class Agents(FastHttpUser):
    fixed_count = 1
    concurrency = 1000  # connections the open loop may hold at once
    network_timeout = 30.0
    connection_timeout = 10.0

    def record(self, kind: str, scheduled: float, response: Any, started: float, clock: float) -> None:
        elapsed = (time.perf_counter() - clock) * 1000
        headers = response.headers or {}
        queries = int(headers.get("X-Query-Count", "-1") or -1)
        SAMPLES.append((kind, scheduled, started, elapsed, int(response.status_code or 0), queries))

    def call(self, kind: str, scheduled: float, method: str, path: str, agent: dict[str, Any],
             user_agent: str, body: Any = None) -> None:  # fmt: skip
        headers = {
            "Authorization": f"Token {agent['token']}",
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        started, clock = time.time(), time.perf_counter()
        data = None if body is None else json.dumps(body)
        with self.client.request(
            method, path, headers=headers, data=data, name=kind, catch_response=True
        ) as r:
            self.record(kind, scheduled, r, started, clock)
            r.success() if 200 <= (r.status_code or 0) < 300 else r.failure(f"status {r.status_code}")

    def fire(self, kind: str, scheduled: float, a: int, j: int) -> None:
        agent = CONFIG["agents"][a]
        if kind == "orders_poll":
            path = f"/api/marketplace-orders/?offering_uuid={agent['offering']}"
            path += "&state=pending-provider&state=executing&page_size=100"
            self.call(kind, scheduled, "GET", path, agent, POLL_AGENT)
        elif kind == "resources_list":
            # The agent follows the Link header to the last page; an agent's offering holds its 100
            # resources, one page of 100 (the seed's offerings are larger: the first page stands for it).
            path = (
                f"/api/marketplace-provider-resources/?offering_uuid={agent['offering']}&state=OK&state=Erred"
                f"&{RESOURCE_FIELDS}&page_size=100"
            )
            self.call(kind, scheduled, "GET", path, agent, REPORT_AGENT)
        else:
            resource, usage = agent["resources"][j]
            hours = month_hours()
            usages = [
                {"type": "cpu", "amount": f"{hours * 40:.2f}"},
                {"type": "gpu", "amount": f"{hours:.2f}"},
            ]
            self.call("set_usage", scheduled, "POST", "/api/marketplace-component-usages/set_usage/", agent,
                      REPORT_AGENT, {"resource": resource, "usages": usages})  # fmt: skip
            users = [
                {"username": u, "usage": f"{hours * 2 * (1 + n % 4) / 5:.2f}"} for n, u in enumerate(USERS)
            ]
            self.call("set_user_usages", scheduled, "POST",
                      f"/api/marketplace-component-usages/{usage}/set_user_usages/", agent, REPORT_AGENT,
                      {"usages": users})  # fmt: skip

    @task
    def run_timetable(self) -> None:
        table = timetable()
        start = CONFIG["start_at"]
        group = Group()
        for offset, kind, a, j in table:
            delay = start + offset - time.time()
            if delay > 0:
                gevent.sleep(delay)
            group.spawn(self.fire, kind, start + offset, a, j)
        group.join(timeout=60)
        self.environment.runner.quit()  # type: ignore[union-attr]


BROWSER_COUNTER = iter(range(10**6))


class Browser(FastHttpUser):
    fixed_count = 0  # set from the config below
    wait_time = between(5, 15)
    network_timeout = 30.0

    def on_start(self) -> None:
        browsers = CONFIG["browsers"]
        self.me = browsers[next(BROWSER_COUNTER) % len(browsers)]
        self.pages = [
            ("gui_dashboard", "/provider/"),
            ("gui_resources", "/provider/resources/"),
            ("gui_orders", "/provider/orders/"),
            ("gui_usage", f"/provider/resources/{self.me['resource']}/usage/"),
            ("gui_coverage", "/provider/coverage/"),
        ]
        self.step = random.randrange(len(self.pages))  # noqa: S311 - not a secret
        gevent.sleep(max(0.0, CONFIG["start_at"] - time.time()) + random.uniform(0, 10))  # noqa: S311

    @task
    def browse(self) -> None:
        kind, path = self.pages[self.step % len(self.pages)]
        self.step += 1
        headers = {"Cookie": f"sessionid={self.me['session']}"}
        started, clock = time.time(), time.perf_counter()
        with self.client.get(path, headers=headers, name=kind, catch_response=True) as r:
            elapsed = (time.perf_counter() - clock) * 1000
            queries = int((r.headers or {}).get("X-Query-Count", "-1") or -1)
            SAMPLES.append((kind, started, started, elapsed, int(r.status_code or 0), queries))
            r.success() if r.status_code == 200 else r.failure(f"status {r.status_code}")


Browser.fixed_count = int(CONFIG["browser_count"])


@events.quitting.add_listener
def _dump(environment: Any, **kwargs: Any) -> None:
    with open(os.environ["CAPACITY_SAMPLES"], "w") as out:
        json.dump(SAMPLES, out)
