"""The consumer's orders: those waiting for my approval first, then every order of my projects; the order
page with its timeline; Approve and Reject as consumer, Cancel and Delete, each confirmed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from efp.errors import DomainError, Forbidden, StateConflict
from efp.marketplace.models import Offering, Order
from efp.marketplace.selectors import consumer_orders, orders_awaiting_consumer, orders_with_details
from efp.marketplace.services import orders as order_services
from efp.marketplace.states import OrderState
from efp.marketplace.verbs import ORDER_VERBS
from efp.structure.models import Customer
from efp.structure.roles import Permission
from efp.web.access import ProjectGrants
from efp.web.forms import ConsumerRejectForm, OrderFilterForm
from efp.web.sorting import ORDER_COLUMNS, ORDER_DEFAULT, Sorting
from efp.web.views import downloads
from efp.web.views.common import (
    Action,
    current_user,
    error_text,
    get_by_uuid,
    paginate,
    render_consumer,
    safe_next,
    status_of,
    verb_actions,
)
from efp.web.views.orders import components_by_offering, filter_orders, requested_limits
from efp.web.views.timeline import timeline

OS = OrderState


# Each button of a consumer's order row: the verb it uses, its route.
CONSUMER_BUTTONS = [
    ("approve_by_consumer", "web:my-order-approve"),
    ("reject_by_consumer", "web:my-order-reject"),
    ("cancel", "web:my-order-cancel"),
    ("destroy", "web:my-order-delete"),
]


def consumer_actions(order: Order, grants: ProjectGrants, back: str) -> list[Action]:
    """Approve / Reject as consumer, Cancel, Delete: each disabled with the reason the verb is refused."""
    uuid = order.uuid.hex
    next_qs = f"?next={back}" if back else ""
    actions = verb_actions(order, grants.user, CONSUMER_BUTTONS, next_qs, consumer_grants=grants)
    return [*actions, Action("View", reverse("web:my-order", args=[uuid]))]


# The permissions the buttons ask, looked up once per page.
ROW_PERMISSIONS: list[Permission] = [
    p for name, _ in CONSUMER_BUTTONS if (p := ORDER_VERBS[name].permission) is not None
]


def _rows(orders: list[Order], grants: ProjectGrants, back: str) -> list[dict[str, Any]]:
    components = components_by_offering(orders)
    return [
        {
            "order": o,
            "limits": requested_limits(o, components.get(o.offering_id, {})),
            "actions": consumer_actions(o, grants, back),
        }
        for o in orders
    ]


@login_required
def order_list(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    visible = consumer_orders(user)
    offerings = Offering.objects.filter(pk__in=visible.values("offering_id")).order_by("name")
    organisations = Customer.objects.filter(pk__in=visible.values("project__customer_id")).order_by("name")
    form = OrderFilterForm(
        request.GET or None,
        offerings=[(o.uuid.hex, o.name) for o in offerings],
        organisations=[(c.uuid.hex, c.name) for c in organisations],
    )
    form.fields["organisation"].label = "Organisation"
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()
        data = form.cleaned_data
    grants = ProjectGrants(user, ROW_PERMISSIONS)
    back = quote(request.get_full_path())
    awaiting = list(orders_with_details(orders_awaiting_consumer(user)).order_by("created", "pk")[:50])
    sorting = Sorting(request, "my-orders", ORDER_COLUMNS, ORDER_DEFAULT)
    qs = sorting.order(orders_with_details(filter_orders(visible, data)))
    if downloads.wants_csv(request):
        return downloads.orders_csv(qs, filename="my-orders")
    page = paginate(request, qs)
    return render_consumer(
        request,
        "web/consumer/orders.html",
        {
            "form": form,
            "page": page,
            "awaiting": _rows(awaiting, grants, back),
            "rows": _rows(list(page.object_list), grants, back),
            "pending": OS.PENDING_PROVIDER,
            "pending_consumer": OS.PENDING_CONSUMER,
            "sorting": sorting,
        },
        section="orders",
    )


def _order(request: HttpRequest, uuid: str) -> Order:
    return get_by_uuid(orders_with_details(consumer_orders(request.user)), uuid)


def _context(request: HttpRequest, order: Order) -> dict[str, Any]:
    components = components_by_offering([order]).get(order.offering_id, {})
    return {
        "order": order,
        "limits": requested_limits(order, components),
        "events": timeline(request.user, order_id=order.pk),
        "since": order.consumer_reviewed_at or order.created,
        "now": timezone.now(),
        "pending": OS.PENDING_PROVIDER,
        "pending_consumer": OS.PENDING_CONSUMER,
        "actions": consumer_actions(order, ProjectGrants(request.user, ROW_PERMISSIONS), ""),
    }


@login_required
def order_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    order = _order(request, uuid)
    return render_consumer(request, "web/consumer/order.html", _context(request, order), section="orders")


def _decide(
    request: HttpRequest,
    uuid: str,
    *,
    verb: str,
    button: str,
    question: str,
    explain: str,
    apply: Callable[[Order, dict[str, Any]], Any],
    with_reason: bool = False,
    done_url: str | None = None,
) -> HttpResponse:
    """GET: what the order asks and a confirmation (with a reason where one is needed). POST: the service."""
    order = _order(request, uuid)
    back = safe_next(request, reverse("web:my-order", args=[order.uuid.hex]))
    status, error = 200, ""
    form = ConsumerRejectForm(request.POST if request.method == "POST" else None) if with_reason else None
    context = _context(request, order)
    refusal = next((a.reason for a in context["actions"] if a.label.startswith(button.split()[0])), "")
    if request.method == "GET" and refusal:
        error, form = refusal, None  # say why at once instead of offering a button that cannot work
    elif request.method == "POST" and (form is None or form.is_valid()):
        try:
            apply(order, form.cleaned_data if form is not None else {})
        except DomainError as exc:
            order.refresh_from_db()
            error, status = error_text(exc), status_of(exc)
            if isinstance(exc, Forbidden) and refusal:
                error = refusal  # who may, in words, rather than Waldur's generic 403
            if isinstance(exc, StateConflict):
                error = f"This order can no longer be {verb}: it is now {order.get_state_display()}."
        else:
            messages.success(request, f"Order for {order.resource_name or '(unnamed)'} {verb}.")
            return redirect(done_url or back)
    elif request.method == "POST":
        status = 400
    if status != 200 or request.method == "POST":
        context = _context(request, order)  # the order may have moved on
    context = {
        **context,
        "refused": bool(refusal) and request.method == "GET",
        "form": form,
        "error": error,
        "back": back,
        "question": question,
        "explain": explain,
        "button": button,
        "danger": verb != "approved",
    }
    return render_consumer(request, "web/consumer/decide.html", context, section="orders", status=status)


@login_required
@require_http_methods(["GET", "POST"])
def approve(request: HttpRequest, uuid: str) -> HttpResponse:
    return _decide(
        request,
        uuid,
        verb="approved",
        button="Approve order",
        question="Approve this order for your organisation?",
        explain="Approving sends the order on to the provider. Your name and the time are recorded.",
        apply=lambda order, _: order_services.approve_order_by_consumer(
            order=order, user=current_user(request)
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def reject(request: HttpRequest, uuid: str) -> HttpResponse:
    return _decide(
        request,
        uuid,
        verb="rejected",
        button="Reject order",
        question="Reject this order?",
        explain="Rejecting ends the order; whoever asked sees your reason.",
        apply=lambda order, data: order_services.reject_order_by_consumer(
            order=order, user=current_user(request), comment=data["comment"]
        ),
        with_reason=True,
    )


@login_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, uuid: str) -> HttpResponse:
    return _decide(
        request,
        uuid,
        verb="canceled",
        button="Cancel order",
        question="Cancel this order?",
        explain="Canceling stops the order; a resource it was creating is terminated.",
        apply=lambda order, _: order_services.cancel_order(order=order, user=current_user(request)),
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, uuid: str) -> HttpResponse:
    return _decide(
        request,
        uuid,
        verb="deleted",
        button="Delete order",
        question="Delete this order?",
        explain="Deleting removes the order while it waits for approval; a resource it was creating is "
        "terminated.",
        apply=lambda order, _: order_services.delete_order(order=order, user=current_user(request)),
        done_url=reverse("web:my-orders"),
    )
