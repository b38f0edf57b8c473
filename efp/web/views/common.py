"""Helpers shared by the provider workspace views."""

from __future__ import annotations

import datetime
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, cast

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from efp.accounts.models import User
from efp.errors import DomainError, Forbidden, InvalidInput, StateConflict
from efp.marketplace.selectors import orders_awaiting_consumer, workspace_count
from efp.marketplace.services.guard import Grants, Subject, refusals, verb_of
from efp.marketplace.states import OrderState
from efp.structure.models import Customer, CustomerRole

PAGE_SIZE = 25


@dataclass
class Action:
    """An item of a row's Actions menu."""

    label: str
    url: str
    reason: str = ""  # why it is disabled; empty when it applies

    @property
    def reason_key(self) -> str:
        """Items disabled for the same reason share its text (shown once) through this id part."""
        return f"{zlib.crc32(self.reason.encode()):08x}"


def verb_actions(
    obj: Subject, user: Any, buttons: list[tuple[str, str]], next_qs: str = "", **grants: Grants
) -> list[Action]:
    """One Action per (verb, route): the verb's label, disabled with the reason the verb is refused
    (`guard.refusal`; `grants` are `consumer_grants` / `provider_grants`, looked up once per page)."""
    refused = refusals(obj, user, [name for name, _ in buttons], **grants)
    actions = []
    for name, route in buttons:
        reason = refused[name]
        label = verb_of(name, obj).label
        actions.append(
            Action(label, reverse(route, args=[obj.uuid.hex]) + next_qs, reason.message if reason else "")
        )
    return actions


def render_workspace(
    request: HttpRequest, template: str, context: dict[str, Any], *, section: str, status: int = 200
) -> HttpResponse:
    """Renders a provider workspace page; the menu badge counts orders waiting for the provider."""
    context = {
        **context,
        "section": section,
        "workspace_names": workspace_names(request.user),
        "pending_count": workspace_count(request.user, "order", OrderState.PENDING_PROVIDER),
    }
    return render(request, template, context, status=status)


def render_consumer(
    request: HttpRequest, template: str, context: dict[str, Any], *, section: str, status: int = 200
) -> HttpResponse:
    """Renders a page of the consumer workspace; the menu badge counts orders waiting for my approval."""
    context = {
        **context,
        "consumer_section": section,
        "approval_count": orders_awaiting_consumer(request.user).count(),
    }
    return render(request, template, context, status=status)


def current_user(request: HttpRequest) -> User:
    """The signed-in user (workspace views are behind login_required)."""
    return cast(User, request.user)


def workspace_names(user: Any) -> str:
    """The provider organisations whose workspace this is (one query)."""
    if user.is_staff or getattr(user, "is_support", False):
        return "all providers"
    names = (
        Customer.objects.filter(service_provider__isnull=False)
        # Through the role manager, so that an expired role names no workspace.
        .filter(Q(roles__in=CustomerRole.objects.filter(user=user)) | Q(offerings__roles__user=user))
        .values_list("name", flat=True)
        .distinct()
        .order_by("name")
    )
    return ", ".join(names)


def filter_by_place(qs: QuerySet[Any], data: dict[str, Any]) -> QuerySet[Any]:
    """The offering, client organisation and project filters the order and resource lists share."""
    if data.get("offering"):
        qs = qs.filter(offering__uuid=data["offering"])
    if data.get("organisation"):
        qs = qs.filter(project__customer__uuid=data["organisation"])
    if data.get("project"):
        qs = qs.filter(project__name__icontains=data["project"].strip())
    return qs


def paginate(request: HttpRequest, items: Any, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def error_text(error: DomainError) -> str:
    if isinstance(error, InvalidInput):
        return error.summary()
    return str(error)


def status_of(error: DomainError) -> int:
    """The HTTP status a page answers with when a service refused: 403, 409 or 400."""
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, StateConflict):
        return 409
    return 400


def today() -> datetime.date:
    return timezone.localdate()


def get_by_uuid(queryset: Any, raw: str) -> Any:
    """The object with this UUID (hex or dashed) if the queryset holds it, else 404."""
    try:
        value = uuid.UUID(raw)
    except ValueError:
        raise Http404("No such object.") from None
    return get_object_or_404(queryset, uuid=value)


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default
