"""What a site agent sends, as waldur-site-agent 1.0.7 sends it: shared by `make capacity`'s load
(bench/capacity_locustfile.py, bench/capacity.py), bench/agent_cpu.py and the agent requests' query-count
tests. Nothing here imports gevent or locust."""

from __future__ import annotations

import datetime
from typing import Any

POLL_AGENT = "waldur-site-agent-order_process/1.0.7"
REPORT_AGENT = "waldur-site-agent-report/1.0.7"
RESOURCE_FIELDS = "&".join(
    f"field={f}"
    for f in (
        "uuid", "backend_id", "name", "slug", "state", "project_uuid", "project_slug", "customer_slug",
        "limits", "backend_metadata", "attributes", "offering_plugin_options", "offering_backend_id",
    )
)  # fmt: skip
USERS = [f"cluster-user-{n:02d}" for n in range(20)]


def reportable_usages(offering: Any, period: datetime.date) -> list[list[str]]:
    """[resource uuid, its cpu usage record's uuid] (hex) of the offering's OK resources with a record for
    the month `period`, in resource order: what an agent reports on. Django must be set up."""
    from efp.marketplace.models import ComponentUsage
    from efp.marketplace.states import ResourceState

    rows = (
        ComponentUsage.objects.filter(
            resource__offering=offering,
            resource__state=ResourceState.OK,
            billing_period=period,
            component__type="cpu",
        )
        .order_by("resource_id")
        .values_list("resource__uuid", "uuid")
    )
    return [[r.hex, u.hex] for r, u in rows]
