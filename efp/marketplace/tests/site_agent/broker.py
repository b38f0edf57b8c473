"""The local RabbitMQ for the event-queue tests: its plugins enabled, or the reason the tests skip.

The machines run RabbitMQ on 127.0.0.1:5672 (guest/guest) with the management, STOMP and web-STOMP plugins
installed but not necessarily enabled; `ready()` enables them (as `rabbitmq-plugins enable` does by hand)
and waits for their ports. Only a machine without RabbitMQ skips; one where enabling fails fails.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from typing import Any

import httpx

URL = "amqp://guest:guest@127.0.0.1:5672/"
API = "http://127.0.0.1:15672/api"
PLUGINS = ("rabbitmq_management", "rabbitmq_stomp", "rabbitmq_web_stomp")
STOMP_PORT, WS_PORT, WS_PATH = 61613, 15674, "/ws"
PORTS = (15672, STOMP_PORT, WS_PORT)


def _open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def absent() -> str | None:
    """Why the event-queue tests cannot run here (no RabbitMQ), or None: then `ready()` must succeed."""
    if _open(5672):
        return None
    return "RabbitMQ is not running on 127.0.0.1:5672: the event-queue (STOMP) tests need it"


def ready() -> None:
    """Enables the plugins if their ports are closed and waits for them (fails after a minute)."""
    if all(_open(port) for port in PORTS):
        return
    tool = shutil.which("rabbitmq-plugins")
    assert tool is not None, "RabbitMQ runs but rabbitmq-plugins is not on PATH"
    done = subprocess.run([tool, "enable", *PLUGINS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"rabbitmq-plugins enable failed:\n{done.stdout}{done.stderr}"
    deadline = time.monotonic() + 60
    while not all(_open(port) for port in PORTS):
        assert time.monotonic() < deadline, "RabbitMQ's management and STOMP ports did not open"
        time.sleep(0.5)


def take_messages(vhost: str, queue: str) -> list[dict[str, Any]]:
    """Every message on the queue (removed from it), decoded."""
    answer = httpx.post(
        f"{API}/queues/{vhost}/{queue}/get",
        json={"count": 100, "ackmode": "ack_requeue_false", "encoding": "auto"},
        auth=("guest", "guest"),
        timeout=10,
    )
    answer.raise_for_status()
    return [json.loads(item["payload"]) for item in answer.json()]


def drop_vhost(vhost: str) -> None:
    """A test's virtual host with whatever is left in it (each test's users are new, so are their hosts)."""
    httpx.delete(f"{API}/vhosts/{vhost}", auth=("guest", "guest"), timeout=10)
