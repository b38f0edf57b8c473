"""Show usage (chart, table, per-user table, CSV) and Report usage for one resource of the provider."""

from __future__ import annotations

import csv
import datetime
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from efp.errors import DomainError, Forbidden, InvalidInput
from efp.marketplace import billing_months, metering
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    OfferingComponent,
    Resource,
    UsageRevision,
)
from efp.marketplace.selectors import provider_resources
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.structure.models import ProjectRole
from efp.structure.roles import Permission
from efp.web import charts
from efp.web.access import ProviderGrants, provider_workspace
from efp.web.forms import ReportUsageForm, user_grid_rows
from efp.web.views.common import error_text, get_by_uuid, render_workspace, safe_next, today
from efp.web.views.resources import report_usage_refusal

RANGES = {"6": 6, "12": 12, "24": 24, "all": None}
DEFAULT_RANGE = "12"


def _resource(request: HttpRequest, uuid: str) -> Resource:
    qs = provider_resources(request.user).select_related("offering__customer", "project__customer", "plan")
    return get_by_uuid(qs, uuid)


def _month_range(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    months, month = [], start
    while month <= end:
        months.append(month)
        month = billing_months.add_months(month, 1)
    return months


def monthly_points(
    resource: Resource, component: OfferingComponent, months: list[datetime.date]
) -> list[charts.MonthPoint]:
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
        charts.MonthPoint(
            month=m,
            value=values.get(m),
            description="; ".join(descriptions.get(m, [])),
            top_users=users.get(m, [])[:3],
        )
        for m in months
    ]


@provider_workspace
def show_usage(request: HttpRequest, uuid: str) -> HttpResponse:
    resource = _resource(request, uuid)
    context = usage_context(request, resource, csv_view="web:resource-usage-csv")
    if context["components"]:
        grants = ProviderGrants(request.user, [Permission.RESOURCE_SET_USAGE])
        context["report_refusal"] = report_usage_refusal(
            resource, True, grants.allows(Permission.RESOURCE_SET_USAGE, resource.offering)
        )
        context["show_report"] = True
    return render_workspace(request, "web/provider/usage.html", context, section="resources")


def usage_context(request: HttpRequest, resource: Resource, *, csv_view: str) -> dict[str, Any]:
    """Chart, table and per-user table of one component (`?component=`, `?months=`, `?month=`): the
    provider's and the consumer's Show usage read the same."""
    day = today()
    current = billing_months.first_day(day)
    components = metering.metered_components([resource.offering_id]).get(resource.offering_id, [])
    context: dict[str, Any] = {"resource": resource, "components": components}
    if not components:
        return context
    chosen = next((c for c in components if c.type == request.GET.get("component")), components[0])
    span = request.GET.get("months", DEFAULT_RANGE)
    if span not in RANGES:
        span = DEFAULT_RANGE
    count = RANGES[span]
    if count is None:
        first = (
            ComponentUsage.objects.filter(resource=resource, component=chosen)
            .order_by("billing_period")
            .values_list("billing_period", flat=True)
            .first()
        )
        created = billing_months.first_day(resource.created.date())
        start = min(first or created, created)
    else:
        start = billing_months.add_months(current, -(count - 1))
    months = _month_range(start, current)
    points = monthly_points(resource, chosen, months)
    statuses = {s.type: s for s in metering.summarise([resource], today=day)[resource.pk]}
    status = statuses[chosen.type]
    limit = status.limit

    reported_months = [p.month for p in points if p.value is not None]
    user_month = billing_months.parse_month(request.GET.get("month")) or (
        reported_months[-1] if reported_months else current
    )
    user_rows: list[dict[str, Any]] = [
        dict(row)
        for row in ComponentUserUsage.objects.filter(
            component_usage__resource=resource,
            component_usage__component=chosen,
            component_usage__billing_period=user_month,
        )
        .values("username")
        .annotate(total=Sum("usage"))
        .order_by("-total", "username")
    ]
    month_total = sum(
        ComponentUsage.objects.filter(
            resource=resource, component=chosen, billing_period=user_month
        ).values_list("usage", flat=True),
        Decimal(0),
    )
    users_sum = sum((r["total"] for r in user_rows), Decimal(0))
    for row in user_rows:
        row["share"] = int(row["total"] * 100 / month_total) if month_total else None
    table = [
        {
            "point": p,
            "percent": int(p.value * 100 / limit) if p.value is not None and limit else None,
            "over": limit is not None and p.value is not None and p.value > limit,
        }
        for p in reversed(points)
    ]
    context.update(
        {
            "chosen": chosen,
            "status": status,
            "span": span,
            "spans": [("6", "6 months"), ("12", "12 months"), ("24", "24 months"), ("all", "All")],
            # The same chart twice; CSS shows the narrow one on a phone.
            "charts": [
                charts.bar_chart(
                    points,
                    limit=limit,
                    unit=chosen.measured_unit,
                    title=f"{chosen.name} usage of {resource.name} per month",
                    chart_id=f"chart-{chosen.type}{suffix}",
                    narrow=narrow,
                )
                for suffix, narrow in (("", False), ("-narrow", True))
            ],
            "table": table,
            "user_month": user_month,
            "user_month_choices": list(reversed(months)),
            "user_rows": user_rows,
            "users_sum": users_sum,
            "month_total": month_total,
            "csv_url": reverse(csv_view, args=[resource.uuid.hex]) + "?" + urlencode({"months": span}),
        }
    )
    return context


