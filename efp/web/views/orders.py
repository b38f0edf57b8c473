"""The provider's order queue: list and filters, order page with timeline, Approve, Reject, bulk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from efp.errors import DomainError, Forbidden, InvalidInput, StateConflict
from efp.marketplace import tallies
from efp.marketplace.models import OfferingComponent, Order, Resource
from efp.marketplace.selectors import orders_with_details, workspace_offerings, workspace_orders
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.renewal_dates import is_renewal
from efp.marketplace.states import OrderState, OrderType
from efp.marketplace.verbs import ORDER_VERBS
from efp.structure.roles import Permission
from efp.web.access import ProviderGrants, provider_workspace
from efp.web.forms import OrderFilterForm, RejectForm
from efp.web.sorting import ORDER_COLUMNS, ORDER_DEFAULT, Sorting
from efp.web.views import downloads, listing
from efp.web.views.common import (
    Action,
    filter_by_place,
    get_by_uuid,
    render_workspace,
    safe_next,
    status_of,
    verb_actions,
)
from efp.web.views.timeline import timeline
from efp.web.views.usage import usage_context


@dataclass
class LimitChange:
    type: str
    name: str
    unit: str
    current: Any
    requested: Any

    @property
    def changed(self) -> bool:
        return self.current != self.requested


def requested_limits(order: Order, components: dict[str, OfferingComponent]) -> list[LimitChange]:
    """What the order asks for; for an Update, the resource's current limits beside the requested ones."""
    old = (order.attributes or {}).get("old_limits")
    if old is None and order.type == OrderType.UPDATE and order.resource is not None:
        old = order.resource.limits
    changes = []
    for key, value in (order.limits or {}).items():
        component = components.get(key)
        changes.append(
            LimitChange(
                type=key,
                name=component.name if component else key,
                unit=component.measured_unit if component else "",
                current=(old or {}).get(key) if order.type == OrderType.UPDATE else None,
                requested=value,
            )
        )
    return changes


PROVIDER_BUTTONS = [("approve_by_provider", "web:order-approve"), ("reject_by_provider", "web:order-reject")]
ROW_PERMISSIONS: list[Permission] = [
    p for name, _ in PROVIDER_BUTTONS if (p := ORDER_VERBS[name].permission) is not None
]


def order_actions(order: Order, user: Any, grants: ProviderGrants, back: str) -> list[Action]:
    """Approve and Reject (disabled with the reason the verb is refused), View."""
    uuid = order.uuid.hex
    next_qs = f"?next={back}"
    actions = verb_actions(order, user, PROVIDER_BUTTONS, next_qs, provider_grants=grants)
    return [*actions, Action("View", reverse("web:order", args=[uuid]))]


def components_by_offering(orders: list[Order]) -> dict[int, dict[str, OfferingComponent]]:
    result: dict[int, dict[str, OfferingComponent]] = {}
    for component in OfferingComponent.objects.filter(offering_id__in={o.offering_id for o in orders}):
        result.setdefault(component.offering_id, {})[component.type] = component
    return result


def waiting_since(order: Order) -> Any:
    """When the order reached the provider's queue: the consumer's decision, else its creation."""
    return order.consumer_reviewed_at or order.created


def _filter_choices(user: Any) -> dict[str, list[tuple[str, str]]]:
    return {
        "offerings": [(o.uuid.hex, o.name) for o in workspace_offerings(user).order_by("name", "pk")],
        "organisations": listing.organisations(tallies.WORKSPACE_ORDERS, user),
    }


