"""`efp serve` (gunicorn: a master and its workers) as a subprocess on the test database, for the crash
and two-process tests. The server runs in a process group of its own, so one SIGKILL takes all of it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from urllib.parse import quote

import httpx
from django.db import connection

EFP = Path(sys.executable).with_name("efp")

needs_postgresql = unittest.skipIf(
    connection.vendor == "sqlite",
    "needs PostgreSQL: several server processes on one SQLite file test nothing production runs "
    "(set EFP_DATABASE_URL)",
)


def test_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>), for the subprocess."""
    settings = connection.settings_dict
    user = quote(settings.get("USER") or "")
    password = settings.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One `efp serve` with `workers` gunicorn workers; start() waits until it answers."""

    def __init__(self, *, workers: int = 2, database_url: str | None = None) -> None:
        self.workers = workers
        self.database_url = database_url or test_database_url()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        env = {
            **os.environ,
            "EFP_DATABASE_URL": self.database_url,
            "EFP_WORKERS": str(self.workers),
            "EFP_ALLOWED_HOSTS": "127.0.0.1",
        }
        self.process = subprocess.Popen(
            [str(EFP), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: master and workers
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"efp serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/version/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"efp serve did not answer within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no worker gets to finish anything."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM), then SIGKILL if it lingers."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
            self.process = None
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]
