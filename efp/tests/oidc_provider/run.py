"""Starts the test provider in a process of its own on a free port of 127.0.0.1 and stops it after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

CLIENT_ID = "efp-allocations"
CLIENT_SECRET = "efp-test-secret"
USERNAME, PASSWORD = "pat", "pat-password"


@dataclass(frozen=True)
class Provider:
    url: str
    log: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    def settings(self) -> dict[str, str]:
        """EFP's settings for this issuer (for override_settings)."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_LABEL": "Test provider",
        }

    def opaque_access_token(self) -> str:
        """An access token of the provider's own kind (opaque), from its token endpoint."""
        response = requests.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "password",
                "username": USERNAME,
                "password": PASSWORD,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scope": "openid email profile",
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def jwt_access_token(self, *, expires_in: int = 300, audience: str = CLIENT_ID) -> str:
        response = requests.get(
            f"{self.url}/test/jwt-access-token/",
            params={"username": USERNAME, "expires_in": expires_in, "audience": audience},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_provider(*redirect_uris: str) -> Iterator[Provider]:
    with tempfile.TemporaryDirectory(prefix="efp-oidc-provider-") as folder:
        port = free_port()
        provider = Provider(url=f"http://127.0.0.1:{port}", log=Path(folder) / "provider.log")
        database = str(Path(folder) / "provider.sqlite3")
        env = {**os.environ, "OP_SITE_URL": provider.url, "OP_DATABASE": database}
        command = [sys.executable, "-m", "efp.tests.oidc_provider.serve", str(port), CLIENT_ID, CLIENT_SECRET]
        with provider.log.open("w") as log:
            process = subprocess.Popen([*command, *redirect_uris], env=env, stdout=log, stderr=log)
        try:
            _wait_for(provider, process)
            yield provider
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(provider: Provider, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test provider stopped: {provider.log.read_text()}")
        try:
            if requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the test provider did not answer within 60 s: {provider.log.read_text()}")
