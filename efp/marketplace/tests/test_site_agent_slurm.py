"""Waldur's site agent with its SLURM plugin (waldur-site-agent-slurm 1.0.7) against the SLURM emulator
(slurm-emulator 0.9.10), whose `sacctmgr` and `sacct` commands sit next to our Python interpreter.

The emulator keeps its database in the JSON files SLURM_EMULATOR_STATE_FILE and SLURM_EMULATOR_TIME_FILE,
here in a temporary directory, and follows the wall clock (SLURM_EMULATOR_TIME_FOLLOW_WALL), so `sacct`
for "this month" sees the usage the test injects now. The plugin runs the commands found in
`backend_settings.slurm_bin_path`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from efp.accounts.services import issue_token
from efp.marketplace import demo
from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import (
    AgentProcessor,
    ComponentUsage,
    ComponentUserUsage,
    OfferingUser,
    Order,
    Resource,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.partitions import add_partition
from efp.marketplace.tests.factories import make_order
from efp.marketplace.tests.site_agent import harness
from efp.marketplace.tests.site_agent.story import BW, AgentStory
from efp.structure.roles import Role
from efp.structure.services import delete_user_role

BIN = Path(sys.executable).parent
# SLURM counts TRES-minutes; unit_factor 60 turns them into hours on our side.
COMPONENTS: dict[str, dict[str, Any]] = {
    "cpu": {"measured_unit": "CPU-hours", "accounting_type": "limit", "label": "CPU", "unit_factor": 60},
    "gres/gpu": {"measured_unit": "GPU-hours", "accounting_type": "usage", "label": "GPU", "unit_factor": 60},
}
INJECT = """
import datetime, sys
from emulator.core.database import SlurmDatabase
from emulator.core.time_engine import TimeEngine
from emulator.core.usage_simulator import UsageSimulator

database = SlurmDatabase()
database.load_state()
simulator = UsageSimulator(TimeEngine(), database)
now = datetime.datetime.now()
for spec in sys.argv[1:]:
    account, user, hours = spec.split(":")
    simulator.inject_usage(account, user, float(hours), at_time=now)
"""


# The SLURM plugin's settings for the emulator's commands: accounts c_<organisation>, p_<project>, a_<slug>.
BACKEND_SETTINGS: dict[str, Any] = {
    "default_account": "root",
    "customer_prefix": "c_",
    "project_prefix": "p_",
    "allocation_prefix": "a_",
    "slurm_bin_path": str(BIN),
    "enable_user_homedir_account_creation": False,
}


def emulator_env(folder: Path) -> dict[str, str]:
    """The emulator's database in `folder`, following the wall clock."""
    return {
        "SLURM_EMULATOR_STATE_FILE": str(folder / "slurm.json"),
        "SLURM_EMULATOR_TIME_FILE": str(folder / "slurm_time.json"),
        "SLURM_EMULATOR_TIME_FOLLOW_WALL": "1",
    }


