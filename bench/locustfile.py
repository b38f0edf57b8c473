"""One bench scenario per locust run (BENCH_SCENARIO), against the API or the floor (BENCH_CONFIG).

Every request's latency (float ms), status and X-Query-Count is written to BENCH_SAMPLES when locust quits;
bench/run.py turns them into requests/s and percentiles.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from typing import Any

from locust import FastHttpUser, constant, events, task

CONFIG: dict[str, Any] = json.loads(open(os.environ["BENCH_CONFIG"]).read())  # noqa: SIM115
SCENARIO: dict[str, Any] = CONFIG["scenarios"][os.environ["BENCH_SCENARIO"]]
SAMPLES: list[tuple[float, float, int, int]] = []  # (start, ms, status, queries)
COUNTER = itertools.count()


class Client(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {CONFIG['token']}", "Content-Type": "application/json"}

    @task
    def call(self) -> None:
        path: str = SCENARIO["path"]
        body = SCENARIO.get("body")
        if "cycle" in SCENARIO:
            cycle = SCENARIO["cycle"]
            index = next(COUNTER)
            if SCENARIO.get("once") and index >= len(cycle):
                time.sleep(0.05)  # the supply is used up (approve_by_provider): wait for the end
                return
            item = cycle[index % len(cycle)]
            path = path.format(**item)
            if body is not None:
                body = json.loads(json.dumps(body).replace("{uuid}", item.get("uuid", "")))
        started = time.time()
        clock = time.perf_counter()
        if body is None:
            response = self.client.get(path, headers=self.headers, name=SCENARIO["name"])
        else:
            response = self.client.post(
                path, data=json.dumps(body), headers=self.headers, name=SCENARIO["name"]
            )
        elapsed = (time.perf_counter() - clock) * 1000
        queries = int(response.headers.get("X-Query-Count", "-1") or -1) if response.headers else -1
        SAMPLES.append((started, elapsed, response.status_code or 0, queries))


@events.quitting.add_listener
def _dump(environment: Any, **kwargs: Any) -> None:
    with open(os.environ["BENCH_SAMPLES"], "w") as out:
        json.dump(SAMPLES, out)
