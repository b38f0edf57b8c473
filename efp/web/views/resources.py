"""The provider's resources: the list with usage against limits, Set backend ID, Edit end date (Restore:
`restore.py`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from efp.errors import DomainError, Forbidden, StateConflict
from efp.marketplace import coverage, metering, tallies
from efp.marketplace.models import Resource
from efp.marketplace.selectors import (
    with_awaiting_approval,
    with_usage_flag,
    workspace_offerings,
    workspace_resources,
)
from efp.marketplace.services.resources import set_resource_backend_id, set_resource_end_date_by_provider
from efp.marketplace.services.usage import report_usage_refusal
from efp.marketplace.states import ResourceState
from efp.structure.roles import Permission
from efp.web.access import ProviderGrants, provider_workspace
from efp.web.forms import BackendIdForm, EndDateForm, ResourceFilterForm
from efp.web.sorting import Column, Sorting
from efp.web.views import downloads, listing
from efp.web.views.common import (
    Action,
    current_user,
    error_text,
    filter_by_place,
    get_by_uuid,
    render_workspace,
    safe_next,
    today,
    verb_actions,
)

SORT_COLUMNS = {
    "name": Column("Name", ("name",)),
    "offering": Column("Offering", ("offering__name",)),
    "organisation": Column("Organisation / project", ("project__customer__name", "project__name")),
    "end_date": Column("End date", ("end_date",)),
    "created": Column("Created", ("created",)),
    "state": Column("State", ("state",)),
}

ROW_PERMISSIONS = [
    Permission.RESOURCE_SET_USAGE,
    Permission.RESOURCE_SET_BACKEND_ID,
    Permission.RESOURCE_SET_END_DATE,
    Permission.RESOURCE_SET_STATE,  # Restore
]


@dataclass
class ResourceRow:
    resource: Resource
    statuses: list[metering.ComponentStatus]
    actions: list[Action]


PROVIDER_BUTTONS = [
    ("set_backend_id", "web:resource-backend-id"),
    ("set_end_date_by_provider", "web:resource-end-date"),
]
# Shown on terminated resources only (the one state it starts from): elsewhere it would always be disabled.
RESTORE_BUTTON = [("restore", "web:resource-restore")]


def row_actions(
    resource: Resource, user: Any, statuses: list[Any], grants: ProviderGrants, back: str
) -> list[Action]:
    uuid = resource.uuid.hex
    offering = resource.offering
    has_components = bool(statuses)
    next_qs = f"?next={back}" if back else ""
    backend_id, end_date = verb_actions(resource, user, PROVIDER_BUTTONS, next_qs, provider_grants=grants)
    restore: list[Action] = []
    if resource.state == ResourceState.TERMINATED:
        restore = verb_actions(resource, user, RESTORE_BUTTON, provider_grants=grants)
    return [
        Action(
            "Show usage",
            reverse("web:resource-usage", args=[uuid]),
            "" if has_components else "This offering has no usage- or limit-billed components.",
        ),
        Action(
            "Report usage",
            reverse("web:resource-report", args=[uuid]) + next_qs,
            report_usage_refusal(
                resource, has_components, grants.allows(Permission.RESOURCE_SET_USAGE, offering)
            ),
        ),
        backend_id,
        end_date,
        *restore,
    ]


def filter_resources(qs: QuerySet[Resource], data: dict[str, Any], day: datetime.date) -> QuerySet[Resource]:
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(Q(name__icontains=q) | Q(backend_id__iexact=q) | Q(effective_id__iexact=q))
    qs = filter_by_place(qs, data)
    states = shown_states(data)
    if states is not None:
        qs = qs.filter(state__in=states)
    if data.get("ending_within") is not None:
        qs = qs.filter(end_date__gte=day, end_date__lte=day + datetime.timedelta(days=data["ending_within"]))
    month = data.get("no_report")
    if month:  # the one rule of a missing report (marketplace/coverage.py)
        qs = coverage.with_missing(qs, [month])
    if data.get("usage_flag"):
        qs = with_usage_flag(qs, data["usage_flag"])
    if data.get("min_percent") is not None:  # the maintained usage against limits (metering.py)
        qs = metering.at_or_above(qs, data["min_percent"], day)
    return qs


def with_details(qs: QuerySet[Resource]) -> QuerySet[Resource]:
    """What a row of the list (or of its CSV) shows beside the resource, in the same query."""
    return with_awaiting_approval(qs.select_related("offering", "project__customer", "plan", "forecast"))


def shown_states(data: dict[str, Any]) -> list[str] | None:
    """The states `filter_resources` keeps (None: all of them)."""
    if data.get("state"):
        return list(data["state"])
    if data.get("include_terminated"):
        return None
    return [state for state in ResourceState.values if state != ResourceState.TERMINATED]


@provider_workspace
def resource_list(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    day = today()
    visible = workspace_resources(user)
    offerings = [(o.uuid.hex, o.name) for o in workspace_offerings(user).order_by("name", "pk")]
    organisations = listing.organisations(tallies.WORKSPACE_RESOURCES, user)
    form = ResourceFilterForm(request.GET or None, offerings=offerings, organisations=organisations)
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()
        data = form.cleaned_data  # the fields that are valid still filter; the others show their error
    sorting = Sorting(request, "provider-resources", SORT_COLUMNS, "name")
    keys = sorting.order(filter_resources(visible, data, day))
    if downloads.wants_csv(request):
        return downloads.resources_csv(with_details(keys), filename="resources")
    count = listing.tallied_count(
        tallies.WORKSPACE_RESOURCES, user, data, states=shown_states(data), ignored=["include_terminated"]
    )
    page = listing.paginate_keyed(request, listing.KeyedRows(keys, with_details, count))
    resources = list(page.object_list)
    summaries = metering.summarise(resources, today=day)
    grants = ProviderGrants(user, ROW_PERMISSIONS)
    back = request.get_full_path()
    rows = [
        ResourceRow(
            r, summaries.get(r.pk, []), row_actions(r, user, summaries.get(r.pk, []), grants, quote(back))
        )
        for r in resources
    ]
    return render_workspace(
        request,
        "web/provider/resources.html",
        {"form": form, "page": page, "rows": rows, "today": day, "sorting": sorting},
        section="resources",
    )


def _resource_form_view(
    request: HttpRequest,
    uuid: str,
    *,
    form_class: Any,
    initial: Callable[[Resource], dict[str, Any]],
    title: str,
    apply: Callable[[Resource, dict[str, Any]], str],
) -> HttpResponse:
    resource = get_by_uuid(
        workspace_resources(request.user).select_related("offering", "project__customer"), uuid
    )
    back = safe_next(request, reverse("web:resources"))
    status = 200
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                message = apply(resource, form.cleaned_data)
            except Forbidden as error:
                form.add_error(None, str(error))
                status = 403
            except DomainError as error:
                form.add_error(None, error_text(error))
                status = 409 if isinstance(error, StateConflict) else 400
            else:
                messages.success(request, message)
                return redirect(back)
        else:
            status = 400
    else:
        form = form_class(initial=initial(resource))
    return render_workspace(
        request,
        "web/provider/resource_form.html",
        {"resource": resource, "form": form, "title": title, "back": back},
        section="resources",
        status=status,
    )


@provider_workspace
def set_backend_id(request: HttpRequest, uuid: str) -> HttpResponse:
    def apply(resource: Resource, data: dict[str, Any]) -> str:
        changed = set_resource_backend_id(
            resource=resource, user=current_user(request), backend_id=data["backend_id"]
        )
        if changed:
            return f"Backend ID of {resource} set to “{data['backend_id']}”."
        return f"Backend ID of {resource} is unchanged."

    return _resource_form_view(
        request,
        uuid,
        form_class=BackendIdForm,
        initial=lambda r: {"backend_id": r.backend_id},
        title="Set backend ID",
        apply=apply,
    )


@provider_workspace
def edit_end_date(request: HttpRequest, uuid: str) -> HttpResponse:
    def apply(resource: Resource, data: dict[str, Any]) -> str:
        resource = set_resource_end_date_by_provider(
            resource=resource, user=current_user(request), end_date=data["end_date"]
        )
        if resource.end_date:
            return f"End date of {resource} set to {resource.end_date:%Y-%m-%d}."
        return f"End date of {resource} removed."

    return _resource_form_view(
        request,
        uuid,
        form_class=EndDateForm,
        initial=lambda r: {"end_date": r.end_date},
        title="Edit end date",
        apply=apply,
    )
