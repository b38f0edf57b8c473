"""The provider dashboard: tiles that each open a pre-filtered list, and a usage sparkline per component."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from efp.marketplace import billing_months, coverage, metering
from efp.marketplace.forecasts import FLAGS
from efp.marketplace.selectors import (
    oldest_waiting_order,
    usage_flag_counts,
    workspace_count,
    workspace_month_totals,
    workspace_offerings,
    workspace_resources,
)
from efp.marketplace.states import OrderState, ResourceState
from efp.web import charts
from efp.web.access import provider_workspace
from efp.web.sorting import Column, Sorting
from efp.web.templatetags.web import age
from efp.web.views.common import render_workspace, today
from efp.web.views.resources import filter_resources


def _url(name: str, **params: Any) -> str:
    return reverse(name) + ("?" + urlencode(params, doseq=True) if params else "")


# The usage summary's rows are computed (sums per component), so they sort in Python.
SPARK_COLUMNS = {
    "offering": Column("Offering", ()),
    "component": Column("Component", ()),
    "last_month": Column("Last month", ()),
    "this_month": Column("This month", ()),
}
SPARK_KEYS = {
    "offering": lambda s: (s["offering"], s["name"]),
    "component": lambda s: (s["name"], s["offering"]),
    "last_month": lambda s: s["last_month"],
    "this_month": lambda s: s["this_month"],
}


@provider_workspace
def dashboard(request: HttpRequest) -> HttpResponse:
    user, day, now = request.user, today(), timezone.now()
    resources = workspace_resources(user)
    oldest = oldest_waiting_order(user, OrderState.PENDING_PROVIDER)
    last_month = billing_months.add_months(billing_months.first_day(day), -1)
    alive = resources.exclude(state=ResourceState.TERMINATED)
    high = filter_resources(resources, {"min_percent": metering.HIGH_PERCENT}, day).count()
    # The workspace holds every resource of its offerings: their maintained counts serve.
    offerings = list(workspace_offerings(user).values_list("pk", flat=True))
    missing = coverage.offerings_missing_count(offerings, [last_month])
    ending = filter_resources(resources, {"ending_within": 30}, day).count()
    tiles = [
        {
            "title": "Orders pending my approval",
            "count": workspace_count(user, "order", OrderState.PENDING_PROVIDER),
            "note": f"oldest waiting {age(oldest, now)}" if oldest else "none waiting",
            "url": _url("web:orders"),
        },
        {
            "title": "Active resources",
            "count": workspace_count(user, "resource", ResourceState.OK),
            "note": "state OK",
            "url": _url("web:resources", state=ResourceState.OK.value),
        },
        {
            "title": "Erred resources",
            "count": workspace_count(user, "resource", ResourceState.ERRED),
            "note": "need attention",
            "url": _url("web:resources", state=ResourceState.ERRED.value),
        },
        {
            "title": f"At or above {metering.HIGH_PERCENT} % of a limit",
            "count": high,
            "note": "usage against limits",
            "url": _url("web:resources", min_percent=metering.HIGH_PERCENT),
        },
        {
            "title": "Missing usage reports last month",
            "count": missing,
            "note": f"{last_month:%B %Y}: usage due, none reported",
            "url": _url(
                "web:coverage",
                **{"from": billing_months.month_key(last_month), "to": billing_months.month_key(last_month)},
                only_missing="on",
            ),
        },
        {
            "title": "Ending within 30 days",
            "count": ending,
            "note": f"end date by {day + datetime.timedelta(days=30):%Y-%m-%d}",
            "url": _url("web:resources", ending_within=30),
        },
    ]
    flagged = usage_flag_counts(alive)
    tiles += [
        {
            "title": flag.label,
            "count": flagged[flag.name],
            "note": flag.description,
            "url": _url("web:resources", usage_flag=flag.name),
        }
        for flag in FLAGS
    ]
    sorting = Sorting(request, "dashboard-usage", SPARK_COLUMNS, "offering")
    return render_workspace(
        request,
        "web/provider/dashboard.html",
        {
            "tiles": tiles,
            "sparklines": sorting.sort_rows(_sparklines(user, day), SPARK_KEYS),
            "sorting": sorting,
        },
        section="dashboard",
    )


def _sparklines(user: Any, day: datetime.date) -> list[dict[str, Any]]:
    """12 months of summed usage per offering component across the provider's resources: one query on the
    maintained totals (`ComponentMonthTotal`), whatever the number of resources."""
    current = billing_months.first_day(day)
    months = [billing_months.add_months(current, -i) for i in range(11, -1, -1)]
    sums: dict[tuple[str, str, str, str], dict[datetime.date, Decimal]] = defaultdict(dict)
    rows = (
        workspace_month_totals(user)
        .filter(billing_period__gte=months[0], rows__gt=0)
        .values(
            "component__offering__name",
            "component__type",
            "component__name",
            "component__measured_unit",
            "billing_period",
            total=F("usage"),
        )
        .order_by("component__offering__name", "component__type", "billing_period")
    )
    for row in rows:
        key = (
            row["component__offering__name"],
            row["component__type"],
            row["component__name"],
            row["component__measured_unit"],
        )
        cells = sums[key]  # two components may share offering name, type, name and unit: one line, summed
        cells[row["billing_period"]] = cells.get(row["billing_period"], Decimal(0)) + row["total"]
    result = []
    for (offering, _type, name, unit), by_month in sums.items():
        values = [by_month.get(m) for m in months]
        label = (
            f"{offering}, {name}: monthly usage over 12 months, last month "
            + charts.amount(values[-2])
            + f" {unit}"
        )
        result.append(
            {
                "offering": offering,
                "name": name,
                "unit": unit,
                "this_month": values[-1],
                "last_month": values[-2],
                "svg": charts.sparkline(values, label=label),
            }
        )
    return result
