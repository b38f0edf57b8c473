from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from efp.accounts import api as accounts_api
from efp.marketplace.api import urls as marketplace_urls
from efp.structure import api as structure_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("customers", structure_api.CustomerViewSet, basename="customer")
router.register("projects", structure_api.ProjectViewSet, basename="project")
marketplace_urls.register(router)

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/version/", accounts_api.version, name="version"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's script from a URL: the Content-Security-Policy allows no inline one.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="web/swagger_ui.html"),
        name="api-docs",
    ),
    path("api-auth/password/", accounts_api.obtain_token, name="api-auth-password"),
    path("admin/", admin.site.urls),
    path("", include("efp.web.urls")),
]
