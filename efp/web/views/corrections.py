"""Correct a month's usage with a reason, and an offering's correction policy (provider side).

Who may correct which month is `services/corrections.correction_refusal`; the page shows its words."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from efp.errors import DomainError, Forbidden, InvalidInput
from efp.marketplace import billing_months, metering, usage_history
from efp.marketplace.models import Offering, UsageRevision
from efp.marketplace.selectors import workspace_offerings
from efp.marketplace.services import corrections
from efp.marketplace.services.offerings import may_set_correction_policy, set_correction_policy
from efp.web import charts
from efp.web.access import provider_workspace
from efp.web.usage_forms import CorrectionPolicyForm, CorrectUsageForm
from efp.web.views.common import error_text, get_by_uuid, render_workspace, safe_next, today
from efp.web.views.usage import _resource

CORRECTABLE_MONTHS = 24  # how far back the month selector goes (the rule may allow fewer)


def put_errors(form: Any, error: InvalidInput, rename: dict[str, str] | None = None) -> None:
    """A service's field errors beside the fields they concern; anything else above the form."""
    for key, texts in error.field_errors().items():
        field = (rename or {}).get(key, key)
        for text in texts if isinstance(texts, list) else [texts]:
            form.add_error(field if field in form.fields else None, str(text))


@provider_workspace
def correct_usage(request: HttpRequest, uuid: str) -> HttpResponse:
    resource = _resource(request, uuid)
    components = metering.metered_components([resource.offering_id]).get(resource.offering_id, [])
    current = billing_months.first_day(today())
    months = list(
        reversed(billing_months.month_range(billing_months.add_months(current, -CORRECTABLE_MONTHS), current))
    )
    usage_url = reverse("web:resource-usage", args=[resource.uuid.hex])
    back = safe_next(request, usage_url)
    initial = {"component": request.GET.get("component"), "month": request.GET.get("month")}
    form = CorrectUsageForm(
        request.POST if request.method == "POST" else None,
        components=components,
        months=months,
        initial={k: v for k, v in initial.items() if v},
    )
    status = 200
    month = billing_months.parse_month(form["month"].value() or "") or current
    refusal = corrections.correction_refusal(user=request.user, resource=resource, month=month)
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            component = form.components[form.cleaned_data["component"]]
            try:
                corrections.correct_month(
                    user=request.user,
                    resource=resource,
                    component=component,
                    month=form.month_value(),
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    source=UsageRevision.Source.GUI,
                    user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
                )
            except InvalidInput as error:
                put_errors(form, error, {"usage": "amount"})
                status = 400
            except Forbidden:
                status = 403  # the refusal's words are shown above the form
            except DomainError as error:
                form.add_error(None, error_text(error))
                status = 409
            else:
                amount = charts.amount(form.cleaned_data["amount"])
                messages.success(
                    request,
                    f"{component.name} usage of {resource.name} for {form.month_value():%B %Y} corrected to"
                    f" {amount} {component.measured_unit}.".replace(" .", "."),
                )
                query = urlencode({"component": component.type, "month": billing_months.month_key(month)})
                return redirect(f"{usage_url}?{query}")
    chosen = next((c for c in components if c.type == form["component"].value()), None)
    stored = usage_history.stored_values(resource, [month]).get(chosen.type if chosen else "", {})
    context = {
        "resource": resource,
        "form": form,
        "refusal": refusal,
        "back": back,
        "components": components,
        "chosen": chosen,
        "month": month,
        "stored": stored.get(billing_months.month_key(month)),
    }
    return render_workspace(request, "web/provider/correct.html", context, section="resources", status=status)


@provider_workspace
def correction_policy(request: HttpRequest, uuid: str) -> HttpResponse:
    offering: Offering = get_by_uuid(workspace_offerings(request.user).select_related("customer"), uuid)
    back = safe_next(request, reverse("web:resources"))
    allowed = may_set_correction_policy(request.user, offering)
    status = 200 if allowed or request.method != "POST" else 403  # others read it
    initial = {
        "usage_corrected_by": offering.usage_corrected_by,
        "usage_correction_months": offering.usage_correction_months,
    }
    form = CorrectionPolicyForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and allowed:
        if form.is_valid():
            try:
                set_correction_policy(
                    user=request.user,
                    offering=offering,
                    corrected_by=form.cleaned_data["usage_corrected_by"],
                    months=form.cleaned_data["usage_correction_months"],
                )
            except InvalidInput as error:
                put_errors(form, error)
                status = 400
            else:
                messages.success(request, f"Correction policy of {offering.name} saved.")
                return redirect(back)
        else:
            status = 400
    context: dict[str, Any] = {"offering": offering, "form": form, "allowed": allowed, "back": back}
    return render_workspace(
        request, "web/provider/correction_policy.html", context, section="resources", status=status
    )
