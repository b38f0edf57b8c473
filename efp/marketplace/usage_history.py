"""The usage history of one resource, as the GUI's Show usage and Report usage pages read it.

A selector-layer read model beside `metering` (usage against limits): the web views ask it and render
what it returns; nothing here writes. Months are named by their first day (`billing_months`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from efp.marketplace.billing_months import month_key
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    OfferingComponent,
    Resource,
    UsageRevision,
)
from efp.structure.models import ProjectRole


@dataclass
class MonthPoint:
    month: datetime.date
    value: Decimal | None  # None: nothing reported for the month
    description: str = ""
    top_users: list[tuple[str, Decimal]] = field(default_factory=list)
    users_total: Decimal | None = None  # the sum of the month's per-user rows; None: it has none

    @property
    def users_exceed(self) -> bool:
        """The users add up to more than the month's total (the page flags it)."""
        return self.users_total is not None and self.users_total > (self.value or 0)


def monthly_points(
    resource: Resource, component: OfferingComponent, months: list[datetime.date]
) -> list[MonthPoint]:
    """One point per month: the summed usage (over plan periods) or None, the description, the top users."""
    values: dict[datetime.date, Decimal] = defaultdict(Decimal)
    descriptions: dict[datetime.date, list[str]] = defaultdict(list)
    for row in ComponentUsage.objects.filter(
        resource=resource, component=component, billing_period__in=months
    ).values("billing_period", "usage", "description"):
        values[row["billing_period"]] += row["usage"]
        if row["description"]:
            descriptions[row["billing_period"]].append(row["description"])
    users: dict[datetime.date, list[tuple[str, Decimal]]] = defaultdict(list)
    for share in (
        ComponentUserUsage.objects.filter(
            component_usage__resource=resource,
            component_usage__component=component,
            component_usage__billing_period__in=months,
        )
        .values("component_usage__billing_period", "username")
        .annotate(total=Sum("usage"))
        .order_by("-total", "username")
    ):
        users[share["component_usage__billing_period"]].append((share["username"], share["total"]))
    return [
        MonthPoint(
            month=m,
            value=values.get(m),
            description="; ".join(descriptions.get(m, [])),
            top_users=users.get(m, [])[:3],
            users_total=sum((t for _, t in users[m]), Decimal(0)) if users.get(m) else None,
        )
        for m in months
    ]


def first_reported_month(resource: Resource, component: OfferingComponent) -> datetime.date | None:
    return (
        ComponentUsage.objects.filter(resource=resource, component=component)
        .order_by("billing_period")
        .values_list("billing_period", flat=True)
        .first()
    )


def month_users(
    resource: Resource, component: OfferingComponent, month: datetime.date
) -> tuple[list[dict[str, Any]], Decimal]:
    """The month's per-user totals (largest first, with their share of the month) and the month's total."""
    user_rows: list[dict[str, Any]] = [
        dict(row)
        for row in ComponentUserUsage.objects.filter(
            component_usage__resource=resource,
            component_usage__component=component,
            component_usage__billing_period=month,
        )
        .values("username")
        .annotate(total=Sum("usage"))
        .order_by("-total", "username")
    ]
    records = ComponentUsage.objects.filter(resource=resource, component=component, billing_period=month)
    month_total = sum(records.values_list("usage", flat=True), Decimal(0))
    users_sum = sum((row["total"] for row in user_rows), Decimal(0))
    for row in user_rows:
        # No share when the users add up to more than the total: the page flags the month instead.
        fits = month_total and users_sum <= month_total
        row["share"] = int(row["total"] * 100 / month_total) if fits else None
    return user_rows, month_total


def corrections(resource: Resource, limit: int = 50) -> list[UsageRevision]:
    """The resource's corrections (newest first), with the record's component and who corrected it."""
    return list(
        UsageRevision.objects.filter(
            component_usage__resource=resource, verb=UsageRevision.Verb.CORRECT, username=""
        )
        .select_related("actor", "component_usage__component")
        .order_by("-created", "-pk")[:limit]
    )


def stored_values(resource: Resource, months: list[datetime.date]) -> dict[str, dict[str, str]]:
    """{component type: {"YYYY-MM": stored amount}} for the months of the selector."""
    stored: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in ComponentUsage.objects.filter(resource=resource, billing_period__in=months).values(
        "component__type", "billing_period", "usage"
    ):
        stored[row["component__type"]][month_key(row["billing_period"])] += row["usage"]
    return {t: {m: str(v) for m, v in values.items()} for t, values in stored.items()}


def stored_user_values(
    resource: Resource, months: list[datetime.date]
) -> dict[str, dict[str, list[tuple[str, Decimal]]]]:
    """{component type: {"YYYY-MM": [(username, amount)]}} stored for the months of the selector."""
    result: dict[str, dict[str, list[tuple[str, Decimal]]]] = defaultdict(lambda: defaultdict(list))
    for row in (
        ComponentUserUsage.objects.filter(
            component_usage__resource=resource, component_usage__billing_period__in=months
        )
        .values("component_usage__component__type", "component_usage__billing_period", "username")
        .annotate(total=Sum("usage"))
        .order_by("component_usage__component__type", "-total", "username")
    ):
        month = month_key(row["component_usage__billing_period"])
        result[row["component_usage__component__type"]][month].append((row["username"], row["total"]))
    return result


def project_usernames(resource: Resource) -> list[str]:
    return sorted(
        set(ProjectRole.objects.filter(project=resource.project).values_list("user__username", flat=True))
    )


def usage_export(
    resource: Resource, since: datetime.date | None
) -> tuple[QuerySet[ComponentUsage], dict[int, list[ComponentUserUsage]]]:
    """The resource's records from month `since` on (all when None), oldest first, with their per-user
    rows by record."""
    usages = ComponentUsage.objects.filter(resource=resource).select_related("component")
    if since is not None:
        usages = usages.filter(billing_period__gte=since)
    user_usages = ComponentUserUsage.objects.filter(component_usage__in=usages.values("pk")).order_by(
        "component_usage_id", "username"
    )
    by_parent: dict[int, list[ComponentUserUsage]] = defaultdict(list)
    for row in user_usages:
        by_parent[row.component_usage_id].append(row)
    return usages.order_by("billing_period", "component__pk", "pk"), by_parent
