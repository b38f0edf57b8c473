"""Reports over a range of months: the usage coverage matrix (provider) and the usage report with its chart
(provider and consumer), each with a CSV of the same rows. The figures come from the read models
`marketplace/coverage.py` and `marketplace/usage_reports.py`; what a user sees, from the selectors."""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from efp.marketplace import coverage, usage_reports
from efp.marketplace.billing_months import month_key
from efp.marketplace.models import Offering, Resource
from efp.marketplace.selectors import consumer_resources, workspace_resources
from efp.marketplace.usage_history import MonthPoint
from efp.structure.models import Customer
from efp.web import charts
from efp.web.access import provider_workspace
from efp.web.forms import CoverageFilterForm, MonthSpanForm, UsageReportForm
from efp.web.sorting import Column, Sorting
from efp.web.views.common import paginate, render_consumer, render_workspace


def _offerings(resources: QuerySet[Resource]) -> list[Offering]:
    """The offerings of the resources a user may see: one probe of an offering's resources each."""
    offerings = Offering.objects.filter(Exists(resources.filter(offering_id=OuterRef("pk"))))
    return list(offerings.order_by("name", "pk"))


def _choices(resources: QuerySet[Resource]) -> dict[str, list[tuple[str, str]]]:
    """The offerings and organisations of the resources a user may see (two queries)."""
    customers = Customer.objects.filter(pk__in=resources.values("project__customer_id"))
    customers = customers.order_by("name", "pk")
    return {
        "offering": [(o.uuid.hex, o.name) for o in _offerings(resources)],
        "organisation": [(c.uuid.hex, c.name) for c in customers],
    }


def _scoped(resources: QuerySet[Resource], form: MonthSpanForm) -> QuerySet[Resource]:
    data = form.cleaned_data
    if data.get("offering"):
        resources = resources.filter(offering__uuid=data["offering"])
    if data.get("organisation"):
        resources = resources.filter(project__customer__uuid=data["organisation"])
    return resources


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _span_name(months: list[datetime.date]) -> str:
    return f"{month_key(months[0])}_{month_key(months[-1])}" if months else "none"


# --- usage coverage -------------------------------------------------------------------------------

# Sorted, filtered and paged in SQL (`coverage.py`'s window columns); the page's rows read their months.
COVERAGE_COLUMNS = {
    "resource": Column("Resource", ("name", "offering__name")),
    # The stored names (`Resource.sort_names`): the page walks the index `resource_coverage_order`, no join.
    "organisation": Column("Organisation / project", ("sort_customer_name", "sort_project_name", "name")),
}


class _Counted:
    """The matrix's rows for the pager, a deferred join: a page's keys are taken in the sort's order from
    the resources with only the joins the order needs, and only the rows taken are then read with theirs
    (the page of 25 at 100k: the sort carries keys and names, not every live row's values). The count is
    that of the resources, without the joins."""

    ordered = True

    def __init__(self, resources: QuerySet[Resource], sorting: Sorting) -> None:
        self.resources, self.sorting = resources, sorting

    def count(self) -> int:
        return self.resources.count()

    def __getitem__(self, key: slice) -> Any:
        taken = self.sorting.order(self.resources).values("pk")[key]
        return coverage.row_values(self.sorting.order(Resource.objects.filter(pk__in=taken)))


@provider_workspace
def coverage_matrix(request: HttpRequest) -> HttpResponse:
    """Resources by months: each cell reported, missing or not due, in words as well as colour."""
    offerings = _offerings(workspace_resources(request.user))
    # The same resources, by their offerings' keys: the planner reads the live-window index of each.
    visible = workspace_resources(request.user).filter(offering_id__in=[o.pk for o in offerings])
    form = CoverageFilterForm(request.GET, choices={"offering": [(o.uuid.hex, o.name) for o in offerings]})
    sorting = Sorting(request, "coverage", COVERAGE_COLUMNS, "organisation")
    months: list[datetime.date] = []
    live = resources = visible.none()
    whole: list[int] | None = None  # the offerings whose every resource the matrix shows, if so
    if form.is_valid() and form.cleaned_data["months"]:
        months = form.cleaned_data["months"]
        live = resources = _scoped(visible, form).filter(coverage.live_in_any(months))
        if not form.cleaned_data.get("organisation"):
            chosen = form.cleaned_data.get("offering")
            whole = [o.pk for o in offerings if not chosen or o.uuid.hex == chosen]
        if form.cleaned_data.get("only_missing"):
            resources = coverage.with_missing(live, months)
    if request.GET.get("format") == "csv":
        ordered = coverage.row_values(sorting.order(resources))
        rows = coverage.rows(ordered, months, reported_of=resources.values("pk"))
        return _csv(
            f"usage-coverage-{_span_name(months)}.csv",
            ["resource_uuid", "resource_name", "offering_name", "customer_name", "project_name"]
            + [month_key(m) for m in months],
            [
                [row.uuid, row.name, row.offering_name, row.customer_name, row.project_name]
                + [row.months[m] for m in months]
                for row in rows
            ],
        )
    page = paginate(request, _Counted(resources, sorting))
    return render_workspace(
        request,
        "web/provider/coverage.html",
        {
            "form": form,
            "months": months,
            "page": page,
            "rows": [_matrix_row(row, months) for row in coverage.rows(page.object_list, months)],
            # The rows left out have none missing; without an organisation, the rows are whole offerings.
            "missing": coverage.missing_count(live, months)
            if whole is None
            else coverage.offerings_missing_count(whole, months),
            "labels": coverage.LABELS,
            "sorting": sorting,
        },
        section="coverage",
    )


