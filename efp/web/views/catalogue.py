"""The consumer's marketplace: the catalogue of active offerings, an offering's page and its order form."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from efp.errors import DomainError, Forbidden, InvalidInput
from efp.marketplace import plugin_options
from efp.marketplace.models import Offering, OfferingComponent, Order, Plan, PlanComponent
from efp.marketplace.selectors import catalogue_offerings, public_offerings
from efp.marketplace.services import orders as order_services
from efp.marketplace.states import OrderState
from efp.structure.models import Project
from efp.structure.roles import Permission
from efp.structure.selectors import projects_with_permission
from efp.web.forms import OrderForm
from efp.web.views.common import current_user, get_by_uuid, render_consumer, today

LIMIT = OfferingComponent.BillingType.LIMIT
WAITING_FOR = {
    OrderState.PENDING_CONSUMER: "it waits for approval by an owner of the organisation",
    OrderState.PENDING_PROVIDER: "it waits for approval by the provider",
    OrderState.PENDING_PROJECT: "it waits for the project to start",
    OrderState.EXECUTING: "the provider is setting it up",
    OrderState.DONE: "it is done",
}


def _with_plans(qs: Any) -> Any:
    plans = Plan.objects.filter(archived=False).prefetch_related(
        Prefetch("components", queryset=PlanComponent.objects.select_related("component"))
    )
    return qs.select_related("customer", "category").prefetch_related(
        "components", Prefetch("plans", queryset=plans, to_attr="active_plans")
    )


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    """Active offerings grouped by category (a fixed number of queries)."""
    query = (request.GET.get("q") or "").strip()
    offerings = _with_plans(catalogue_offerings(request.user)).order_by("category__title", "name", "pk")
    if query:
        offerings = offerings.filter(Q(name__icontains=query) | Q(description__icontains=query))
    by_category: dict[Any, list[Offering]] = defaultdict(list)
    for offering in offerings:
        by_category[offering.category].append(offering)
    return render_consumer(
        request,
        "web/consumer/catalogue.html",
        {
            "categories": sorted(by_category.items(), key=lambda item: item[0].title),
            "query": query,
            # Coming from a project's page: its order forms open with that project chosen.
            "for_project": (request.GET.get("project") or "")[:64],
        },
        section="catalogue",
    )


def end_date_rule(offering: Offering) -> str:
    """Whether the order form asks for an end date: "required", "optional" or "" (not asked)."""
    options = offering.plugin_options or {}
    if options.get("is_resource_termination_date_required"):
        has_default = plugin_options.whole_number(options, "default_resource_termination_offset_in_days")
        return "optional" if has_default else "required"
    return "optional"


def _orderable_projects(request: HttpRequest) -> list[Project]:
    return list(
        projects_with_permission(request.user, Permission.ORDER_CREATE)
        .select_related("customer")
        .order_by("customer__name", "name", "pk")
    )


def _project_label(project: Project) -> str:
    label = f"{project.customer.name} / {project.name}"
    if project.is_expired():
        label += f" (ended {project.end_date:%Y-%m-%d})"
    if project.customer.blocked:
        label += " (organisation blocked)"
    return label


@login_required
def offering_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    offering = get_by_uuid(_with_plans(public_offerings(request.user)), uuid)
    components = list(offering.components.all())
    plans = [
        {
            "plan": plan,
            "prices": {pc.component.type: pc.price for pc in plan.components.all()},
            "amounts": {pc.component.type: pc.amount for pc in plan.components.all()},
        }
        for plan in offering.active_plans
    ]
    return render_consumer(
        request,
        "web/consumer/offering.html",
        {
            "offering": offering,
            "components": components,
            "plans": plans,
            "orderable": offering.state == Offering.State.ACTIVE,
            "can_order": bool(_orderable_projects(request)),
        },
        section="catalogue",
    )


# Where a service error belongs on the form: the field named in the error, or the one a message is about.
def attach_order_errors(form: forms.Form, error: InvalidInput) -> None:
    for key, raw in error.field_errors().items():
        for message in raw if isinstance(raw, list) else [raw]:
            text = str(message)
            target: str | None = None
            if key == "limits":
                target = next(
                    (f"limit_{t}" for t in getattr(form, "limit_types", []) if f" of {t} " in f"{text} "),
                    None,
                )
            elif key == "plan":
                target = "plan"
            elif key == "attributes":
                if text.startswith("end_date:") or "end date" in text:
                    target = "end_date"
                    text = text.removeprefix("end_date:").strip()
                else:
                    target = "name"
            elif "Terms of service" in text:
                target = "accept_terms"
            elif "organization" in text or text.startswith("Project '"):
                target = "project"
            form.add_error(target if target in form.fields else None, text)


@login_required
@require_http_methods(["GET", "POST"])
def order_form(request: HttpRequest, uuid: str) -> HttpResponse:
    """GET: the form. POST: the order through the same service as POST /api/marketplace-orders/."""
    offering = get_by_uuid(_with_plans(public_offerings(request.user)), uuid)
    projects = _orderable_projects(request)
    components = [c for c in offering.components.all() if c.billing_type == LIMIT]
    form_kwargs: dict[str, Any] = {
        "projects": [(p.uuid.hex, _project_label(p)) for p in projects],
        "plans": [(p.uuid.hex, p.name) for p in offering.active_plans],
        # A plan archived while the form was open is judged by the service, which says why.
        "known_plans": {p.uuid.hex: p for p in Plan.objects.filter(offering=offering)},
        "components": components,
        "end_date": end_date_rule(offering),
        "terms_of_service": offering.terms_of_service if offering.shared else "",
    }
    status = 200
    if request.method == "POST":
        form = OrderForm(request.POST, **form_kwargs)
        status = 400
        if form.is_valid():
            order, status = _place_order(request, form, offering, {p.uuid.hex: p for p in projects})
            if order is not None:
                return redirect("web:my-order", uuid=order.uuid.hex)
    else:
        initial = {"project": request.GET.get("project", "")}
        form = OrderForm(initial=initial, **form_kwargs)
    return render_consumer(
        request,
        "web/consumer/order_form.html",
        {"offering": offering, "form": form, "has_projects": bool(projects), "today": today()},
        section="catalogue",
        status=status,
    )


def _place_order(
    request: HttpRequest, form: OrderForm, offering: Offering, projects: dict[str, Project]
) -> tuple[Order | None, int]:
    """The order, or None and the status with the errors put on the form."""
    data = form.cleaned_data
    attributes: dict[str, Any] = {"name": data["name"].strip()}
    if data.get("end_date"):
        attributes["end_date"] = data["end_date"].isoformat()
    try:
        order = order_services.create_order(
            user=current_user(request),
            project=projects[data["project"]],
            offering=offering,
            plan=data["plan"],
            attributes=attributes,
            limits=form.limits(),
            accepting_terms_of_service=bool(data.get("accept_terms")),
            request_comment=data.get("comment") or None,
        )
    except InvalidInput as error:
        attach_order_errors(form, error)
        return None, 400
    except Forbidden as error:
        form.add_error(None, f"{error} You may order only for projects where you hold a role.")
        return None, 403
    except DomainError as error:
        form.add_error(None, str(error))
        return None, 409
    waiting = WAITING_FOR.get(OrderState(order.state), f"it is {order.get_state_display()}")
    messages.success(request, f"Order for {order.resource_name} placed: {waiting}.")
    return order, 201