def filter_orders(qs: QuerySet[Order], data: dict[str, Any]) -> QuerySet[Order]:
    if data.get("q"):
        q = data["q"].strip()
        query = Q(resource__name__icontains=q) | Q(attributes__name__icontains=q)
        compact = q.replace("-", "").lower()
        if len(compact) == 32 and all(ch in "0123456789abcdef" for ch in compact):
            query |= Q(uuid=compact)
        qs = qs.filter(query)
    if data.get("state"):
        qs = qs.filter(state__in=data["state"])
    if data.get("type"):
        qs = qs.filter(type__in=data["type"])
    qs = filter_by_place(qs, data)
    if data.get("created_after"):
        qs = qs.filter(created__date__gte=data["created_after"])
    if data.get("created_before"):
        qs = qs.filter(created__date__lte=data["created_before"])
    return qs


@provider_workspace
def order_list(request: HttpRequest) -> HttpResponseBase:
    visible = workspace_orders(request.user)
    params = request.GET.copy()
    if "filtered" not in params:
        # Opens on the provider's queue (Waldur opens on "executing" and providers miss it).
        params.setlist("state", list(OrderFilterForm.DEFAULT_STATES))
    form = OrderFilterForm(params, **_filter_choices(request.user))
    form.is_valid()
    data = form.cleaned_data  # the fields that are valid still filter; the others show their error
    sorting = Sorting(request, "provider-orders", ORDER_COLUMNS, ORDER_DEFAULT)
    keys = sorting.order(filter_orders(visible, data))
    if downloads.wants_csv(request):
        return downloads.orders_csv(orders_with_details(keys), filename="orders")
    count = listing.tallied_count(
        tallies.WORKSPACE_ORDERS, request.user, data, states=data.get("state") or None
    )
    page = listing.paginate_keyed(request, listing.KeyedRows(keys, orders_with_details, count))
    orders = list(page.object_list)
    components = components_by_offering(orders)
    back = quote(request.get_full_path())
    grants = ProviderGrants(request.user, ROW_PERMISSIONS)
    rows = [
        {
            "order": o,
            "limits": requested_limits(o, components.get(o.offering_id, {})),
            "since": waiting_since(o),
            "actions": order_actions(o, request.user, grants, back),
        }
        for o in orders
    ]
    return render_workspace(
        request,
        "web/provider/orders.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "now": timezone.now(),
            "pending": OrderState.PENDING_PROVIDER,
            "pending_consumer": OrderState.PENDING_CONSUMER,
            "sorting": sorting,
        },
        section="orders",
    )


def _order(request: HttpRequest, uuid: str) -> Order:
    return get_by_uuid(orders_with_details(workspace_orders(request.user)), uuid)


def _detail_context(order: Order, user: Any) -> dict[str, Any]:
    components = components_by_offering([order]).get(order.offering_id, {})
    return {
        "order": order,
        "limits": requested_limits(order, components),
        "events": timeline(user, order_id=order.pk),
        "since": waiting_since(order),
        "now": timezone.now(),
        "pending": OrderState.PENDING_PROVIDER,
        "pending_consumer": OrderState.PENDING_CONSUMER,
    }


@provider_workspace
def order_detail(request: HttpRequest, uuid: str) -> HttpResponse:
    order = _order(request, uuid)
    context = _detail_context(order, request.user)
    if is_renewal(order) and order.resource_id is not None:
        # An extension request: the provider decides beside the allocation's usage and forecast.
        resource = Resource.objects.select_related("offering", "project", "forecast").get(
            pk=order.resource_id
        )
        context.update(usage_context(request, resource, csv_view="web:resource-usage-csv"))
        context["renewal"] = True
    return render_workspace(request, "web/provider/order.html", context, section="orders")


def decision_error(order: Order, error: DomainError, verb: str) -> str:
    """A message a person understands, e.g. when another provider user decided first."""
    if isinstance(error, StateConflict):
        order.refresh_from_db()
        if order.state != OrderState.PENDING_PROVIDER:
            who = order.provider_reviewed_by
            when = order.provider_reviewed_at
            by = ""
            if who is not None and when is not None:
                name = who.get_full_name() or who.username
                by = f" {name} decided on {timezone.localtime(when):%Y-%m-%d %H:%M}."
            return (
                f"This order can no longer be {verb}: it is no longer waiting for provider approval "
                f"(it is now {order.get_state_display()}).{by}"
            )
    if isinstance(error, Forbidden):
        return f"You may not {'approve' if verb == 'approved' else 'reject'} orders of this offering."
    if isinstance(error, InvalidInput):
        return error.summary()
    return str(error)