def _matrix_row(row: coverage.CoverageRow, months: list[datetime.date]) -> dict[str, Any]:
    usage_url = reverse("web:resource-usage", args=[row.uuid])
    return {
        "row": row,
        "usage_url": usage_url,
        "resource_url": reverse("web:resource", args=[row.uuid]),
        "cells": [
            {"month": month, "state": row.months[month], "label": coverage.LABELS[row.months[month]]}
            for month in months
        ],
    }


# --- usage report ---------------------------------------------------------------------------------

REPORT_COLUMNS = {
    "organisation": Column("Organisation", ()),
    "project": Column("Project", ()),
    "offering": Column("Offering", ()),
    "component": Column("Component", ()),
    "month": Column("Month", ()),
    "usage": Column("Usage", ()),
    "cost": Column("Cost", ()),
}


def _report_key(*first: str) -> Any:
    """A row's sort key: the chosen fields, then the report's own order to break ties."""
    rest = ("customer_name", "project_name", "offering_name", "component_name", "month")
    return lambda row: tuple(getattr(row, name) for name in (*first, *rest))


REPORT_KEYS = {
    "organisation": _report_key(),
    "project": _report_key("project_name"),
    "offering": _report_key("offering_name"),
    "component": _report_key("component_name"),
    "month": _report_key("month"),
    "usage": _report_key("usage"),
    "cost": _report_key("cost"),
}


def _usage_report(
    request: HttpRequest, resources: QuerySet[Resource], *, template: str, route: str
) -> tuple[str, dict[str, Any]] | HttpResponse:
    form = UsageReportForm(request.GET, choices=_choices(resources))
    rows: list[usage_reports.ReportRow] = []
    months: list[datetime.date] = []
    if form.is_valid():
        months = form.cleaned_data["months"]
        rows = usage_reports.report(_scoped(resources, form), months)
    if request.GET.get("format") == "csv":
        return _csv(
            f"usage-report-{_span_name(months)}.csv",
            usage_reports.CSV_HEADER,
            [[row.as_wire()[key] for key in usage_reports.CSV_HEADER] for row in rows],
        )
    cost = {month: Decimal(0) for month in months}
    for row in rows:
        cost[row.month] += row.cost
    chart = (
        charts.bar_charts(
            [MonthPoint(month, value) for month, value in cost.items()],
            limit=None,
            unit="cost",
            title="Cost per month at the plans' prices",
            chart_id="report-cost",
        )
        if months
        else []
    )
    sorting = Sorting(request, route, REPORT_COLUMNS, "organisation")
    page = paginate(request, sorting.sort_rows(rows, REPORT_KEYS))
    return template, {
        "sorting": sorting,
        "form": form,
        "months": months,
        "page": page,
        "rows": page.object_list,
        "chart": chart,
        "cost_by_month": list(cost.items()),
        "by_organisation": usage_reports.totals(rows, lambda r: r.customer_name),
        "by_project": usage_reports.totals(rows, lambda r: f"{r.customer_name} / {r.project_name}"),
        "total": sum((row.cost for row in rows), Decimal(0)),
        "form_url": reverse(route),
    }


@provider_workspace
def provider_usage_report(request: HttpRequest) -> HttpResponse:
    answer = _usage_report(
        request,
        workspace_resources(request.user),
        template="web/provider/usage_report.html",
        route="web:usage-report",
    )
    if isinstance(answer, HttpResponse):
        return answer
    return render_workspace(request, answer[0], answer[1], section="usage-report")


@login_required
def my_usage_report(request: HttpRequest) -> HttpResponse:
    answer = _usage_report(
        request,
        consumer_resources(request.user),
        template="web/consumer/usage_report.html",
        route="web:my-usage-report",
    )
    if isinstance(answer, HttpResponse):
        return answer
    return render_consumer(request, answer[0], answer[1], section="usage-report")
