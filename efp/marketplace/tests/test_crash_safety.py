"""Crash safety on PostgreSQL: `efp serve` is killed with SIGKILL (master and workers at once) while four
clients stream usage reports at it, restarted, killed again, several rounds. Every report that was
answered 201 must be in the database with its value, and nothing may be half-written:

- set_usage reports carry two components (cpu = n, gpu = n + 0.5): both are stored or neither;
- per-user reports carry three users with the same value n: all three or none;
- every stored value came from a request that was sent, and none is stored twice;
- each component usage holds the value of its latest revision, and `current_usages` matches it;
- every per-user row and every revision has its parent.

Outcomes per request: 201 (acknowledged), refused before sending (connection refused: the server was
down, nothing reached it), or unknown (sent, then the connection died: either outcome is allowed).
"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import httpx
from django.test import TransactionTestCase

from efp.marketplace.tests.served import Server, needs_postgresql
from efp.marketplace.tests.usage_streams import (
    UsageStream,
    build_stream_world,
    check_invariants,
)

ROUNDS = 5


@needs_postgresql
class CrashSafetyTests(TransactionTestCase):
    def setUp(self) -> None:
        self.world = build_stream_world()
        self.resources, self.parent, self.token = self.world.resources, self.world.parent, self.world.token
        self.server = Server(workers=2)

    def tearDown(self) -> None:
        self.server.kill()

    def test_it_keeps_every_acknowledged_write_and_nothing_half_written_across_sigkills(self) -> None:
        streams = self.world.streams()
        rng = random.Random(8)  # noqa: S311 - kill times, not secrets
        for round_number in range(1, ROUNDS + 1):
            self.server.start()
            acknowledged_before = sum(len(s.acknowledged) for s in streams)
            stop = threading.Event()
            threads = [
                threading.Thread(target=s.run, args=(self.server.url, self.token, stop)) for s in streams
            ]
            for thread in threads:
                thread.start()
            # Kill at a random point once the stream is flowing (a few answers in: the workers are warm).
            wanted = acknowledged_before + rng.randint(4, 30)
            deadline = time.monotonic() + 60
            while sum(len(s.acknowledged) for s in streams) < wanted and time.monotonic() < deadline:
                time.sleep(0.01)
            self.server.kill()  # mid-stream: the clients are sending as fast as they are answered
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            assert sum(len(s.acknowledged) for s in streams) > acknowledged_before, round_number
            check_invariants(streams, self.parent)

        # Restarted once more: the server answers with exactly what the database holds.
        self.server.start()
        with httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Token {self.token}"}
        ) as client:
            for stream in streams[:3]:
                assert isinstance(stream, UsageStream) and stream.resource is not None
                listed = client.get(
                    "/api/marketplace-component-usages/", params={"resource_uuid": stream.resource.uuid.hex}
                ).json()
                stored = {row["type"]: Decimal(row["usage"]) for row in listed}
                last = max(stream.acknowledged | stream.unknown)
                assert stored["cpu"] >= max(stream.acknowledged), stream.name
                assert stored["cpu"] <= last
        unknown = sum(len(s.unknown) for s in streams)
        acknowledged = sum(len(s.acknowledged) for s in streams)
        print(
            f"\ncrash safety: {ROUNDS} SIGKILL rounds, {acknowledged} acknowledged writes, {unknown} cut off"
        )
