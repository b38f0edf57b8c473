"""Show usage (chart, table, per-user table, CSV) and Report usage for one resource of the provider."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from efp.errors import DomainError, Forbidden, InvalidInput
from efp.marketplace import billing_months, metering, usage_history
from efp.marketplace.models import (
    OfferingComponent,
    Resource,
    ResourceForecast,
    UsageRevision,
)
from efp.marketplace.selectors import with_awaiting_approval, workspace_resources
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.corrections import MAX_REASON, MSG_REASON, report_corrections
from efp.marketplace.services.usage import UsageItem, UserUsageItem, report_usage_refusal
from efp.marketplace.services.user_usage import (
    MonthReportItem,
    UsersExceedTotal,
    UserUsagesInvalid,
    report_month_usage,
)
from efp.structure.roles import Permission
from efp.web import charts
from efp.web.access import ProviderGrants, provider_workspace
from efp.web.sorting import Column, Sorting
from efp.web.usage_forms import ReportUsageForm, user_grid_rows
from efp.web.views.common import error_text, get_by_uuid, render_workspace, safe_next, today
from efp.web.views.timeline import timeline

RANGES = {"6": 6, "12": 12, "24": 24, "all": None}
# The newest corrections shown (`usage_history.corrections`), sorted in Python by the chosen header.
CORRECTION_COLUMNS = {
    "month": Column("Month", ()),
    "component": Column("Component", ()),
    "who": Column("Who", ()),
    "when": Column("When", ()),
}
USER_KEYS = {"user": lambda r: r["username"], "amount": lambda r: (r["total"], r["username"])}
CORRECTION_KEYS = {
    "month": lambda r: (r.component_usage.billing_period, r.created, r.pk),
    "component": lambda r: (r.component_usage.component.name, r.created, r.pk),
    "who": lambda r: (r.actor.username if r.actor else "", r.created, r.pk),
    "when": lambda r: (r.created, r.pk),
}
DEFAULT_RANGE = "12"


def _resource(request: HttpRequest, uuid: str) -> Resource:
    qs = with_awaiting_approval(workspace_resources(request.user)).select_related(
        "offering__customer", "project__customer", "plan"
    )
    return get_by_uuid(qs, uuid)


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
        context["correct_url"] = reverse("web:resource-correct", args=[resource.uuid.hex])
        context["policy_url"] = reverse("web:offering-corrections", args=[resource.offering.uuid.hex])
    context["events"] = timeline(request.user, resource_id=resource.pk)
    return render_workspace(request, "web/provider/usage.html", context, section="resources")


def usage_context(request: HttpRequest, resource: Resource, *, csv_view: str) -> dict[str, Any]:
    """Chart, table and per-user table of one component (`?component=`, `?months=`, `?month=`): the
    provider's and the consumer's Show usage read the same."""
    day = today()
    current = billing_months.first_day(day)
    components = metering.metered_components([resource.offering_id]).get(resource.offering_id, [])
    sorting = Sorting(request, "corrections", CORRECTION_COLUMNS, "-when")
    context: dict[str, Any] = {
        "resource": resource,
        "components": components,
        "corrections": sorting.sort_rows(usage_history.corrections(resource), CORRECTION_KEYS),
        "corrections_sorting": sorting,
    }
    if not components:
        return context
    chosen = next((c for c in components if c.type == request.GET.get("component")), components[0])
    span = request.GET.get("months", DEFAULT_RANGE)
    if span not in RANGES:
        span = DEFAULT_RANGE
    count = RANGES[span]
    if count is None:
        first = usage_history.first_reported_month(resource, chosen)
        created = billing_months.first_day(resource.created.date())
        start = min(first or created, created)
    else:
        start = billing_months.add_months(current, -(count - 1))
    months = billing_months.month_range(start, current)
    points = usage_history.monthly_points(resource, chosen, months)
    statuses = {s.type: s for s in metering.summarise([resource], today=day)[resource.pk]}
    try:
        forecast: ResourceForecast | None = resource.forecast  # cached for the badges
    except ResourceForecast.DoesNotExist:
        forecast = None
    status = statuses[chosen.type]
    limit = status.limit

    reported_months = [p.month for p in points if p.value is not None]
    user_month = billing_months.parse_month(request.GET.get("month")) or (
        reported_months[-1] if reported_months else current
    )
    user_rows, month_total = usage_history.month_users(resource, chosen, user_month)
    users_sum = sum((r["total"] for r in user_rows), Decimal(0))
    # The page shows two sortable lists: the corrections sort with `?o=`, the users with `?users=`.
    unit = chosen.measured_unit or "units"
    columns = {"user": Column("User", ()), "amount": Column(f"Amount ({unit})", ())}
    users_sorting = Sorting(request, "usage-users", columns, "user", param="users")
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
            "charts": charts.bar_charts(
                points,
                limit=limit,
                unit=chosen.measured_unit,
                title=f"{chosen.name} usage of {resource.name} per month",
                chart_id=f"chart-{chosen.type}",
            ),
            "table": table,
            "user_month": user_month,
            "user_month_choices": list(reversed(months)),
            "user_rows": users_sorting.sort_rows(user_rows, USER_KEYS),
            "users_sorting": users_sorting,
            "users_sum": users_sum,
            "month_total": month_total,
            "users_exceed": bool(user_rows) and users_sum > month_total,
            "csv_url": reverse(csv_view, args=[resource.uuid.hex]) + "?" + urlencode({"months": span}),
            "limit_forecast": (forecast.components if forecast is not None else {}).get(chosen.type),
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
    since = None if count is None else billing_months.add_months(current, -(count - 1))
    usages, by_parent = usage_history.usage_export(resource, since)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"usage-{resource.slug or resource.uuid.hex}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(["month", "component", "component_name", "unit", "username", "usage", "description"])
    for usage in usages:
        c = usage.component
        base = [billing_months.month_key(usage.billing_period), c.type, c.name, c.measured_unit]
        writer.writerow([*base, "", usage.usage, usage.description])
        for row in by_parent.get(usage.pk, []):
            writer.writerow([*base, row.username, row.usage, row.description])
    return response


DIGITS = usage_services.MAX_INTEGER_DIGITS
# The service's sentences (the API's, DRF's words) as Report usage says them, beside the field concerned.
GUI_WORDS = {
    "A valid number is required.": "Enter a number, for example 12.5.",
    "Ensure this value is greater than or equal to 0.": "Enter 0 or more: usage cannot be negative.",
    "Ensure that there are no more than 2 decimal places.": "Use at most 2 decimals, for example 12.25.",
    f"Ensure that there are no more than {DIGITS} digits before the decimal point.": (
        f"Enter at most {DIGITS} digits before the decimal point."
    ),
    "Ensure this field has no more than 100 characters.": "Use at most 100 characters.",
    "Ensure this field has no more than 1000 characters.": "Use at most 1,000 characters.",
    f"Ensure this field has no more than {MAX_REASON} characters.": f"Use at most {MAX_REASON:,} characters.",
    usage_services.MSG_FUTURE: "Choose the current month or an earlier one.",
    usage_services.MSG_PROVIDER_BACKFILL: (
        "For a closed month only limit-based and prepaid components are reported; the others are corrected,"
        " with a reason."
    ),
    usage_services.MSG_BACKFILL_ROLE: "Only staff and the provider may report a closed month.",
    usage_services.MSG_INVALID_STATE: "The resource no longer takes usage reports in its present state.",
    usage_services.MSG_NO_PLAN: "The resource has no plan, so usage cannot be reported.",
    Forbidden.DEFAULT: "Your role does not let you report usage of this resource.",
    MSG_REASON: (
        "Give a reason: a value for a closed month corrects it, and both sides of the allocation read why."
    ),
}
# The one date error said beside the month; the others concern the components or the user (above the form).
DATE_KEYS = {usage_services.MSG_FUTURE}


def gui_words(message: object) -> str:
    return GUI_WORDS.get(str(message), str(message))


def _map_errors(
    form: ReportUsageForm, error: InvalidInput, fields: list[tuple[str, str]], fallback: str
) -> None:
    """Puts a service's errors beside the fields they concern; `fields[i]` = (field for amount-ish keys,
    field for name-ish keys) of the i-th submitted item."""
    data = error.as_data()
    if isinstance(data, list):
        form.add_error(None, " ".join(gui_words(m) for m in data))
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
                        form.add_error(target, gui_words(message))
        elif key == "date":
            for message in messages_:
                form.add_error("month" if message in DATE_KEYS else None, gui_words(message))
        elif key in ("reason", "users"):
            for message in messages_:
                form.add_error(key, gui_words(message))
        else:
            texts = messages_ if isinstance(messages_, list) else [messages_]
            for message in texts:
                form.add_error(None, gui_words(message))


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

    # Per component, the closed months whose value is a correction: refused ones disable the component.
    corrections = report_corrections(
        user=request.user, resource=resource, components=components, months=months
    )
    refused = {
        c.type: {
            billing_months.month_key(month): f"{c.name} cannot be reported for {month:%B %Y}: {r.message}"
            for month, r in corrections.get(c.type, {}).items()
            if r is not None
        }
        for c in components
    }
    # The write first: a successful report redirects without reading the page's data.
    status = 200
    if request.method == "POST":
        form = ReportUsageForm(
            request.POST,
            components=components,
            months=months,
            user_rows=user_grid_rows(request.POST, 0),
            refused=refused,
        )
        if form.is_valid():
            result = _submit(request, form, resource, components)
            if isinstance(result, HttpResponse):
                return result
            status = result
        else:
            status = 400
    stored = usage_history.stored_values(resource, months)
    stored_users = usage_history.stored_user_values(resource, months)
    if request.method != "POST":
        most_stored = max(
            (len(u) for by_month in stored_users.values() for u in by_month.values()), default=0
        )
        chosen = billing_months.parse_month(request.GET.get("month"))
        form = ReportUsageForm(
            components=components,
            months=months,
            user_rows=user_grid_rows(None, most_stored),
            refused=refused,
            initial={"month": billing_months.month_key(chosen)} if chosen in months else None,
        )
    status_by_type = {
        s.type: s for s in metering.summarise([resource], today=today(), with_last_report=False)[resource.pk]
    }
    users_month = billing_months.parse_month(request.POST.get("month")) or months[0]
    backfill_types = [
        c.name for c in components if c.billing_type in usage_services.PROVIDER_BACKFILL_BILLING_TYPES
    ]
    selected = form["month"].value() or billing_months.month_key(months[0])
    rows = form.rows()
    for row in rows:
        c = row["component"]
        row["status"] = status_by_type.get(c.type)
        row["stored_now"] = stored.get(c.type, {}).get(selected)
        by_month = stored_users.get(c.type, {})
        row["stored_users"] = by_month.get(billing_months.month_key(users_month), [])
        row["stored_json"] = json.dumps(stored.get(c.type, {}))
        row["refused_json"] = json.dumps(refused.get(c.type, {}))
        row["corrected_json"] = json.dumps(
            [billing_months.month_key(m) for m, r in corrections.get(c.type, {}).items() if r is None]
        )
        row["corrected"] = any(
            billing_months.month_key(m) == selected and r is None
            for m, r in corrections.get(c.type, {}).items()
        )
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
            "usernames": usage_history.project_usernames(resource),
            "users_month": users_month,
        }
    )
    return render_workspace(request, "web/provider/report.html", context, section="resources", status=status)


def _submit(
    request: HttpRequest,
    form: ReportUsageForm,
    resource: Resource,
    components: list[OfferingComponent],
) -> HttpResponse | int:
    """Reports the totals and the per-user values (one service verb); a redirect or an error status."""
    data = form.cleaned_data
    month = form.month_value()
    reported = [c for c in components if data.get(f"amount_{c.type}") is not None]
    items = [
        MonthReportItem(
            usage=UsageItem(
                type=c.type,
                amount=data[f"amount_{c.type}"],
                description=(data.get(f"description_{c.type}") or "").strip(),
            ),
            users=[
                UserUsageItem(username=name, usage=amount)
                for _, name, amount in data.get(f"users_{c.type}") or []
            ],
        )
        for c in reported
    ]
    try:
        report_month_usage(
            user=request.user,
            resource=resource,
            month=month,
            items=items,
            source=UsageRevision.Source.GUI,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
            users=data.get("users") or None,
            reason=data.get("reason") or "",
        )
    except UsersExceedTotal as error:
        names = {c.type: c.name for c in components}
        for kind, (users_total, total) in error.exceeding.items():
            form.add_error(
                "users",
                f"{names.get(kind, kind)}: users {charts.amount(users_total)}, total {charts.amount(total)}."
                " Keep, clear or replace the users' rows, and give a reason.",
            )
        return 400
    except UserUsagesInvalid as error:
        users = data.get(f"users_{error.component_type}") or []
        fields = [
            (f"user_{error.component_type}_{i}_usage", f"user_{error.component_type}_{i}_name")
            for i, _, _ in users
        ]
        _map_errors(form, error, fields, f"amount_{error.component_type}")
        return 400
    except InvalidInput as error:
        _map_errors(form, error, [(f"amount_{c.type}", f"amount_{c.type}") for c in reported], "month")
        return 400
    except Forbidden as error:
        form.add_error(None, gui_words(error))
        return 403
    except DomainError as error:
        form.add_error(None, error_text(error))
        return 409
    summary = "; ".join(
        f"{c.name} {charts.amount(i.usage.amount)} {c.measured_unit}".strip()
        for c, i in zip(reported, items, strict=True)
    )
    messages.success(request, f"Usage of {resource.name} for {month:%B %Y} reported: {summary}.")
    url = (
        reverse("web:resource-usage", args=[resource.uuid.hex])
        + "?"
        + urlencode({"component": reported[0].type, "month": billing_months.month_key(month)})
    )
    return redirect(url)
