"""Login, logout, the home page and the profile with the API tokens."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from efp.accounts.models import ApiToken
from efp.accounts.oidc import discovery
from efp.accounts.oidc.passwords import password_login
from efp.accounts.services import issue_token, revoke_token
from efp.errors import DomainError, InvalidInput
from efp.events.models import Event
from efp.marketplace.selectors import (
    consumer_resources,
    is_provider_user,
    orders_awaiting_consumer,
    workspace_orders,
    workspace_resources,
)
from efp.marketplace.states import OrderState, ResourceState
from efp.notifications.services import unread_count
from efp.rest.addresses import client_address
from efp.structure.access import access_events, offerings_a_token_may_serve
from efp.web.forms import ApiTokenForm
from efp.web.views.common import current_user, error_text, get_by_uuid, today
from efp.web.views.notifications import preferences_form
from efp.web.views.resources import filter_resources


class PasswordForm(AuthenticationForm):
    """The login form; while EFP_PASSWORD_LOGIN=false it says so instead of judging the password."""

    def clean(self) -> dict[str, Any]:
        if not password_login():
            raise ValidationError("Signing in with a password is switched off.", code="password_login_off")
        return super().clean()


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = PasswordForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_login"] = password_login()
        context["oidc_label"] = settings.OIDC_LABEL if discovery.configured() else ""
        return context


class LogoutView(auth_views.LogoutView):
    """Logs out (POST only) and says so on the login page it leads to."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:  # the session is new now: the message travels with it
            messages.success(request, "You have logged out.")
        return response


@dataclass
class Waiting:
    """A count on the landing page and the list it opens."""

    count: int
    title: str
    url: str
    note: str = ""


def _url(name: str, **params: Any) -> str:
    return reverse(name) + ("?" + urlencode(params) if params else "")


ENDING_DAYS = 30


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What waits for me: counts from the selectors and filters the lists use, each linking to its list
    (a fixed number of queries, whatever the counts)."""
    user, day = request.user, today()
    approvals = orders_awaiting_consumer(user).count()
    ending = {"ending_within": ENDING_DAYS}
    consumer = [
        Waiting(approvals, "orders waiting for my approval", _url("web:my-orders"), "as consumer"),
        Waiting(
            filter_resources(consumer_resources(user), ending, day).count(),
            f"of my resources ending within {ENDING_DAYS} days",
            _url("web:my-resources", o="end_date"),
            "ask for more time",
        ),
        Waiting(unread_count(user), "unread notifications", _url("web:notifications")),
    ]
    provider: list[Waiting] = []
    is_provider = is_provider_user(user)
    if is_provider:
        resources = workspace_resources(user)
        erred = {"state": [ResourceState.ERRED.value]}
        provider = [
            Waiting(
                workspace_orders(user).filter(state=OrderState.PENDING_PROVIDER).count(),
                "orders waiting for my approval",
                _url("web:orders"),
                "as provider",
            ),
            Waiting(
                filter_resources(resources, erred, day).count(),
                "resources in error",
                _url("web:resources", state=ResourceState.ERRED.value),
                "need attention",
            ),
            Waiting(
                filter_resources(resources, ending, day).count(),
                f"resources ending within {ENDING_DAYS} days",
                _url("web:resources", ending_within=ENDING_DAYS),
                "renew or let them end",
            ),
        ]
    context = {
        "is_provider": is_provider,
        "consumer_waiting": consumer,
        "provider_waiting": provider,
        "consumer_section": "home",
        "approval_count": approvals,
    }
    return render(request, "web/home.html", context)


ACCESS_RECORD_ROWS = 20


def profile_context(request: HttpRequest, **more: Any) -> dict[str, Any]:
    """The profile page: who I am, my API tokens (newest first), my record of access and the e-mail
    preferences."""
    user = current_user(request)
    tokens = (
        ApiToken.objects.filter(user=user).select_related("offering").order_by("revoked", "-created", "-pk")
    )
    own = Event.objects.filter(user_id=user.pk).only("created", "event_type", "message", "context")
    return {
        "profile_page": True,
        "tokens": tokens,
        "token_form": ApiTokenForm(offerings=offerings_a_token_may_serve(user)),
        "preferences_form": preferences_form(request),
        "access_record": list(access_events(user).filter(own)[:ACCESS_RECORD_ROWS]),
        **more,
    }


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "web/profile.html", profile_context(request))


@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    """Makes a token and shows its key on this one page; only its digest is kept."""
    user = current_user(request)
    form = ApiTokenForm(request.POST, offerings=offerings_a_token_may_serve(user))
    if form.is_valid():
        expires = form.cleaned_data["expires"]
        try:
            token, key = issue_token(
                user=user,
                name=form.cleaned_data["name"],
                expires=expires and _end_of(expires),
                offering=form.cleaned_data.get("offering"),
                address=client_address(request),
            )
        except InvalidInput as error:
            for field, errors in error.field_errors().items():
                for message in errors if isinstance(errors, list) else [errors]:
                    form.add_error(field if field in form.fields else None, str(message))
        else:
            return render(
                request, "web/token_created.html", {"token": token, "key": key, "profile_page": True}
            )
    return render(request, "web/profile.html", profile_context(request, token_form=form), status=400)


def _end_of(day: datetime.date) -> datetime.datetime:
    """A token that expires on a day works until that day's end (in the server's time zone)."""
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()))


@login_required
@require_http_methods(["GET", "POST"])
def revoke(request: HttpRequest, uuid: str) -> HttpResponse:
    """GET asks for confirmation; POST revokes the token (it stops working at once)."""
    token = get_by_uuid(ApiToken.objects.filter(user=current_user(request)), uuid)
    if request.method == "POST":
        try:
            revoke_token(token=token, by=request.user, address=client_address(request))
        except DomainError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, f"The token “{token.name}” was revoked. It no longer works.")
        return redirect("web:profile")
    return render(request, "web/token_confirm.html", {"token": token, "profile_page": True})
