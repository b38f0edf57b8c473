"""Waldur's site agent, run one cycle at a time on command.

    python -m efp.marketplace.tests.site_agent.run_cycle -c agent.yaml

reads a mode per line on stdin (`order_process`, `report` or `membership_sync`; `quit` ends), runs one
cycle of the agent in that mode and prints `@@cycle <mode> <errors>` when done. `usage ID[,ID...]` prints
`@@cycle usage 0 <json>`: what the reporting backend reports for those accounts this month.

The agent's own `start()` loops forever (one cycle, then sleep); this calls the one-cycle function that
loop calls, `_process_offerings`. Importing the agent and its SDK costs seconds of CPU, so one process
serves every cycle of a test.

The configuration is read by the agent's own code (`-c`, as `waldur_site_agent -c`). The agent logs and
swallows every error, so the reply counts what was logged at ERROR or above. A retry would sleep 5 s up to
10 times; here it fails at once instead, so a broken endpoint can neither slow a test down nor pass after
a lucky retry.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from waldur_site_agent.common import processors, utils
from waldur_site_agent.polling_processing import agent_membership_sync, agent_order_process, agent_report

from efp.marketplace.tests.site_agent.harness import DONE

CYCLES = {
    "order_process": agent_order_process._process_offerings,
    "report": agent_report._process_offerings,
    "membership_sync": agent_membership_sync._process_offerings,
}


class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def refuse_to_wait(seconds: float) -> None:
    raise RuntimeError(f"the agent wanted to wait {seconds} s and retry")


def backend_usage(configuration: Any, backend_ids: list[str]) -> dict[str, Any]:
    offering = configuration.waldur_offerings[0]
    backend, _ = utils.get_backend_for_offering(offering, "reporting_backend")
    backend.timezone = configuration.timezone
    report: dict[str, Any] = backend._get_usage_report(backend_ids)
    return report


def main() -> int:
    configuration = utils.init_configuration()
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    processors.sleep = refuse_to_wait  # type: ignore[assignment]
    utils.log_versions(configuration)
    for line in sys.stdin:
        mode, _, argument = line.strip().partition(" ")
        if mode == "quit":
            break
        if mode == "usage":
            print(
                f"{DONE} usage 0 {json.dumps(backend_usage(configuration, argument.split(',')))}", flush=True
            )
            continue
        # What `waldur_site_agent -m MODE` sets up.
        configuration.waldur_site_agent_mode = mode
        configuration.waldur_user_agent = (
            f"waldur-site-agent-{mode}/{configuration.waldur_site_agent_version}"
        )
        errors.count = 0
        CYCLES[mode](configuration, {})
        print(f"{DONE} {mode} {errors.count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
