from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/password/", accounts_api.obtain_token, name="api-auth-password"),
    path("admin/", admin.site.urls),
    path("", include("efp.web.urls")),
]