class SlurmSiteAgentTests(AgentStory):
    components = {"cpu": (BW.LIMIT, "CPU-hours"), "gres/gpu": (BW.USAGE, "GPU-hours")}

    def setUp(self) -> None:
        super().setUp()
        self.emulator_env = emulator_env(self.tmp)
        self.backend_settings = dict(BACKEND_SETTINGS)
        config = harness.write_config(
            self.tmp / "agent.yaml",
            api_url=f"{self.live_server_url}/api/",
            token=issue_token(user=self.oscar, name="test")[1],
            offering_uuid=self.offering.uuid.hex,
            backend="slurm",
            backend_settings=self.backend_settings,
            backend_components=COMPONENTS,
        )
        self.agent = harness.Agent(config, env=self.emulator_env)
        self.addCleanup(self.agent.close)

    # --- the emulated cluster ---------------------------------------------------------------------------

    def slurm(self, command: str, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / command), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.emulator_env},
            timeout=60,
            check=True,
        )
        return result.stdout

    def sacctmgr(self, *args: str) -> list[list[str]]:
        output = self.slurm("sacctmgr", "--parsable2", "--noheader", *args)
        return [line.split("|") for line in output.splitlines() if "|" in line]

    def account_names(self) -> set[str]:
        return {row[0] for row in self.sacctmgr("list", "account")}

    def cpu_limit_minutes(self, account: str) -> str:
        rows = self.sacctmgr(
            "show", "association", "format=account,GrpTRESMins", "where", f"accounts={account}"
        )
        return next(row[1] for row in rows if row[0] == account)

    def users_of(self, account: str) -> set[str]:
        rows = self.sacctmgr("show", "association", "format=account,user", "where", f"accounts={account}")
        return {row[1] for row in rows if row[0] == account and row[1]}

    def existing_resource(self, name: str, cpu_hours: int) -> Resource:
        """An OK resource whose account the cluster already has, with its limit set."""
        account = f"a_{name}"
        self.slurm("sacctmgr", "--immediate", "add", "account", account, f"description={name}", "parent=root")
        self.slurm(
            "sacctmgr",
            "--immediate",
            "modify",
            "account",
            account,
            "set",
            f"GrpTRESMins=cpu={cpu_hours * 60}",
        )
        return self.ok_resource(name, {"cpu": cpu_hours}, account)

    def inject_usage(self, *specs: str) -> None:
        """account:user:node-hours jobs that end now."""
        subprocess.run(
            [sys.executable, "-c", INJECT, *specs],
            capture_output=True,
            env={**os.environ, **self.emulator_env},
            timeout=60,
            check=True,
        )

    # --- the story ---------------------------------------------------------------------------------------

    def test_it_runs_slurm_accounts_from_orders_and_reports_their_usage(self) -> None:
        kept = self.existing_resource("kept", cpu_hours=20)
        doomed = self.existing_resource("doomed", cpu_hours=5)
        create = make_order(self.alice, self.project, self.offering, name="fresh", limits={"cpu": 10})
        update = order_services.update_resource_limits(resource=kept, user=self.alice, limits={"cpu": 50})
        terminate = order_services.terminate_resource(resource=doomed, user=self.alice)
        orders = (create, update, terminate)

        self.agent.cycle("order_process")

        assert [Order.objects.get(pk=o.pk).state for o in orders] == ["done"] * 3
        fresh = Resource.objects.get(pk=create.resource_id)
        assert (fresh.state, fresh.backend_id, fresh.limits) == ("OK", f"a_{fresh.slug}", {"cpu": 10})
        kept.refresh_from_db()
        doomed.refresh_from_db()
        assert (kept.state, kept.limits) == ("OK", {"cpu": 50})
        assert (doomed.state, doomed.backend_id) == ("Terminated", "a_doomed")
        accounts = self.account_names()
        assert {fresh.backend_id, "a_kept", f"p_{self.project.slug}", f"c_{self.org_a.slug}"} <= accounts
        assert "a_doomed" not in accounts
        assert self.cpu_limit_minutes(fresh.backend_id) == "cpu=600"
        assert self.cpu_limit_minutes("a_kept") == "cpu=3000"
        assert self.users_of(fresh.backend_id) == {"bob_hpc", "erin_hpc"}
        assert AgentProcessor.objects.get().backend_type == "waldur_site_agent_slurm.backend.SlurmBackend"

        self.inject_usage(
            f"{fresh.backend_id}:bob_hpc:0.5",
            f"{fresh.backend_id}:erin_hpc:0.25",
            "a_kept:bob_hpc:0.75",
        )
        months = {billing_period_of(timezone.now())}
        self.agent.cycle("report")
        months.add(billing_period_of(timezone.now()))
        reported = self.agent.backend_usage([fresh.backend_id, "a_kept"])

        for resource in (fresh, kept):
            report = reported[resource.backend_id]
            usages = ComponentUsage.objects.filter(resource=resource)
            assert {u.component.type: u.usage for u in usages} == {
                component: _cents(amount) for component, amount in report.pop("TOTAL_ACCOUNT_USAGE").items()
            }
            assert {u.billing_period for u in usages} <= months
            per_user = ComponentUserUsage.objects.filter(component_usage__resource=resource)
            assert {(u.component_usage.component.type, u.username, u.user_id, u.usage) for u in per_user} == {
                (
                    component,
                    username,
                    {"bob_hpc": self.bob.pk, "erin_hpc": self.erin.pk}[username],
                    _cents(amount),
                )
                for username, amounts in report.items()
                for component, amount in amounts.items()
            }
        # Not a vacuous comparison: the emulator counted the jobs (64 cores each), bob's twice erin's.
        fresh_cpu = {
            u.username: u.usage
            for u in ComponentUserUsage.objects.filter(
                component_usage__resource=fresh, component_usage__component__type="cpu"
            )
        }
        assert fresh_cpu["bob_hpc"] > 0
        assert fresh_cpu["bob_hpc"] == 2 * fresh_cpu["erin_hpc"]

        before = self.usage_snapshot()
        self.agent.cycle("report")
        assert self.usage_snapshot() == before

    def test_it_scopes_associations_to_the_offerings_partitions_when_the_site_asks(self) -> None:
        """The provider declares Aurora's partitions on the offering (issue 19, point 3); a site that runs the
        plugin with `enforce_offering_partitions` gets one association per user and partition."""
        for name in ("gpu", "cpu"):
            add_partition(user=self.oscar, offering=self.offering, partition_name=name)
        config = harness.write_config(
            self.tmp / "partitions.yaml",
            api_url=f"{self.live_server_url}/api/",
            token=issue_token(user=self.oscar, name="test")[1],
            offering_uuid=self.offering.uuid.hex,
            backend="slurm",
            backend_settings={**self.backend_settings, "enforce_offering_partitions": True},
            backend_components=COMPONENTS,
        )
        agent = harness.Agent(config, env=self.emulator_env)
        self.addCleanup(agent.close)
        create = make_order(self.alice, self.project, self.offering, name="scoped", limits={"cpu": 10})

        agent.cycle("order_process")

        resource = Resource.objects.get(pk=create.resource_id)
        assert (resource.state, Order.objects.get(pk=create.pk).state) == ("OK", "done")
        rows = self.sacctmgr(
            "show", "association", "format=account,user,partition", "where", f"accounts={resource.backend_id}"
        )
        scoped = {(row[1], row[2]) for row in rows if row[0] == resource.backend_id and row[1]}
        assert scoped == {(user, part) for user in ("bob_hpc", "erin_hpc") for part in ("cpu", "gpu")}

    def test_it_syncs_memberships_without_harming_an_allocation(self) -> None:
        """A membership sync changes only what the team asks for: every state, limit and association stays,
        a member who left loses the association, an account name nobody on the team has is removed."""
        create = make_order(self.alice, self.project, self.offering, name="fresh", limits={"cpu": 10})
        self.agent.cycle("order_process")
        fresh = Resource.objects.get(pk=create.resource_id)
        kept = self.existing_resource("kept", cpu_hours=20)
        self.slurm("sacctmgr", "--immediate", "add", "user", "bob_hpc", "account=a_kept")
        self.slurm("sacctmgr", "--immediate", "add", "user", "erin_hpc", "account=a_kept")
        accounts = (fresh.backend_id, "a_kept")
        before = self.allocations(fresh, kept), {a: self.users_of(a) for a in accounts}
        assert before[1] == {fresh.backend_id: {"bob_hpc", "erin_hpc"}, "a_kept": {"bob_hpc", "erin_hpc"}}

        self.agent.cycle("membership_sync")

        assert (self.allocations(fresh, kept), {a: self.users_of(a) for a in accounts}) == before
        synced = Resource.objects.filter(pk__in=(fresh.pk, kept.pk), last_sync__isnull=False)
        assert synced.count() == 2
        assert self.cpu_limit_minutes("a_kept") == "cpu=1200"

        # erin leaves the project; somebody added mallory by hand to the kept account.
        delete_user_role(scope=self.project, user=self.erin, role=Role.PROJECT_ADMIN, actor=self.alice)
        self.slurm("sacctmgr", "--immediate", "add", "user", "mallory", "account=a_kept")
        self.agent.cycle("membership_sync")

        after = {a: self.users_of(a) for a in accounts}
        assert after == {fresh.backend_id: {"bob_hpc"}, "a_kept": {"bob_hpc"}}
        assert self.allocations(fresh, kept) == before[0]

    def test_it_syncs_the_demos_memberships_and_changes_nothing(self) -> None:
        """The demo's Aurora allocations, each an account holding its team's Aurora logins: a membership sync
        run by the demo's offering manager leaves every resource and every association as it was."""
        world = demo.build()
        aurora = world["offering"]
        live = Resource.objects.filter(offering=aurora, state__in=("OK", "Erred")).exclude(backend_id="")
        for resource in live.select_related("project__customer"):
            # The hierarchy the plugin builds: organisation, project, allocation.
            project, customer = f"p_{resource.project.slug}", f"c_{resource.project.customer.slug}"
            allocation = resource.backend_id
            for account, parent in ((customer, "root"), (project, customer), (allocation, project)):
                if account not in self.account_names():
                    self.slurm("sacctmgr", "--immediate", "add", "account", account, f"parent={parent}")
            in_project = {"user__project_roles__project": resource.project_id}
            team = OfferingUser.objects.filter(offering=aurora, **in_project)
            for username in team.values_list("username", flat=True):
                self.slurm("sacctmgr", "--immediate", "add", "user", username, f"account={allocation}")
        accounts = sorted(live.values_list("backend_id", flat=True))
        associations = {account: self.users_of(account) for account in accounts}
        assert len(accounts) >= 5 and any(associations.values()), associations
        fields = ("pk", "state", "limits", "backend_id", "end_date", "plan")
        everything = list(Resource.objects.order_by("pk").values_list(*fields))
        config = harness.write_config(
            self.tmp / "demo.yaml",
            api_url=f"{self.live_server_url}/api/",
            token=issue_token(user=world["users"]["manager"], name="test")[1],
            offering_uuid=aurora.uuid.hex,
            backend="slurm",
            backend_settings=self.backend_settings,
            backend_components=COMPONENTS,
        )
        agent = harness.Agent(config, env=self.emulator_env)
        self.addCleanup(agent.close)

        agent.cycle("membership_sync")

        assert {account: self.users_of(account) for account in accounts} == associations
        assert list(Resource.objects.order_by("pk").values_list(*fields)) == everything
        assert live.filter(last_sync__isnull=False).count() == len(accounts)

    def allocations(self, *resources: Resource) -> list[tuple[str, str, dict[str, Any], str]]:
        rows = Resource.objects.filter(pk__in=[r.pk for r in resources]).order_by("pk")
        return [(r.name, r.state, r.limits, r.backend_id) for r in rows]


def _cents(amount: float) -> Decimal:
    return Decimal(f"{round(amount, 2):.2f}")
