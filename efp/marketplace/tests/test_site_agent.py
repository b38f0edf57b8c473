"""Waldur's site agent 1.0.7, unchanged, processing orders and reporting usage against a live server.

The agent runs in a subprocess, one cycle per call (site_agent/run_cycle.py), with a small backend plugin
that keeps accounts in a JSON file (site_agent/plugin.py). What it did is checked in our database and in
the plugin's file.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.utils import timezone

from efp.accounts.services import issue_token
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import (
    AgentIdentity,
    ComponentUsage,
    ComponentUserUsage,
    MemberSyncStatus,
    Offering,
    Order,
    Resource,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order, terminate_now
from efp.marketplace.tests.site_agent import harness
from efp.marketplace.tests.site_agent.story import BW, AgentStory

BACKEND = "efp-test"
COMPONENTS: dict[str, dict[str, Any]] = {
    "cpu": {"measured_unit": "core-hours", "accounting_type": "usage", "label": "CPU"},
    "gpu": {"measured_unit": "GPU-hours", "accounting_type": "usage", "label": "GPU"},
    "storage": {"measured_unit": "TB", "accounting_type": "limit", "label": "Storage", "unit_factor": 1},
}
ENDPOINT = {"name": "login", "url": "ssh://login.example.org"}
# What the plugin reports for every account: site usernames → component → amount.
USAGE_PER_USER = {"bob_hpc": {"cpu": 12.5, "gpu": 2.0}, "erin_hpc": {"cpu": 7.25, "gpu": 0.0}}


class SiteAgentTests(AgentStory):
    components = {
        "cpu": (BW.USAGE, "core-hours"),
        "gpu": (BW.USAGE, "GPU-hours"),
        "storage": (BW.LIMIT, "TB"),
    }

    def setUp(self) -> None:
        super().setUp()
        self.state_file = self.tmp / "accounts.json"
        harness.declare_backend(
            self.tmp / "plugins", BACKEND, "efp.marketplace.tests.site_agent.plugin:FileBackend"
        )
        config = harness.write_config(
            self.tmp / "agent.yaml",
            api_url=f"{self.live_server_url}/api/",
            token=self.agent_token(),
            offering_uuid=self.offering.uuid.hex,
            backend=BACKEND,
            backend_settings=self.backend_settings(),
            backend_components=COMPONENTS,
        )
        self.agent = harness.Agent(config, env={"PYTHONPATH": str(self.tmp / "plugins")})
        self.addCleanup(self.agent.close)

    def agent_token(self) -> str:
        """oscar's key for the agent's configuration."""
        return issue_token(user=self.oscar, name="site agent")[1]

    def backend_settings(self, **more: Any) -> dict[str, Any]:
        return {
            "state_file": str(self.state_file),
            "usage_per_user": USAGE_PER_USER,
            "endpoints": [ENDPOINT],
            "allocation_prefix": "efp_",
            "project_prefix": "efp_project_",
            "customer_prefix": "efp_customer_",
            **more,
        }

    def accounts(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def existing_resource(self, name: str, account: str, storage: int) -> Resource:
        """An OK resource whose account the backend already has."""
        resource = self.ok_resource(name, {"storage": storage}, account)
        accounts = self.accounts()
        accounts[account] = {
            "description": name,
            "organization": "",
            "limits": {"storage": storage},
            "users": [],
        }
        self.state_file.write_text(json.dumps(accounts))
        return resource

    # --- the story ---------------------------------------------------------------------------------------

    def test_it_processes_orders_then_reports_usage_once(self) -> None:
        kept = self.existing_resource("kept", "efp_kept", storage=20)
        doomed = self.existing_resource("doomed", "efp_doomed", storage=5)
        create = make_order(self.alice, self.project, self.offering, name="fresh", limits={"storage": 10})
        update = order_services.update_resource_limits(resource=kept, user=self.alice, limits={"storage": 50})
        terminate = order_services.terminate_resource(resource=doomed, user=self.alice)
        orders = (create, update, terminate)
        assert [Order.objects.get(pk=o.pk).state for o in orders] == ["pending-provider"] * 3

        self.agent.cycle("order_process")

        assert [Order.objects.get(pk=o.pk).state for o in orders] == ["done"] * 3
        fresh = Resource.objects.get(pk=create.resource_id)
        assert fresh.state == "OK"
        assert fresh.backend_id == f"efp_{fresh.slug}"  # the id the agent made up and set
        assert fresh.limits == {"storage": 10}
        assert fresh.backend_metadata == {"created_by": "efp-test", "account": fresh.backend_id}
        assert list(fresh.endpoints.values("name", "url")) == [ENDPOINT]
        accounts = self.accounts()
        assert sorted(accounts) == sorted(["efp_kept", fresh.backend_id])
        assert accounts[fresh.backend_id]["limits"] == {"storage": 10}
        assert sorted(accounts[fresh.backend_id]["users"]) == ["bob_hpc", "erin_hpc"]
        kept.refresh_from_db()
        assert (kept.state, kept.limits, accounts["efp_kept"]["limits"]) == (
            "OK",
            {"storage": 50},
            {"storage": 50},
        )
        doomed.refresh_from_db()
        assert (doomed.state, doomed.backend_id) == ("Terminated", "efp_doomed")

        identity = AgentIdentity.objects.get(offering=self.offering)
        assert identity.name == f"agent-{self.offering.uuid.hex}"
        assert identity.created_by == self.oscar
        service = identity.services.get()
        assert (service.name, service.mode, service.state) == ("order_process", "order_process", "Active")
        processor = service.processors.get()
        assert (processor.name, processor.backend_type) == (
            "OfferingOrderProcessor",
            "efp.marketplace.tests.site_agent.plugin.FileBackend",
        )

        months = {billing_period_of(timezone.now())}
        self.agent.cycle("report")
        months.add(billing_period_of(timezone.now()))

        expected_totals = {"cpu": Decimal("19.75"), "gpu": Decimal("2.00")}
        for resource in (fresh, kept):
            usages = ComponentUsage.objects.filter(resource=resource)
            assert {u.component.type: u.usage for u in usages} == expected_totals
            assert {u.billing_period for u in usages} <= months
            per_user = ComponentUserUsage.objects.filter(component_usage__resource=resource)
            assert {(u.component_usage.component.type, u.username, u.user_id, u.usage) for u in per_user} == {
                ("cpu", "bob_hpc", self.bob.pk, Decimal("12.50")),
                ("gpu", "bob_hpc", self.bob.pk, Decimal("2.00")),
                ("cpu", "erin_hpc", self.erin.pk, Decimal("7.25")),
                ("gpu", "erin_hpc", self.erin.pk, Decimal("0.00")),
            }
        assert not ComponentUsage.objects.filter(resource=doomed).exists()
        assert set(identity.services.values_list("name", flat=True)) == {"order_process", "report"}

        before = self.usage_snapshot()
        self.agent.cycle("report")
        assert self.usage_snapshot() == before

    def test_a_backend_that_can_tell_reports_which_grants_reached_it(self) -> None:
        """An offering opted in with `enable_membership_sync_status`: after its membership sync the agent
        posts each member's state at the backend (`set_membership_sync_statuses`), and both sides see it."""
        create = make_order(self.alice, self.project, self.offering, name="fresh", limits={"storage": 10})
        self.agent.cycle("order_process")
        fresh = Resource.objects.get(pk=create.resource_id)
        Offering.objects.filter(pk=self.offering.pk).update(
            plugin_options={"enable_membership_sync_status": True}
        )
        config = harness.write_config(
            self.tmp / "reporting.yaml",
            api_url=f"{self.live_server_url}/api/",
            token=self.agent_token(),
            offering_uuid=self.offering.uuid.hex,
            backend=BACKEND,
            backend_settings=self.backend_settings(member_sync_report=True),
            backend_components=COMPONENTS,
        )
        agent = harness.Agent(config, env={"PYTHONPATH": str(self.tmp / "plugins")})
        self.addCleanup(agent.close)

        agent.cycle("membership_sync")

        rows = MemberSyncStatus.objects.filter(resource=fresh).values_list(
            "user__username", "role_name", "state"
        )
        # ghost_hpc is nobody's account here: skipped, not stored.
        assert sorted(rows) == [("bob", "member", "synced"), ("erin", "member", "synced")]

    def test_it_restores_a_terminated_allocation_and_retries_a_failed_creation(self) -> None:
        """carol restores `back` (terminated, its account gone) and `stuck` failed to be created (Erred, not
        Terminated): after alice's approval the agent takes the Restore order as a Create (it re-creates the
        account under the same backend id), and carol's `set_state_executing` hands it `stuck` again."""
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        back = terminate_now(self.existing_resource("back", "efp_back", storage=7), self.carol)
        self.state_file.write_text(json.dumps({}))  # the account went with the termination
        restore = order_services.restore_resource(resource=back, user=self.carol)
        restore = order_services.approve_order_by_consumer(order=restore, user=self.alice)
        stuck = make_order(self.alice, self.project, self.offering, name="stuck", limits={"storage": 3})
        stuck = order_services.approve_order_by_provider(order=stuck, user=self.carol)
        stuck = order_services.fail_order(order=stuck, user=self.carol, error_message="sacctmgr timed out")
        assert Resource.objects.get(pk=stuck.resource_id).state == "Erred"
        order_services.set_order_executing(order=stuck, user=self.carol)
        assert (restore.type, restore.state) == ("Restore", "pending-provider")

        self.agent.cycle("order_process")

        assert Order.objects.get(pk=restore.pk).state == "done"
        back.refresh_from_db()
        assert (back.state, back.backend_id) == ("OK", "efp_back")
        assert self.accounts()["efp_back"]["limits"] == {"storage": 7}
        assert Order.objects.get(pk=stuck.pk).state == "done"
        assert Resource.objects.get(pk=stuck.resource_id).state == "OK"


class ScopedTokenSiteAgentTests(SiteAgentTests):
    """The same stories, with a token limited to offering O: everything the agent does is in its scope."""

    def agent_token(self) -> str:
        return issue_token(user=self.oscar, name="site agent", offering=self.offering)[1]
