"""Waldur's site agent 1.0.7 with its SLURM plugin, in `event_process` mode, on the SLURM emulator: an order
pushed over STOMP becomes a SLURM account with the ordered limit, and pushed role changes add a person's
login to it and take it away (issue 19, point 7). The order story is test_site_agent_stomp's; only the
backend differs (see test_site_agent_slurm for the emulator)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from efp.marketplace.models import Order, Resource
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests import test_site_agent_stomp as pushed
from efp.marketplace.tests.factories import make_order, make_user
from efp.marketplace.tests.site_agent.story import BW
from efp.marketplace.tests.test_site_agent_slurm import BACKEND_SETTINGS, BIN, COMPONENTS, emulator_env
from efp.structure.roles import Role
from efp.structure.services import add_user_role, delete_user_role


class SlurmSiteAgentStompTests(pushed.SiteAgentStompTests):
    components = {"cpu": (BW.LIMIT, "CPU-hours"), "gres/gpu": (BW.USAGE, "GPU-hours")}

    def backend_env(self) -> dict[str, str]:
        return emulator_env(self.tmp)

    def backend(self) -> dict[str, Any]:
        return {
            "backend_type": "slurm",
            "order_processing_backend": "slurm",
            "membership_sync_backend": "slurm",  # the agent then asks for user_role messages too
            "backend_settings": dict(BACKEND_SETTINGS),
            "backend_components": COMPONENTS,
        }

    def sacctmgr(self, *args: str) -> list[list[str]]:
        done = subprocess.run(
            [str(BIN / "sacctmgr"), "--parsable2", "--noheader", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.backend_env()},
            timeout=60,
            check=True,
        )
        return [line.split("|") for line in done.stdout.splitlines() if "|" in line]

    def ordered_limits(self) -> dict[str, int]:
        return {"cpu": 10}

    def nothing_provisioned(self) -> bool:
        return not any(row[0].startswith("a_") for row in self.sacctmgr("list", "account"))

    def assert_provisioned(self, resource: Resource) -> None:
        """The SLURM account of the allocation, under its project, with 10 CPU-hours as TRES-minutes."""
        assert resource.backend_id == f"a_{resource.slug}"
        rows = self.sacctmgr(
            "show", "association", "format=account,GrpTRESMins", "where", f"accounts={resource.backend_id}"
        )
        assert [row[1] for row in rows if row[0] == resource.backend_id][:1] == ["cpu=600"], rows

    def users_of(self, account: str) -> set[str]:
        rows = self.sacctmgr("show", "association", "format=account,user", "where", f"accounts={account}")
        return {row[1] for row in rows if row[0] == account and row[1]}

    def test_it_adds_and_removes_a_member_from_pushed_role_changes(self) -> None:
        """alice's allocation is made from a pushed order with her team's logins; frank, who has the login
        frank_hpc at the offering, joins project A1 and gets an association, then leaves and loses it."""
        self.wait_for("the agent to listen on its queue", self.listening)
        order = make_order(self.alice, self.project, self.offering, name="team", limits=self.ordered_limits())
        self.settle(
            "the allocation to be made",
            lambda: (
                Order.objects.get(pk=order.pk).state == "done"
                and Resource.objects.get(pk=order.resource_id).state == "OK"
            ),
        )
        account = Resource.objects.get(pk=order.resource_id).backend_id
        self.wait_for("the team's logins", lambda: self.users_of(account) == {"bob_hpc", "erin_hpc"})

        frank = make_user("frank")
        create_offering_user(actor=None, offering=self.offering, user=frank, username="frank_hpc")
        add_user_role(scope=self.project, user=frank, role=Role.PROJECT_MEMBER, actor=self.alice)
        self.settle("frank's association", lambda: "frank_hpc" in self.users_of(account))
        assert self.users_of(account) == {"bob_hpc", "erin_hpc", "frank_hpc"}

        delete_user_role(scope=self.project, user=frank, role=Role.PROJECT_MEMBER, actor=self.alice)
        self.settle("frank's association to go", lambda: "frank_hpc" not in self.users_of(account))
        assert self.users_of(account) == {"bob_hpc", "erin_hpc"}
        assert Resource.objects.get(pk=order.resource_id).state == "OK"
        handled = [line for line in self.agent_log().splitlines() if "user role changed event" in line]
        assert [("granted: True" in line, "granted: False" in line) for line in handled] == [
            (True, False),
            (False, True),
        ], self.agent_log()
