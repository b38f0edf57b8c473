"""Runs Waldur's site agent (one cycle per call, in a subprocess) against a live test server."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

TIMEOUT = 120  # seconds; a cycle takes a few
DONE = "@@cycle"  # what run_cycle.py prints after each cycle


def declare_backend(directory: Path, name: str, target: str) -> None:
    """Makes `directory` (when on sys.path) declare a `waldur_site_agent.backends` entry point `name`.

    The agent finds backends only through entry points (importlib.metadata). A minimal `*.dist-info`
    directory with METADATA and entry_points.txt is a distribution as far as importlib is concerned, so
    the test plugin needs no package installation.
    """
    dist_info = directory / "efp_site_agent_test_backend-1.0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: efp-site-agent-test-backend\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[waldur_site_agent.backends]\n{name} = {target}\n")


def write_config(
    path: Path,
    *,
    api_url: str,
    token: str,
    offering_uuid: str,
    backend: str,
    backend_settings: dict[str, Any],
    backend_components: dict[str, dict[str, Any]],
) -> Path:
    """The agent's YAML configuration: one offering, one backend for ordering and reporting."""
    config = {
        "timezone": "UTC",
        "reporting_periods": 1,
        "offerings": [
            {
                "name": "EFP test offering",
                "waldur_api_url": api_url,
                "waldur_api_token": token,
                "waldur_offering_uuid": offering_uuid,
                "backend_type": backend,
                "order_processing_backend": backend,
                "reporting_backend": backend,
                "membership_sync_backend": backend,
                "backend_settings": backend_settings,
                "backend_components": backend_components,
            }
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Agent:
    """One agent process (see run_cycle.py); `cycle(mode)` runs one cycle and returns its log."""

    def __init__(self, config: Path, *, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "efp.marketplace.tests.site_agent.run_cycle", "-c", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        # A thread drains the agent's output into a queue, so a wait for the end of a cycle can time out.
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_until_done(self) -> tuple[list[str], str]:
        lines: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                self.close()
                raise AssertionError("agent cycle timed out:\n" + "".join(lines)) from None
            if line is None:
                raise AssertionError("agent exited:\n" + "".join(lines))
            if line.startswith(DONE):
                return lines, line
            lines.append(line)

    def cycle(self, mode: str) -> str:
        """Runs one cycle; fails with the agent's log if it logged an error."""
        assert self.process.stdin is not None
        self.process.stdin.write(mode + "\n")
        self.process.stdin.flush()
        lines, done = self._read_until_done()
        log = "".join(lines)
        assert done.split() == [DONE, mode, "0"], f"agent {mode} cycle logged errors:\n{log}"
        return log

    def backend_usage(self, backend_ids: list[str]) -> dict[str, Any]:
        """What the agent's reporting backend reports for these accounts ({id: {user: {component: n}}})."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"usage {','.join(backend_ids)}\n")
        self.process.stdin.flush()
        _, done = self._read_until_done()
        report: dict[str, Any] = json.loads(done.split(" ", 3)[3])
        return report

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=10)
