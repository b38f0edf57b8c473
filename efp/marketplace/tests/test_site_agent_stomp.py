"""Waldur's site agent 1.0.7, unchanged, in `event_process` mode: an order pushed over STOMP is processed.

The agent runs as `waldur_site_agent -m event_process` in a subprocess with `stomp_enabled: true`. At start
it registers its identity and queue (`register_queue`) and connects to RabbitMQ's web-STOMP endpoint
(127.0.0.1:15674/ws) with its token; then it waits for messages. An order alice places after that is pushed
by the worker (`run_tasks` here) and the agent creates the account and completes the order. It does not
poll meanwhile: the order waits until the message is published.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import unittest
from collections.abc import Callable
from typing import Any

import yaml
from django.test import override_settings

from efp.accounts.services import issue_token
from efp.events.tests.running import run_tasks
from efp.marketplace import rabbitmq
from efp.marketplace.models import AgentIdentity, Order, Resource
from efp.marketplace.tests.factories import make_order
from efp.marketplace.tests.site_agent import broker, harness
from efp.marketplace.tests.site_agent.story import BW, AgentStory

REASON = broker.absent()
BACKEND = "efp-test"
COMPONENTS: dict[str, dict[str, Any]] = {
    "cpu": {"measured_unit": "core-hours", "accounting_type": "usage", "label": "CPU"},
    "storage": {"measured_unit": "TB", "accounting_type": "limit", "label": "Storage", "unit_factor": 1},
}
WAIT = 90  # seconds for the agent to start, connect, or finish an order


@unittest.skipIf(REASON is not None, REASON or "")
@override_settings(EFP_RABBITMQ_URL=broker.URL)
class SiteAgentStompTests(AgentStory):
    components = {"cpu": (BW.USAGE, "core-hours"), "storage": (BW.LIMIT, "TB")}

    @classmethod
    def setUpClass(cls) -> None:
        broker.ready()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        offering = {
            "name": "EFP test offering",
            "waldur_api_url": f"{self.live_server_url}/api/",
            "waldur_api_token": issue_token(user=self.oscar, name="test")[1],
            "waldur_offering_uuid": self.offering.uuid.hex,
            **self.backend(),
            "stomp_enabled": True,
            "websocket_use_tls": False,  # the local broker speaks plain WebSocket
            "stomp_ws_host": "127.0.0.1",
            "stomp_ws_port": broker.WS_PORT,
            "stomp_ws_path": broker.WS_PATH,
        }
        config = self.tmp / "agent.yaml"
        config.write_text(yaml.safe_dump({"timezone": "UTC", "offerings": [offering]}, sort_keys=False))
        self.log: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        self.agent = subprocess.Popen(
            [sys.executable, "-m", "waldur_site_agent.main", "-m", "event_process", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(self.tmp / "plugins"), *sys.path]),
                "PYTHONUNBUFFERED": "1",  # its log line by line, as it happens
                **self.backend_env(),
            },
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.addCleanup(self._stop)

    def backend(self) -> dict[str, Any]:
        """The offering's backend part of the agent's configuration: the test's file backend."""
        self.state_file = self.tmp / "accounts.json"
        harness.declare_backend(
            self.tmp / "plugins", BACKEND, "efp.marketplace.tests.site_agent.plugin:FileBackend"
        )
        return {
            "backend_type": BACKEND,
            "order_processing_backend": BACKEND,
            "backend_settings": {"state_file": str(self.state_file), "usage_per_user": {}},
            "backend_components": COMPONENTS,
        }

    def backend_env(self) -> dict[str, str]:
        return {}

    def ordered_limits(self) -> dict[str, int]:
        return {"storage": 7}

    def assert_provisioned(self, resource: Resource) -> None:
        """The backend holds the new account with the ordered limits."""
        assert self.accounts()[resource.backend_id]["limits"] == {"storage": 7}

    def nothing_provisioned(self) -> bool:
        return self.accounts() == {}

    def _pump(self) -> None:
        assert self.agent.stdout is not None
        for line in self.agent.stdout:
            self.log.put(line)

    def _stop(self) -> None:
        self.agent.terminate()  # the agent stops its STOMP connection on SIGTERM
        try:
            self.agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            self.agent.wait()
        identity = AgentIdentity.objects.filter(offering=self.offering).first()
        if identity is not None and identity.rmq_username:
            rabbitmq.remove_queue(
                vhost=identity.rmq_vhost, username=identity.rmq_username, queue=identity.queue_name
            )
            broker.drop_vhost(identity.rmq_vhost)

    def agent_log(self) -> str:
        while not self.log.empty():
            self.lines.append(self.log.get_nowait())
        return "".join(self.lines)

    def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert self.agent.poll() is None, f"the agent exited:\n{self.agent_log()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.agent_log()}"
            run_tasks()  # the worker: pushes what the agent's own calls changed
            time.sleep(0.5)

    def settle(self, what: str, done: Callable[[], bool]) -> None:
        """The worker publishes what the story just changed; then the agent's answer is awaited."""
        run_tasks()
        self.wait_for(what, done)

    def listening(self) -> bool:
        identity = AgentIdentity.objects.filter(offering=self.offering).exclude(rmq_username="").first()
        if identity is None:
            return False
        return rabbitmq.consumers(vhost=identity.rmq_vhost, queue=identity.queue_name) > 0

    def accounts(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def test_it_processes_a_new_order_from_the_pushed_event(self) -> None:
        self.wait_for("the agent to listen on its queue", self.listening)
        identity = AgentIdentity.objects.get(offering=self.offering)
        assert identity.name == f"agent-{self.offering.uuid.hex}"
        assert identity.rmq_vhost == self.oscar.uuid.hex
        assert "order" in identity.object_types

        limits = self.ordered_limits()
        order = make_order(self.alice, self.project, self.offering, name="pushed", limits=limits)
        time.sleep(3)  # no message yet: an agent that polled would take the order now
        assert Order.objects.get(pk=order.pk).state == "pending-provider"
        assert self.nothing_provisioned()

        run_tasks()  # the worker publishes the order's messages
        # Both read as one: on SQLite the live server shares the test's connection, so a read between the
        # agent's two writes of set_state_done (order, then resource) sees the order done first.
        self.wait_for(
            "the order to be done and its resource OK",
            lambda: (
                (Order.objects.get(pk=order.pk).state, Resource.objects.get(pk=order.resource_id).state)
                == ("done", "OK")
            ),
        )

        resource = Resource.objects.get(pk=order.resource_id)
        self.assert_provisioned(resource)
        # The agent's STOMP handler took it, from the message our worker published.
        log = self.agent_log()
        handled = [
            line
            for line in log.splitlines()
            if "Processing order message:" in line
            and f"'order_uuid': '{order.uuid.hex}'" in line
            and "'order_state': 'pending-provider'" in line
        ]
        assert handled, log
