"""Waldur's site agent 1.0.7 with its SLURM plugin, in `event_process` mode, on the SLURM emulator: an order
pushed over STOMP becomes a SLURM account with the ordered limit (issue 19, point 7). The story is
test_site_agent_stomp's; only the backend differs (see test_site_agent_slurm for the emulator)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from efp.marketplace.models import Resource
from efp.marketplace.tests import test_site_agent_stomp as pushed
from efp.marketplace.tests.site_agent.story import BW
from efp.marketplace.tests.test_site_agent_slurm import BACKEND_SETTINGS, BIN, COMPONENTS, emulator_env


class SlurmSiteAgentStompTests(pushed.SiteAgentStompTests):
    components = {"cpu": (BW.LIMIT, "CPU-hours"), "gres/gpu": (BW.USAGE, "GPU-hours")}

    def backend_env(self) -> dict[str, str]:
        return emulator_env(self.tmp)

    def backend(self) -> dict[str, Any]:
        return {
            "backend_type": "slurm",
            "order_processing_backend": "slurm",
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
