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
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from django.db.models import Count
from django.test import TransactionTestCase

from efp.accounts.services import get_or_create_token
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Resource, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.served import Server, needs_postgresql

ROUNDS = 5
USERS = ("u1", "u2", "u3")


@dataclass
class Stream:
    """One client: sends reports with n = 1, 2, 3, ... one at a time, and records what became of each."""

    name: str
    url: str
    acknowledged: set[int] = field(default_factory=set)
    unknown: set[int] = field(default_factory=set)
    next_n: int = 1

    def body(self, n: int) -> dict[str, object]:
        raise NotImplementedError

    def run(self, base_url: str, token: str, stop: threading.Event) -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=10
        ) as client:
            while not stop.is_set():
                n = self.next_n
                try:
                    response = client.post(self.url, json=self.body(n))
                except httpx.ConnectError:
                    time.sleep(0.02)  # the server is down: nothing was sent, n is tried again
                    continue
                except httpx.TransportError:
                    self.unknown.add(n)  # sent; the answer was lost with the server
                    self.next_n += 1
                    continue
                assert response.status_code == 201, (self.name, n, response.status_code, response.text)
                self.acknowledged.add(n)
                self.next_n += 1


@dataclass
class UsageStream(Stream):
    resource: Resource | None = None

    def body(self, n: int) -> dict[str, object]:
        assert self.resource is not None
        return {
            "resource": self.resource.uuid.hex,
            "usages": [{"type": "cpu", "amount": f"{n}"}, {"type": "gpu", "amount": f"{n}.50"}],
        }


@dataclass
class UserUsageStream(Stream):
    def body(self, n: int) -> dict[str, object]:
        return {"usages": [{"username": username, "usage": f"{n}"} for username in USERS]}


@needs_postgresql
class CrashSafetyTests(TransactionTestCase):
    def setUp(self) -> None:
        self.world = build_world()
        w = self.world
        self.resources = [w.resource] + [
            make_resource(w.alice, w.carol, w.resource.project, w.offering, name=f"alloc{i}") for i in (2, 3)
        ]
        self.parent = usage_services.set_usage(
            user=w.carol,
            resource=make_resource(w.alice, w.carol, w.resource.project, w.offering, name="per-user"),
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal(1))],
        )[0]
        self.token = get_or_create_token(user=w.carol)
        self.server = Server(workers=2)

    def tearDown(self) -> None:
        self.server.kill()

    def test_it_keeps_every_acknowledged_write_and_nothing_half_written_across_sigkills(self) -> None:
        streams: list[Stream] = [
            UsageStream(f"set_usage {r.name}", "/api/marketplace-component-usages/set_usage/", resource=r)
            for r in self.resources
        ]
        user_stream = UserUsageStream(
            "set_user_usages", f"/api/marketplace-component-usages/{self.parent.uuid.hex}/set_user_usages/"
        )
        streams.append(user_stream)
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
            self.check_invariants(streams)

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

    def check_invariants(self, streams: list[Stream]) -> None:
        for stream in streams:
            if isinstance(stream, UsageStream):
                self.check_usage_stream(stream)
            else:
                self.check_user_usage_stream(stream)
        # Nothing dangling, nothing out of step.
        assert not ComponentUserUsage.objects.filter(component_usage__isnull=True).exists()
        assert not UsageRevision.objects.filter(component_usage__isnull=True).exists()
        for usage in ComponentUsage.objects.all():
            latest = usage.revisions.filter(username="").order_by("-pk").first()
            assert latest is not None and latest.new_value == usage.usage, usage
            for row in usage.user_usages.all():
                revision = usage.revisions.filter(username=row.username).order_by("-pk").first()
                assert revision is not None and revision.new_value == row.usage, row

    def check_usage_stream(self, stream: UsageStream) -> None:
        resource = Resource.objects.get(pk=stream.resource.pk)  # type: ignore[union-attr]
        rows = {u.component.type: u for u in ComponentUsage.objects.filter(resource=resource)}
        if not stream.acknowledged and not rows:
            return
        assert set(rows) == {"cpu", "gpu"}, (stream.name, set(rows))
        cpu = sorted(int(v) for v in rows["cpu"].revisions.values_list("new_value", flat=True))
        gpu = sorted(int(v) for v in rows["gpu"].revisions.values_list("new_value", flat=True))
        assert cpu == gpu, stream.name  # both items of every request, or neither
        assert len(cpu) == len(set(cpu)), stream.name  # nothing stored twice
        stored = set(cpu)
        assert stream.acknowledged <= stored, (stream.name, stream.acknowledged - stored)
        assert stored <= stream.acknowledged | stream.unknown, (stream.name, stored - stream.acknowledged)
        assert rows["cpu"].usage == max(stored) and rows["gpu"].usage == max(stored) + Decimal("0.5")
        assert resource.current_usages == {"cpu": float(max(stored)), "gpu": float(max(stored)) + 0.5}

    def check_user_usage_stream(self, stream: Stream) -> None:
        per_user = {
            row["username"]: row["n"]
            for row in UsageRevision.objects.filter(component_usage=self.parent)
            .exclude(username="")
            .values("username")
            .annotate(n=Count("pk"))
        }
        if not per_user:
            assert not stream.acknowledged
            return
        assert set(per_user) == set(USERS), per_user
        values = {
            username: sorted(
                int(v)
                for v in UsageRevision.objects.filter(
                    component_usage=self.parent, username=username
                ).values_list("new_value", flat=True)
            )
            for username in USERS
        }
        assert values["u1"] == values["u2"] == values["u3"], "a per-user report was half written"
        stored = set(values["u1"])
        assert len(stored) == len(values["u1"])
        assert stream.acknowledged <= stored, stream.acknowledged - stored
        assert stored <= stream.acknowledged | stream.unknown, stored - stream.acknowledged
        rows = {
            row.username: row.usage for row in ComponentUserUsage.objects.filter(component_usage=self.parent)
        }
        assert rows == {username: Decimal(max(stored)) for username in USERS}
        assert ComponentUsage.objects.filter(pk=self.parent.pk).exists()
