"""The world both site agent stories start from (test_site_agent.py, test_site_agent_slurm.py)."""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.servers.basehttp import WSGIServer
from django.db import connection
from django.test import LiveServerTestCase
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

from efp.marketplace.models import (
    Category,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    Order,
    Resource,
    UsageRevision,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests.factories import make_customer, make_order, make_project, make_user

BW = OfferingComponent.BillingType


def make_agent_offering(provider: Any, name: str, components: dict[str, tuple[str, str]]) -> Offering:
    """A SLURM-type offering with the given components ({type: (billing type, unit)}) and one plan.

    No fixed-price component: the agent cannot map one to a backend component and stops.
    """
    category, _ = Category.objects.get_or_create(title="HPC")
    offering = offering_services.create_offering(
        customer=provider, category=category, name=name, offering_type="Marketplace.Slurm"
    )
    for component_type, (billing_type, unit) in components.items():
        offering_services.add_component(
            offering=offering,
            component_type=component_type,
            name=component_type.upper(),
            billing_type=billing_type,
            measured_unit=unit,
            max_value=100000 if billing_type == BW.LIMIT else None,
        )
    offering_services.create_plan(offering=offering, name="Standard", prices={"cpu": Decimal("0.02")})
    return offering


class SerialServerThread(LiveServerThread):
    """On SQLite the live server's threads share the test's one in-memory connection: two requests served at
    once (the agent's own threads, its STOMP listener) break each other's savepoints. One request at a time
    there (Django then closes each connection); PostgreSQL keeps the threaded server."""

    def _create_server(self, connections_override: Any = None) -> Any:
        if connection.vendor != "sqlite":
            return super()._create_server(connections_override)
        return WSGIServer((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)


class AgentStory(LiveServerTestCase):
    """alice owns organisation A; bob (member) and erin (admin) work in its project A1 and have the accounts
    bob_hpc and erin_hpc at the offering; carol owns provider P; oscar manages the offering, and the agent
    runs with his token. `tmp` is a fresh directory for the agent's configuration and backend state."""

    server_thread_class = SerialServerThread

    components: dict[str, tuple[str, str]]

    def setUp(self) -> None:
        self.alice, self.bob, self.erin = make_user("alice"), make_user("bob"), make_user("erin")
        self.carol, self.oscar = make_user("carol"), make_user("oscar")
        self.org_a = make_customer("Organisation A", owner=self.alice)
        self.project = make_project(self.org_a, "Project A1", members=[self.bob], admins=[self.erin])
        self.provider = make_customer("Provider P", owner=self.carol)
        self.offering = make_agent_offering(self.provider, "Cluster C", self.components)
        offering_services.grant_offering_manager(offering=self.offering, user=self.oscar)
        for person, username in ((self.bob, "bob_hpc"), (self.erin, "erin_hpc")):
            create_offering_user(actor=None, offering=self.offering, user=person, username=username)
        self.tmp = Path(tempfile.mkdtemp(prefix="efp-site-agent-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def ok_resource(self, name: str, limits: dict[str, int], backend_id: str) -> Resource:
        """An allocation alice ordered and carol completed by hand, known to the backend as `backend_id`."""
        order = make_order(self.alice, self.project, self.offering, name=name, limits=limits)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=self.carol)
        resource = Resource.objects.get(pk=order.resource_id)
        resource_services.set_resource_backend_id(resource=resource, user=self.carol, backend_id=backend_id)
        return Resource.objects.get(pk=resource.pk)

    def usage_snapshot(self) -> tuple[list[Any], list[Any], int]:
        """Every usage value with its modification time, and the number of revisions written."""
        return (
            list(ComponentUsage.objects.order_by("pk").values_list("pk", "usage", "modified")),
            list(
                ComponentUserUsage.objects.order_by("pk").values_list(
                    "pk", "username", "user_id", "usage", "modified"
                )
            ),
            UsageRevision.objects.count(),
        )
