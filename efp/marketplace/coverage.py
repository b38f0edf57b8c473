"""Usage coverage: for each resource and month, was usage reported, is it missing, or was none due?

The one rule for "missing usage reports", read by the API (`/api/marketplace-usage-coverage/`), the GUI
matrix, the provider dashboard and the resources list's "No usage reported for month" filter.

A month is **due** when all of these hold:
- the offering has a usage-billed component (`billing_type="usage"`); limit-billed ones are not reported
  monthly;
- the resource was live in the month: created before the month ended and not terminated (its last move
  to Terminated, if it is Terminated now) before the month began, nor terminated for the whole month and
  restored later (between its first move to Terminated and its last move out of it, a restore); a resource
  that never reached OK (still Creating, or failed) was never live. The start is `created`, not the move
  to OK: the same start the dashboard's and the notifications' "created before" always used, and the one
  the demo data can set;
- the month has closed: the current month is not due until it ends (a provider reports it up to its last
  day), and future months never are.

A due month is **reported** when a component usage of one of those usage components exists for it (any
value, zero included), else **missing**. Every other month is **not_due**.

Two queries whatever the number of resources: the resources with their live window, and the months
reported for them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from efp.marketplace.billing_months import add_months, current_month, month_key, month_start
from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource, ResourceEvent
from efp.marketplace.states import ResourceState

REPORTED, MISSING, NOT_DUE = "reported", "missing", "not_due"
STATES = (REPORTED, MISSING, NOT_DUE)
LABELS = {REPORTED: "Reported", MISSING: "Missing", NOT_DUE: "Not due"}

USAGE = OfferingComponent.BillingType.USAGE


@dataclass
class CoverageRow:
    """One resource over a range of months (`months` keyed by the month's first day, oldest first)."""

    resource_id: int
    uuid: str
    name: str
    project_name: str
    customer_name: str
    offering_name: str
    live_from: datetime.datetime | None
    live_until: datetime.datetime | None
    metered: bool
    gap_from: datetime.datetime | None = None  # a restored resource: terminated from ...
    gap_until: datetime.datetime | None = None  # ... until restored

    months: dict[datetime.date, str] = field(default_factory=dict)

    def live_in(self, month: datetime.date) -> bool:
        if self.live_from is None or self.live_from >= month_start(add_months(month, 1)):
            return False
        if self.live_until is not None and self.live_until < month_start(month):
            return False
        in_gap = (
            self.gap_from is not None
            and self.gap_until is not None
            and self.gap_from <= month_start(month)
            and month_start(add_months(month, 1)) <= self.gap_until
        )
        return not in_gap

    def due_in(self, month: datetime.date, current: datetime.date) -> bool:
        return self.metered and month < current and self.live_in(month)

    @property
    def missing(self) -> int:
        return sum(1 for state in self.months.values() if state == MISSING)

    def as_wire(self) -> dict[str, Any]:
        return {
            "resource_uuid": self.uuid,
            "resource_name": self.name,
            "project_name": self.project_name,
            "customer_name": self.customer_name,
            "offering_name": self.offering_name,
            "months": {month_key(month): state for month, state in self.months.items()},
        }


def _windows(resources: QuerySet[Resource]) -> Any:
    """Each resource's live window: from `created` if it was ever activated (moved to OK; a row without
    any event, bulk-loaded, counts unless still Creating), until its last move to Terminated if it is
    Terminated now (without that event: `modified`); and for a restored one, the gap from its first move to
    Terminated to its last move out of Terminated."""
    events = ResourceEvent.objects.filter(resource_id=OuterRef("pk"))
    activated = Exists(events.filter(new_state=ResourceState.OK)) | (
        ~Exists(events) & ~Q(state=ResourceState.CREATING)
    )
    terminated = events.filter(new_state=ResourceState.TERMINATED).values("created")
    restored = events.filter(old_state=ResourceState.TERMINATED).order_by("-created", "-pk").values("created")
    usage_components = OfferingComponent.objects.filter(
        offering_id=OuterRef("offering_id"), billing_type=USAGE
    )
    return resources.annotate(
        live_from=Case(When(activated, then=F("created"))),
        live_until=Case(
            When(
                state=ResourceState.TERMINATED,
                then=Coalesce(Subquery(terminated.order_by("-created", "-pk")[:1]), F("modified")),
            )
        ),
        # Only a resource once terminated can have been restored: one probe of the index for the others.
        gap_until=Case(When(Exists(terminated), then=Subquery(restored[:1]))),
        gap_from=Case(
            When(Q(gap_until__isnull=False), then=Subquery(terminated.order_by("created", "pk")[:1]))
        ),
        metered=Exists(usage_components.filter(billing_type=USAGE)),
    )


def coverage(
    resources: QuerySet[Resource], months: list[datetime.date], *, only_live: bool = True
) -> list[CoverageRow]:
    """The coverage of `resources` over `months` (oldest first), ordered by organisation, project and
    resource name. `only_live`: leave out resources live in none of the months."""
    if not months:
        return []
    current = current_month()
    rows = [
        CoverageRow(
            resource_id=values["pk"],
            uuid=values["uuid"].hex,
            name=values["name"],
            project_name=values["project__name"],
            customer_name=values["project__customer__name"],
            offering_name=values["offering__name"],
            live_from=values["live_from"],
            live_until=values["live_until"],
            metered=values["metered"],
            gap_from=values["gap_from"],
            gap_until=values["gap_until"],
        )
        for values in _windows(resources)
        .order_by("project__customer__name", "project__name", "name", "pk")
        .values(
            "pk",
            "uuid",
            "name",
            "project__name",
            "project__customer__name",
            "offering__name",
            "live_from",
            "live_until",
            "metered",
            "gap_from",
            "gap_until",
        )
    ]
    if only_live:
        rows = [row for row in rows if any(row.live_in(month) for month in months)]
    reported = set(
        ComponentUsage.objects.filter(
            resource_id__in=resources.values("pk"),
            component__billing_type=USAGE,
            billing_period__gte=months[0],
            billing_period__lte=months[-1],
        )
        .order_by()
        .values_list("resource_id", "billing_period")
        .distinct()
    )
    for row in rows:
        for month in months:
            if not row.due_in(month, current):
                row.months[month] = NOT_DUE
            elif (row.resource_id, month) in reported:
                row.months[month] = REPORTED
            else:
                row.months[month] = MISSING
    return rows


def missing_in(resources: QuerySet[Resource], month: datetime.date) -> list[int]:
    """The keys of the resources whose report for `month` is missing."""
    return [row.resource_id for row in coverage(resources, [month]) if row.months[month] == MISSING]