@provider_workspace
def usage_csv(request: HttpRequest, uuid: str) -> HttpResponse:
    return csv_response(request, _resource(request, uuid))


def csv_response(request: HttpRequest, resource: Resource) -> HttpResponse:
    """Monthly totals and per-user values of every component; blank username = the month's total."""
    current = billing_months.first_day(today())
    span = request.GET.get("months", DEFAULT_RANGE)
    count = RANGES.get(span, 12)
    usages = ComponentUsage.objects.filter(resource=resource).select_related("component")
    if count is not None:
        usages = usages.filter(billing_period__gte=billing_months.add_months(current, -(count - 1)))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"usage-{resource.slug or resource.uuid.hex}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(["month", "component", "component_name", "unit", "username", "usage", "description"])
    user_usages = ComponentUserUsage.objects.filter(component_usage__in=usages.values("pk")).order_by(
        "component_usage_id", "username"
    )
    by_parent: dict[int, list[ComponentUserUsage]] = defaultdict(list)
    for row in user_usages:
        by_parent[row.component_usage_id].append(row)
    for usage in usages.order_by("billing_period", "component__pk", "pk"):
        c = usage.component
        base = [usage.billing_period.strftime("%Y-%m"), c.type, c.name, c.measured_unit]
        writer.writerow([*base, "", usage.usage, usage.description])
        for row in by_parent.get(usage.pk, []):
            writer.writerow([*base, row.username, row.usage, row.description])
    return response


class _Rollback(Exception):
    """Leaves the atomic block of a report whose per-user part failed: nothing is written."""


def _map_errors(
    form: ReportUsageForm, error: InvalidInput, fields: list[tuple[str, str]], fallback: str
) -> None:
    """Puts a service's errors beside the fields they concern; `fields[i]` = (field for amount-ish keys,
    field for name-ish keys) of the i-th submitted item."""
    data = error.as_data()
    if isinstance(data, list):
        form.add_error(None, " ".join(str(m) for m in data))
        return
    for key, messages_ in data.items():
        if key == "usages" and isinstance(messages_, list) and all(isinstance(m, dict) for m in messages_):
            for i, item_errors in enumerate(messages_):
                for item_key, item_messages in (item_errors or {}).items():
                    value_field, name_field = fields[i] if i < len(fields) else (fallback, fallback)
                    target = {
                        "username": name_field,
                        "description": value_field.replace("amount_", "description_"),
                    }.get(item_key, value_field)
                    if target not in form.fields:
                        target = None  # type: ignore[assignment]
                    for message in item_messages:
                        form.add_error(target, message)
        elif key == "date":
            for message in messages_:
                form.add_error("month", message)
        else:
            texts = messages_ if isinstance(messages_, list) else [messages_]
            for message in texts:
                form.add_error(None, str(message))


def _stored_values(resource: Resource, months: list[datetime.date]) -> dict[str, dict[str, str]]:
    """{component type: {"YYYY-MM": stored amount}} for the months of the selector."""
    stored: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in ComponentUsage.objects.filter(resource=resource, billing_period__in=months).values(
        "component__type", "billing_period", "usage"
    ):
        stored[row["component__type"]][row["billing_period"].strftime("%Y-%m")] += row["usage"]
    return {t: {m: str(v) for m, v in values.items()} for t, values in stored.items()}


