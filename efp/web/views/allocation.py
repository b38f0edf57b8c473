"""The allocation page of a resource, on each side: the provider's (`/provider/resources/<uuid>/`) and the
consumer's (`/my/resources/<uuid>/`). Attributes, plan, limits with usage against them (labelled with the
limit's period by `metering`), usage flags and forecast, accounts and team, endpoints and backend
metadata, its orders, its timeline and its actions (the same menu as the lists, from `services/guard.py`).

Visibility is the lists' selectors (`workspace_resources`, `consumer_resources`): others get 404. A fixed
number of queries whatever the number of orders, events and team members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from efp.marketplace import metering, plugin_options
from efp.marketplace.models import MemberSyncStatus, OfferingUser, Order, Resource, ResourceForecast
from efp.marketplace.selectors import (
    consumer_orders,
    consumer_resources,
    with_awaiting_approval,
    workspace_orders,
    workspace_resources,
)
from efp.marketplace.states import ACTIVE_ORDER_STATES
from efp.structure.models import ProjectRole
from efp.structure.roles import Permission
from efp.web.access import ProjectGrants, ProviderGrants, provider_workspace
from efp.web.sorting import Column, Sorting
from efp.web.views import my_resources, resources
from efp.web.views.common import get_by_uuid, render_consumer, render_workspace, today
from efp.web.views.timeline import timeline

ORDERS_SHOWN = 50  # the first in the chosen order (newest first); the orders list has the rest
ALLOCATION_ORDER_COLUMNS = {
    "order": Column("Order", ("type",)),
    "created": Column("Created (by)", ("created",)),
    "state": Column("State", ("state",)),
}
ACCOUNT_COLUMNS = {
    "person": Column("Person", ("user__username",)),
    "role": Column("Role in the project", ("role", "user__username")),
    "until": Column("Until", ("expiration_time",)),
}


@dataclass(frozen=True)
class Account:
    """A member of the resource's project and their account (offering user) on its offering, if any."""

    role: ProjectRole
    offering_user: OfferingUser | None
    # What the site agent last reported of this person's grants at the backend (offerings that opt in).
    sync: tuple[MemberSyncStatus, ...] = ()


@dataclass(frozen=True)
class LimitRow:
    status: metering.ComponentStatus
    runs_out: str  # the forecast's day the limit runs out ("" when it does not, or no forecast)
    rate_per_day: str


def _resource(queryset: QuerySet[Resource], uuid: str) -> Resource:
    active = Order.objects.filter(resource=OuterRef("pk"), state__in=list(ACTIVE_ORDER_STATES))
    qs = queryset.select_related("offering__customer", "project__customer", "plan", "forecast")
    return get_by_uuid(with_awaiting_approval(qs.annotate(has_active_order=Exists(active))), uuid)


def _accounts(resource: Resource, sorting: Sorting, *, member_sync: bool) -> list[Account]:
    roles = list(
        sorting.order(ProjectRole.objects.filter(project_id=resource.project_id).select_related("user"))
    )
    by_user = {
        account.user_id: account
        for account in OfferingUser.objects.filter(
            offering_id=resource.offering_id, user_id__in=[role.user_id for role in roles]
        )
    }
    synced: dict[int, list[MemberSyncStatus]] = {}
    if member_sync:
        reported = MemberSyncStatus.objects.filter(resource=resource).order_by("role_name", "pk")
        for status in reported:
            synced.setdefault(status.user_id, []).append(status)
    return [Account(role, by_user.get(role.user_id), tuple(synced.get(role.user_id, ()))) for role in roles]


def _limits(resource: Resource, statuses: list[metering.ComponentStatus]) -> list[LimitRow]:
    try:
        forecast: ResourceForecast | None = resource.forecast
    except ResourceForecast.DoesNotExist:
        forecast = None
    components = forecast.components if forecast is not None else {}
    rows = []
    for status in statuses:
        predicted = components.get(status.type) or {}
        rows.append(
            LimitRow(status, str(predicted.get("runs_out") or ""), str(predicted.get("rate_per_day") or ""))
        )
    return rows


def _context(
    request: HttpRequest, resource: Resource, orders: QuerySet[Order], *, order_view: str
) -> tuple[dict[str, Any], list[metering.ComponentStatus]]:
    statuses = metering.summarise([resource], today=today()).get(resource.pk, [])
    # Two lists on one page: the orders sort with `?o=`, the team with `?team=`.
    order_sorting = Sorting(request, "allocation-orders", ALLOCATION_ORDER_COLUMNS, "-created")
    team_sorting = Sorting(request, "allocation-team", ACCOUNT_COLUMNS, "person", param="team")
    shown = list(
        order_sorting.order(orders.filter(resource=resource).select_related("created_by"))[:ORDERS_SHOWN]
    )
    member_sync = plugin_options.reports_membership_sync(resource.offering.plugin_options)
    context = {
        "resource": resource,
        "limits": _limits(resource, statuses),
        "accounts": _accounts(resource, team_sorting, member_sync=member_sync),
        "member_sync": member_sync,
        "sorting": order_sorting,
        "team_sorting": team_sorting,
        "endpoints": list(resource.endpoints.order_by("name", "pk")),
        "orders": shown,
        "order_view": order_view,
        "events": timeline(request.user, resource_id=resource.pk),
    }
    return context, statuses


@provider_workspace
def provider_allocation(request: HttpRequest, uuid: str) -> HttpResponse:
    user = request.user
    resource = _resource(workspace_resources(user), uuid)
    context, statuses = _context(request, resource, workspace_orders(user), order_view="web:order")
    grants = ProviderGrants(user, resources.ROW_PERMISSIONS)
    back = quote(request.get_full_path())
    context["actions"] = resources.row_actions(resource, user, statuses, grants, back)
    context["list_url"] = reverse("web:resources")
    context["list_name"] = "Resources"
    return render_workspace(request, "web/provider/allocation.html", context, section="resources")


@login_required
def consumer_allocation(request: HttpRequest, uuid: str) -> HttpResponse:
    user = request.user
    resource = _resource(consumer_resources(user), uuid)
    context, statuses = _context(request, resource, consumer_orders(user), order_view="web:my-order")
    grants = ProjectGrants(user, my_resources.ROW_PERMISSIONS)
    provider_grants = ProviderGrants(user, [Permission.RESOURCE_TERMINATE])
    has_limits = any(s.billing_type == metering.BT.LIMIT for s in statuses)
    context["actions"] = my_resources.resource_actions(
        resource, user, grants, provider_grants, has_limits, bool(statuses)
    )
    context["list_url"] = reverse("web:my-resources")
    context["list_name"] = "My resources"
    return render_consumer(request, "web/consumer/allocation.html", context, section="resources")