@provider_workspace
@require_http_methods(["GET", "POST"])
def approve(request: HttpRequest, uuid: str) -> HttpResponse:
    """GET shows what is requested and asks for confirmation; POST approves through the service."""
    order = _order(request, uuid)
    back = safe_next(request, reverse("web:order", args=[order.uuid.hex]))
    status, error = 200, ""
    if request.method == "POST":
        try:
            order_services.approve_order_by_provider(order=order, user=request.user)  # type: ignore[arg-type]
        except DomainError as exc:
            error, status = decision_error(order, exc, "approved"), status_of(exc)
        else:
            messages.success(request, f"Order for {order.resource_name} approved.")
            return redirect(back)
    context = {**_detail_context(order, request.user), "error": error, "back": back}
    return render_workspace(request, "web/provider/approve.html", context, section="orders", status=status)


@provider_workspace
@require_http_methods(["GET", "POST"])
def reject(request: HttpRequest, uuid: str) -> HttpResponse:
    order = _order(request, uuid)
    back = safe_next(request, reverse("web:order", args=[order.uuid.hex]))
    status, error = 200, ""
    if request.method == "POST":
        form = RejectForm(request.POST)
        if form.is_valid():
            try:
                order_services.reject_order_by_provider(
                    order=order,
                    user=request.user,  # type: ignore[arg-type]
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as exc:
                error, status = decision_error(order, exc, "rejected"), status_of(exc)
            else:
                messages.success(request, f"Order for {order.resource_name} rejected.")
                return redirect(back)
        else:
            status = 400
    else:
        form = RejectForm()
    context = {**_detail_context(order, request.user), "form": form, "error": error, "back": back}
    return render_workspace(request, "web/provider/reject.html", context, section="orders", status=status)


@provider_workspace
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Step 1 (no `confirm`): show the selected orders and ask to confirm (and for a reason to reject).
    Step 2: decide each order through the service and show a per-order result."""
    action = request.POST.get("action")
    if action not in ("approve", "reject"):
        messages.error(request, "Choose Approve or Reject for the selected orders.")
        return redirect("web:orders")
    uuids = request.POST.getlist("order")
    orders = []
    for raw in uuids:
        try:
            orders.append(_order(request, raw))
        except Http404:  # an order not visible is skipped; the confirmation lists what will be done
            continue
    if not orders:
        messages.error(request, "Select at least one order first.")
        return redirect(safe_next(request, reverse("web:orders")))
    back = safe_next(request, reverse("web:orders"))
    form = RejectForm(request.POST if action == "reject" and "confirm" in request.POST else None)
    context: dict[str, Any] = {"orders": orders, "action": action, "form": form, "back": back}
    if "confirm" not in request.POST or (action == "reject" and not form.is_valid()):
        status = 400 if "confirm" in request.POST else 200
        return render_workspace(
            request, "web/provider/bulk_confirm.html", context, section="orders", status=status
        )
    results = []
    for order in orders:
        try:
            if action == "approve":
                order_services.approve_order_by_provider(order=order, user=request.user)  # type: ignore[arg-type]
            else:
                order_services.reject_order_by_provider(
                    order=order,
                    user=request.user,  # type: ignore[arg-type]
                    comment=form.cleaned_data["comment"],
                )
        except DomainError as exc:
            results.append(
                (order, False, decision_error(order, exc, "approved" if action == "approve" else "rejected"))
            )
        else:
            results.append((order, True, "Approved." if action == "approve" else "Rejected."))
    context["results"] = results
    context["done"] = sum(1 for _, ok, _ in results if ok)
    return render_workspace(request, "web/provider/bulk_result.html", context, section="orders")
