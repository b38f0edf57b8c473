from django.contrib.auth import views as auth_views
from django.urls import include, path

from efp.tests.oidc_provider import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
    path("test/jwt-access-token/", views.jwt_access_token),
]
