import sys
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path, re_path
from django.views import View, defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from efp import outage
from efp.accounts import api as accounts_api
from efp.hooks import api as hooks_api
from efp.invoices import api as invoices_api
from efp.marketplace.api import urls as marketplace_urls
from efp.notifications import api as notifications_api
from efp.request_size import API_PREFIXES
from efp.structure import api as structure_api
from efp.structure import token_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("api-tokens", token_api.ApiTokenViewSet, basename="api-token")  # EFP's, not Waldur's
router.register("customers", structure_api.CustomerViewSet, basename="customer")
router.register("projects", structure_api.ProjectViewSet, basename="project")
marketplace_urls.register(router)
router.register("notifications", notifications_api.NotificationViewSet, basename="notification")
hooks_api.register(router)
invoices_api.register(router)


class ApiNotFound(View):
    """A path under /api/ that no route serves, whatever the method."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return not_found(request, Http404())

    post = put = patch = delete = get


urlpatterns = [
    path("api/", include(router.urls)),
    path("api/version/", accounts_api.version, name="version"),
    path(
        "api/notification-preferences/",
        notifications_api.NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's script from a URL: the Content-Security-Policy allows no inline one.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="web/swagger_ui.html"),
        name="api-docs",
    ),
    path("api-auth/password/", accounts_api.obtain_token, name="api-auth-password"),
    path("admin/", admin.site.urls),
    # The last /api/ route: a path no route serves answers JSON even in debug mode, where Django would
    # render its HTML debug page instead of calling handler404 (the site agent reads every answer as JSON).
    re_path(r"^api(?:-auth)?/", ApiNotFound.as_view(), name="api-not-found"),
    path("", include("efp.web.urls")),
]


# Under /api/ every answer is JSON, the errors Django answers itself (no route, a crash) included, with
# DRF's words; the GUI keeps its pages.
def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if outage.is_outage(sys.exc_info()[1]):
        return outage.response(api=_is_api(request))
    if _is_api(request):
        return JsonResponse({"detail": "A server error occurred."}, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": str(exception) or "Forbidden."}, status=403)
    return defaults.permission_denied(request, exception)


handler400, handler403, handler404, handler500 = bad_request, forbidden, not_found, server_error
