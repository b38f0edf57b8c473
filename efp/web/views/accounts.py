"""Login, logout, the home page and the profile with the API token."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from efp.accounts.services import get_or_create_token, regenerate_token
from efp.marketplace.selectors import is_provider_user, orders_awaiting_consumer
from efp.web.views.notifications import preferences_form


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Logs out (POST only) and says so on the login page it leads to."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:  # the session is new now: the message travels with it
            messages.success(request, "You have logged out.")
        return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "is_provider": is_provider_user(request.user),
        "awaiting": orders_awaiting_consumer(request.user).count(),
    }
    return render(request, "web/home.html", context)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    token = get_or_create_token(user=request.user)  # type: ignore[arg-type]
    context = {"token": token, "profile_page": True, "preferences_form": preferences_form(request)}
    return render(request, "web/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def regenerate(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST replaces the token (the old one stops working at once)."""
    if request.method == "POST":
        regenerate_token(user=request.user)  # type: ignore[arg-type]
        messages.success(request, "A new API token was created. The old token no longer works.")
        return redirect("web:profile")
    return render(request, "web/token_confirm.html")
