"""The consumer's resources: usage against limits, the monthly usage view (read-only), and Change limits
and Terminate, which create Update and Terminate orders through the order service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from efp.errors import DomainError, InvalidInput
from efp.marketplace import metering
from efp.marketplace.models import Order, Resource
from efp.marketplace.selectors import consumer_resources, with_awaiting_approval
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import renewals
from efp.marketplace.states import ACTIVE_ORDER_STATES, ResourceState
from efp.marketplace.verbs import RESOURCE_VERBS
from efp.structure.roles import Permission
from efp.web.access import ProjectGrants, ProviderGrants
from efp.web.forms import ChangeLimitsForm, ExtensionRequestForm
from efp.web.sorting import Column, Sorting
from efp.web.views import downloads
from efp.web.views.catalogue import WAITING_FOR, attach_order_errors
from efp.web.views.common import (
    Action,
    current_user,
    error_text,
    get_by_uuid,
    paginate,
    render_consumer,
    status_of,
    today,
    verb_actions,
)
from efp.web.views.timeline import timeline
from efp.web.views.usage import csv_response, usage_context

LIMIT = "limit"


CONSUMER_BUTTONS = [
    ("update_limits", "web:my-resource-limits"),
    ("renew", "web:my-resource-extend"),
    ("terminate", "web:my-resource-terminate"),
]
ROW_PERMISSIONS: list[Permission] = [
    p for name, _ in CONSUMER_BUTTONS if (p := RESOURCE_VERBS[name].permission) is not None
]


def resource_actions(
    resource: Resource,
    user: Any,
    grants: ProjectGrants,
    provider_grants: ProviderGrants,
    has_limits: bool,
    has_components: bool,
) -> list[Action]:
    """Show usage, Change limits, Terminate: disabled with the reason the verb is refused. `resource`
    carries `has_active_order` (annotated by the list) for the one-order-at-a-time rule."""
    limits, extend, terminate = verb_actions(
        resource, user, CONSUMER_BUTTONS, consumer_grants=grants, provider_grants=provider_grants
    )
    if not has_limits:
        limits.reason = "This offering has no limit-billed components."
    return [
        Action(
            "Show usage",
            reverse("web:my-resource-usage", args=[resource.uuid.hex]),
            "" if has_components else "This offering has no usage- or limit-billed components.",
        ),
        limits,
        extend,
        terminate,
    ]


MY_RESOURCE_COLUMNS = {
    "name": Column("Name", ("name",)),
    "offering": Column("Offering", ("offering__name",)),
    "project": Column("Organisation / project", ("project__customer__name", "project__name", "name")),
    "end_date": Column("End date", ("end_date",)),
    "state": Column("State", ("state",)),
}


@login_required
def resource_list(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    day = today()
    include_terminated = bool(request.GET.get("include_terminated"))
    query = (request.GET.get("q") or "").strip()
    qs = consumer_resources(user)
    if not include_terminated:
        qs = qs.exclude(state=ResourceState.TERMINATED)
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(project__name__icontains=query))
    active = Order.objects.filter(resource=OuterRef("pk"), state__in=list(ACTIVE_ORDER_STATES))
    qs = (
        with_awaiting_approval(qs)
        .select_related("offering", "project__customer", "plan", "forecast")
        .annotate(has_active_order=Exists(active))
    )
    sorting = Sorting(request, "my-resources", MY_RESOURCE_COLUMNS, "project")
    qs = sorting.order(qs)
    if downloads.wants_csv(request):
        return downloads.resources_csv(qs, filename="my-resources")
    page = paginate(request, qs)
    resources = list(page.object_list)
    summaries = metering.summarise(resources, today=day)
    grants = ProjectGrants(user, ROW_PERMISSIONS)
    # Terminate may also be used from the provider's side (docs/contract.md §6.1).
    provider_grants = ProviderGrants(user, [Permission.RESOURCE_TERMINATE])
    limit_offerings = set(
        Resource.objects.filter(pk__in=[r.pk for r in resources], offering__components__billing_type=LIMIT)
        .values_list("offering_id", flat=True)
        .distinct()
    )
    rows = [
        {
            "resource": r,
            "statuses": summaries.get(r.pk, []),
            "actions": resource_actions(
                r, user, grants, provider_grants, r.offering_id in limit_offerings, bool(summaries.get(r.pk))
            ),
        }
        for r in resources
    ]
    return render_consumer(
        request,
        "web/consumer/resources.html",
        {
            "rows": rows,
            "page": page,
            "include_terminated": include_terminated,
            "query": query,
            "back": "",
            "sorting": sorting,
        },
        section="resources",
    )


def _resource(request: HttpRequest, uuid: str) -> Resource:
    qs = with_awaiting_approval(consumer_resources(request.user)).select_related(
        "offering__customer", "project__customer", "plan"
    )
    return get_by_uuid(qs, uuid)


@login_required
def show_usage(request: HttpRequest, uuid: str) -> HttpResponse:
    resource = _resource(request, uuid)
    context = usage_context(request, resource, csv_view="web:my-resource-usage-csv")
    context["events"] = timeline(request.user, resource_id=resource.pk)
    return render_consumer(request, "web/consumer/usage.html", context, section="resources")


@login_required
def usage_csv(request: HttpRequest, uuid: str) -> HttpResponse:
    return csv_response(request, _resource(request, uuid))


def _order_placed(request: HttpRequest, order: Order, what: str) -> HttpResponse:
    waiting = WAITING_FOR.get(order.state, f"it is {order.get_state_display()}")  # type: ignore[call-overload]
    messages.success(request, f"{what} requested for {order.resource_name}: {waiting}.")
    return redirect("web:my-order", uuid=order.uuid.hex)


@login_required
@require_http_methods(["GET", "POST"])
def change_limits(request: HttpRequest, uuid: str) -> HttpResponse:
    """GET: the current limits to edit. POST: a confirmation with current → requested; with `confirm`,
    an Update order through the service (the same as POST …/update_limits/)."""
    resource = _resource(request, uuid)
    components = [c for c in resource.offering.components.all() if c.billing_type == LIMIT]
    current = {c.type: (resource.limits or {}).get(c.type) for c in components}
    status, confirm = 200, False
    if request.method == "POST":
        form = ChangeLimitsForm(request.POST, components=components)
        status = 400
        if form.is_valid():
            if "confirm" not in request.POST:
                confirm, status = True, 200
            else:
                try:
                    order = order_services.update_resource_limits(
                        resource=resource, user=current_user(request), limits=form.limits()
                    )
                except InvalidInput as error:
                    attach_order_errors(form, error)
                except DomainError as error:
                    form.add_error(None, error_text(error))
                    status = status_of(error)
                else:
                    return _order_placed(request, order, "Limit change")
    else:
        form = ChangeLimitsForm(initial={f"limit_{k}": v for k, v in current.items()}, components=components)
    changes = []
    if confirm:
        requested = form.limits()
        changes = [
            {"component": c, "current": current.get(c.type), "requested": requested[c.type]}
            for c in components
        ]
    return render_consumer(
        request,
        "web/consumer/change_limits.html",
        {
            "resource": resource,
            "form": form,
            "components": components,
            "confirm": confirm,
            "changes": changes,
        },
        section="resources",
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_extension(request: HttpRequest, uuid: str) -> HttpResponse:
    """More months, larger limits or both, with a justification: a renew Update order through the service
    (the same as POST …/renew/ with a `justification`), which the provider decides in Orders."""
    resource = _resource(request, uuid)
    components = [c for c in resource.offering.components.all() if c.billing_type == LIMIT]
    current = {f"limit_{c.type}": (resource.limits or {}).get(c.type) for c in components}
    status = 200
    if request.method == "POST":
        form = ExtensionRequestForm(request.POST, components=components)
        status = 400
        if form.is_valid():
            try:
                order = renewals.renew_resource(
                    resource=resource,
                    user=current_user(request),
                    extension_months=form.cleaned_data["extension_months"],
                    limits=form.limits(),
                    justification=form.cleaned_data["justification"],
                    extension_request=True,
                )
            except InvalidInput as error:
                errors = error.field_errors()
                for key in [key for key in errors if key in form.fields]:  # months, justification
                    for text in errors.pop(key):
                        form.add_error(key, str(text))
                if errors:  # limits, and what concerns the whole request
                    attach_order_errors(form, InvalidInput(errors))
            except DomainError as error:
                form.add_error(None, error_text(error))
                status = status_of(error)
            else:
                return _order_placed(request, order, "Extension")
    else:
        form = ExtensionRequestForm(initial=current, components=components)
    return render_consumer(
        request,
        "web/consumer/extend.html",
        {"resource": resource, "form": form},
        section="resources",
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def terminate(request: HttpRequest, uuid: str) -> HttpResponse:
    """GET asks for confirmation; POST creates a Terminate order (the same as POST …/terminate/)."""
    resource = _resource(request, uuid)
    status, error = 200, ""
    if request.method == "POST":
        try:
            order = order_services.terminate_resource(resource=resource, user=current_user(request))
        except DomainError as exc:
            error, status = error_text(exc), status_of(exc)
        else:
            return _order_placed(request, order, "Termination")
    return render_consumer(
        request,
        "web/consumer/terminate.html",
        {"resource": resource, "error": error, "back": reverse("web:my-resources")},
        section="resources",
        status=status,
    )
