"""Sign-in with the OpenID Connect issuer (mozilla-django-oidc's views): the start redirects to the
issuer, the callback signs the person in through django.contrib.auth.login (so `user_logged_in` fires).
Both answer 404 while EFP_OIDC_ISSUER is empty."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from efp.accounts.oidc import discovery


def failed(request: HttpRequest) -> HttpResponse:
    messages.error(request, f"Signing in with {settings.OIDC_LABEL} did not succeed. Please try again.")
    return redirect("web:login")


class Start(OIDCAuthenticationRequestView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)  # endpoints come with get()

    def get(self, request: HttpRequest) -> HttpResponse:
        if not discovery.configured():
            raise Http404()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery.issuer().authorization_endpoint
        except discovery.IssuerUnavailable:
            return failed(request)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        response: HttpResponse = super().get(request)
        return response


class Callback(OIDCAuthenticationCallbackView):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not discovery.configured():
            raise Http404()
        response: HttpResponse = super().get(request)
        return response

    def login_failure(self) -> HttpResponse:
        return failed(self.request)
