"""RabbitMQ, through its management API (HTTP): site agents' event queues and the messages put on them.

Everything goes over the management plugin's HTTP API with httpx (already a dependency), so no AMQP client
is needed: a virtual host, a user and its permissions, a durable queue, and publishing to the default
exchange with the queue's name as routing key. Every call is idempotent (PUT), so registering again
repairs what was removed by hand. Configured by `EFP_RABBITMQ_URL` (and `EFP_RABBITMQ_MANAGEMENT_URL`);
`broker()` is None when it is not set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from django.conf import settings

MANAGEMENT_PORT = 15672
TIMEOUT = 10.0  # seconds per call
# A queue keeps a message an hour and at most 10,000 of them (Waldur's unified queues do the same): an
# agent that was away catches up by its own reconciliation, not by an unbounded backlog.
QUEUE_ARGUMENTS = {"x-message-ttl": 60 * 60 * 1000, "x-max-length": 10000}


class BrokerError(Exception):
    """RabbitMQ refused a call or could not be reached."""


@dataclass(frozen=True)
class Broker:
    api: str  # http://host:15672/api
    user: str
    password: str


def broker() -> Broker | None:
    """The management API from the settings; None when agents poll (EFP_RABBITMQ_URL unset)."""
    url = settings.EFP_RABBITMQ_URL
    if not url:
        return None
    amqp = urlsplit(url)
    user, password = unquote(amqp.username or "guest"), unquote(amqp.password or "guest")
    management = settings.EFP_RABBITMQ_MANAGEMENT_URL
    if management:
        parts = urlsplit(management)
        user = unquote(parts.username) if parts.username else user
        password = unquote(parts.password) if parts.password else password
        host = parts.hostname or "127.0.0.1"
        base = f"{parts.scheme or 'http'}://{host}:{parts.port or MANAGEMENT_PORT}{parts.path.rstrip('/')}"
    else:
        base = f"http://{amqp.hostname or '127.0.0.1'}:{MANAGEMENT_PORT}"
    if not base.endswith("/api"):
        base += "/api"
    return Broker(api=base, user=user, password=password)


def _required() -> Broker:
    found = broker()
    if found is None:
        raise BrokerError("EFP_RABBITMQ_URL is not set")
    return found


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    target = _required()
    try:
        response = httpx.request(
            method,
            target.api + path,
            json=body,
            auth=(target.user, target.password),
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as error:
        raise BrokerError(f"RabbitMQ management API at {target.api}: {error}") from error
    if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
        raise BrokerError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
    return response


def _name(value: str) -> str:
    return quote(value, safe="")


def provision_queue(*, vhost: str, username: str, password: str, queue: str) -> None:
    """The virtual host, the agent's user (this password), its right to read this queue only, and the
    queue; our own user gets every right on the virtual host, to publish there."""
    admin = _required().user
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    _call("PUT", f"/vhosts/{_name(vhost)}", {})
    _call("PUT", f"/permissions/{_name(vhost)}/{_name(admin)}", everything)
    _call("PUT", f"/users/{_name(username)}", {"password": password, "tags": ""})
    reads_its_queue = {"configure": "^$", "write": "^$", "read": f"^{queue}$"}
    _call("PUT", f"/permissions/{_name(vhost)}/{_name(username)}", reads_its_queue)
    queue_body = {"durable": True, "auto_delete": False, "arguments": QUEUE_ARGUMENTS}
    _call("PUT", f"/queues/{_name(vhost)}/{_name(queue)}", queue_body)


def remove_queue(*, vhost: str, username: str, queue: str) -> None:
    """The queue and the agent's user (the virtual host stays: other agents of its owner use it)."""
    _call("DELETE", f"/queues/{_name(vhost)}/{_name(queue)}")
    _call("DELETE", f"/users/{_name(username)}")


def publish(*, vhost: str, queue: str, message: dict[str, Any]) -> bool:
    """Puts one JSON message on the queue (persistent); False when RabbitMQ routed it nowhere (no queue)."""
    body = {
        "properties": {"content_type": "application/json", "delivery_mode": 2},
        "routing_key": queue,
        "payload": json.dumps(message),
        "payload_encoding": "string",
    }
    answer = _call("POST", f"/exchanges/{_name(vhost)}/amq.default/publish", body).json()
    return bool(answer.get("routed"))


def consumers(*, vhost: str, queue: str) -> int:
    """How many consumers read the queue (0 when it does not exist)."""
    response = _call("GET", f"/queues/{_name(vhost)}/{_name(queue)}")
    return int(response.json().get("consumers", 0))