@provider_workspace
def report_usage(request: HttpRequest, uuid: str) -> HttpResponse:
    resource = _resource(request, uuid)
    components = metering.metered_components([resource.offering_id]).get(resource.offering_id, [])
    months = usage_services.reportable_months(user=request.user, resource=resource)
    refusal = report_usage_refusal(resource, bool(components), bool(months))
    back = safe_next(request, reverse("web:resources"))
    context: dict[str, Any] = {"resource": resource, "refusal": refusal, "back": back}
    if refusal:
        status = 403 if not months and components and resource.plan_id else 409
        return render_workspace(
            request, "web/provider/report.html", context, section="resources", status=status
        )

    status_by_type = {
        s.type: s for s in metering.summarise([resource], today=today(), with_last_report=False)[resource.pk]
    }
    stored = _stored_values(resource, months)
    users_month = billing_months.parse_month(request.POST.get("month")) or months[0]
    stored_users = _stored_user_values(resource, months)
    backfill_types = [
        c.name for c in components if c.billing_type in usage_services.PROVIDER_BACKFILL_BILLING_TYPES
    ]
    status = 200
    most_stored = max((len(u) for by_month in stored_users.values() for u in by_month.values()), default=0)
    user_rows = user_grid_rows(request.POST if request.method == "POST" else None, most_stored)
    if request.method == "POST":
        form = ReportUsageForm(request.POST, components=components, months=months, user_rows=user_rows)
        if form.is_valid():
            result = _submit(request, form, resource, components, months)
            if isinstance(result, HttpResponse):
                return result
            status = result
        else:
            status = 400
    else:
        form = ReportUsageForm(components=components, months=months, user_rows=user_rows)
    selected = form["month"].value() or months[0].strftime("%Y-%m")
    rows = form.rows()
    for row in rows:
        c = row["component"]
        row["status"] = status_by_type.get(c.type)
        row["stored_now"] = stored.get(c.type, {}).get(selected)
        by_month = stored_users.get(c.type, {})
        row["stored_users"] = by_month.get(users_month.strftime("%Y-%m"), [])
        row["stored_json"] = json.dumps(stored.get(c.type, {}))
        # The running total adds what users left out of the grid keep, so it matches what will be stored.
        row["stored_users_json"] = json.dumps(
            {month: {name: str(value) for name, value in users} for month, users in by_month.items()}
        )
    context.update(
        {
            "form": form,
            "rows": rows,
            "backfill_types": backfill_types,
            "is_staff": request.user.is_staff,
            "usernames": _project_usernames(resource),
            "users_month": users_month,
        }
    )
    return render_workspace(request, "web/provider/report.html", context, section="resources", status=status)


def _stored_user_values(
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
        month = row["component_usage__billing_period"].strftime("%Y-%m")
        result[row["component_usage__component__type"]][month].append((row["username"], row["total"]))
    return result


def _project_usernames(resource: Resource) -> list[str]:
    return sorted(
        set(ProjectRole.objects.filter(project=resource.project).values_list("user__username", flat=True))
    )


def _submit(
    request: HttpRequest,
    form: ReportUsageForm,
    resource: Resource,
    components: list[OfferingComponent],
    months: list[datetime.date],
) -> HttpResponse | int:
    """Writes the totals and the per-user values in one transaction; returns a redirect or an error status."""
    data = form.cleaned_data
    month = form.month_value()
    date = None if month == months[0] else billing_months.month_start(month)
    reported = [c for c in components if data.get(f"amount_{c.type}") is not None]
    items = [
        UsageItem(
            type=c.type,
            amount=data[f"amount_{c.type}"],
            description=(data.get(f"description_{c.type}") or "").strip(),
        )
        for c in reported
    ]
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:255]
    try:
        with transaction.atomic():
            try:
                written = usage_services.set_usage(
                    user=request.user,
                    resource=resource,
                    usages=items,
                    date=date,
                    source=UsageRevision.Source.GUI,
                    user_agent=user_agent,
                )
            except InvalidInput as error:
                _map_errors(
                    form, error, [(f"amount_{c.type}", f"amount_{c.type}") for c in reported], "month"
                )
                raise _Rollback from error
            for component, usage in zip(reported, written, strict=True):
                users = data.get(f"users_{component.type}") or []
                if not users:
                    continue
                try:
                    user_usage_services.set_user_usages(
                        user=request.user,
                        component_usage=usage,
                        items=[UserUsageItem(username=name, usage=amount) for _, name, amount in users],
                        source=UsageRevision.Source.GUI,
                        user_agent=user_agent,
                    )
                except InvalidInput as error:
                    fields = [
                        (f"user_{component.type}_{i}_usage", f"user_{component.type}_{i}_name")
                        for i, _, _ in users
                    ]
                    _map_errors(form, error, fields, f"amount_{component.type}")
                    raise _Rollback from error
    except _Rollback:
        return 400
    except Forbidden as error:
        form.add_error(None, str(error))
        return 403
    except DomainError as error:
        form.add_error(None, error_text(error))
        return 409
    summary = "; ".join(
        f"{c.name} {charts.amount(i.amount)} {c.measured_unit}".strip()
        for c, i in zip(reported, items, strict=True)
    )
    messages.success(request, f"Usage of {resource.name} for {month:%B %Y} reported: {summary}.")
    url = (
        reverse("web:resource-usage", args=[resource.uuid.hex])
        + "?"
        + urlencode({"component": reported[0].type, "month": month.strftime("%Y-%m")})
    )
    return redirect(url)
