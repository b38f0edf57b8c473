"""Clients that stream usage reports at a served `efp serve`, recording what became of each (acknowledged,
or sent with the answer lost), and the checks that what a database holds agrees with that: nothing
acknowledged missing, nothing half-written, nothing stored that was not sent. Used by the crash-safety
test (SIGKILL mid-stream) and the backup test (a backup taken mid-stream, restored elsewhere)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from django.db.models import Count

from efp.accounts.services import issue_token
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Resource, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.factories import make_resource
from efp.marketplace.tests.live_world import build_world

USERS = ("u1", "u2", "u3")


@dataclass(frozen=True)
class StreamWorld:
    """Carol's three allocations that get set_usage streams, the usage row whose per-user rows get the
    set_user_usages stream, and her token."""

    resources: list[Resource]
    parent: ComponentUsage
    token: str

    def streams(self) -> list[Stream]:
        streams: list[Stream] = [
            UsageStream(f"set_usage {r.name}", "/api/marketplace-component-usages/set_usage/", resource=r)
            for r in self.resources
        ]
        path = f"/api/marketplace-component-usages/{self.parent.uuid.hex}/set_user_usages/"
        streams.append(UserUsageStream("set_user_usages", path))
        return streams


def build_stream_world() -> StreamWorld:
    w = build_world()
    resources = [w.resource] + [
        make_resource(w.alice, w.carol, w.resource.project, w.offering, name=f"alloc{i}") for i in (2, 3)
    ]
    parent = usage_services.set_usage(
        user=w.carol,
        resource=make_resource(w.alice, w.carol, w.resource.project, w.offering, name="per-user"),
        usages=[usage_services.UsageItem(type="cpu", amount=Decimal(1))],
    )[0]
    return StreamWorld(resources=resources, parent=parent, token=issue_token(user=w.carol, name="test")[1])


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


def check_invariants(streams: list[Stream], parent: ComponentUsage) -> None:
    """What the database holds agrees with what each stream was told (see test_crash_safety.py)."""
    for stream in streams:
        if isinstance(stream, UsageStream):
            check_usage_stream(stream)
        else:
            check_user_usage_stream(stream, parent)
    # Nothing dangling, nothing out of step.
    assert not ComponentUserUsage.objects.filter(component_usage__isnull=True).exists()
    assert not UsageRevision.objects.filter(component_usage__isnull=True).exists()
    for usage in ComponentUsage.objects.all():
        latest = usage.revisions.filter(username="").order_by("-pk").first()
        assert latest is not None and latest.new_value == usage.usage, usage
        for row in usage.user_usages.all():
            revision = usage.revisions.filter(username=row.username).order_by("-pk").first()
            assert revision is not None and revision.new_value == row.usage, row


def check_usage_stream(stream: UsageStream) -> None:
    resource = Resource.objects.get(pk=stream.resource.pk)  # type: ignore[union-attr]
    rows = {u.component.type: u for u in ComponentUsage.objects.filter(resource=resource)}
    if not stream.acknowledged and not rows:
        return
    assert set(rows) == {"cpu", "gpu"}, (stream.name, set(rows))
    cpu = sorted(int(v) for v in rows["cpu"].revisions.values_list("new_value", flat=True) if v is not None)
    gpu = sorted(int(v) for v in rows["gpu"].revisions.values_list("new_value", flat=True) if v is not None)
    assert cpu == gpu, stream.name  # both items of every request, or neither
    assert len(cpu) == len(set(cpu)), stream.name  # nothing stored twice
    stored = set(cpu)
    assert stream.acknowledged <= stored, (stream.name, stream.acknowledged - stored)
    assert stored <= stream.acknowledged | stream.unknown, (stream.name, stored - stream.acknowledged)
    assert rows["cpu"].usage == max(stored) and rows["gpu"].usage == max(stored) + Decimal("0.5")
    assert resource.current_usages == {"cpu": float(max(stored)), "gpu": float(max(stored)) + 0.5}


def check_user_usage_stream(stream: Stream, parent: ComponentUsage) -> None:
    per_user = {
        row["username"]: row["n"]
        for row in UsageRevision.objects.filter(component_usage=parent)
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
            for v in UsageRevision.objects.filter(component_usage=parent, username=username).values_list(
                "new_value", flat=True
            )
            if v is not None
        )
        for username in USERS
    }
    assert values["u1"] == values["u2"] == values["u3"], "a per-user report was half written"
    stored = set(values["u1"])
    assert len(stored) == len(values["u1"])
    assert stream.acknowledged <= stored, stream.acknowledged - stored
    assert stored <= stream.acknowledged | stream.unknown, stored - stream.acknowledged
    rows = {row.username: row.usage for row in ComponentUserUsage.objects.filter(component_usage=parent)}
    assert rows == {username: Decimal(max(stored)) for username in USERS}
    assert ComponentUsage.objects.filter(pk=parent.pk).exists()
