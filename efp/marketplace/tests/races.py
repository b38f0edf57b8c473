"""Races over real HTTP against a live server: N clients released together by a barrier.

The live server answers each request in its own thread with its own database connection, so on PostgreSQL
the requests really overlap. SQLite serialises every writer behind one lock and cannot show a race: the
race tests skip there, saying so (`pytest -rs` prints the reason).
"""

from __future__ import annotations

import os
import unittest
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any, TypeVar

import httpx
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test.testcases import LiveServerThread

T = TypeVar("T")

# How often each race is run; EFP_RACE_ROUNDS=100 for a deeper run.
ROUNDS = int(os.environ.get("EFP_RACE_ROUNDS", "10"))
MAX_CONTENDERS = 32

needs_postgresql = unittest.skipUnless(
    connection.vendor == "postgresql",
    "needs PostgreSQL (set EFP_DATABASE_URL): SQLite serialises every writer behind one database lock, "
    "so concurrent requests cannot overlap there and no race can show",
)


class WideBacklogServer(ThreadedWSGIServer):
    request_queue_size = 2 * MAX_CONTENDERS  # Django's 10 would reset connections before they are accepted


class WideBacklogServerThread(LiveServerThread):
    server_class = WideBacklogServer


def race(calls: list[Callable[[httpx.Client], T]]) -> list[T]:
    """Runs every call in its own thread and HTTP connection, all released at once; results in order."""
    assert len(calls) <= MAX_CONTENDERS
    barrier = Barrier(len(calls))

    def run(call: Callable[[httpx.Client], T]) -> T:
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def poster(url: str, token: str, body: dict[str, Any] | None = None) -> Callable[[httpx.Client], int]:
    """A call that POSTs `body` as JSON with the token and answers the status code."""

    def call(client: httpx.Client) -> int:
        return client.post(url, json=body or {}, headers={"Authorization": f"Token {token}"}).status_code

    return call


def post_once(url: str, token: str, body: dict[str, Any]) -> None:
    """One POST outside the race (to set the scene); it must succeed."""
    with httpx.Client(timeout=60) as client:
        code = poster(url, token, body)(client)
    assert code in (200, 201), (url, code)
