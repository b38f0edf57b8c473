from django.contrib.auth import views as auth_views
from django.urls import path

from efp.web.views import accounts, dashboard, orders, resources, usage

app_name = "web"

urlpatterns = [
    path("", accounts.home, name="home"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", accounts.profile, name="profile"),
    path("profile/token/", accounts.regenerate, name="regenerate-token"),
    path("provider/", dashboard.dashboard, name="dashboard"),
    path("provider/resources/", resources.resource_list, name="resources"),
    path("provider/resources/<str:uuid>/usage/", usage.show_usage, name="resource-usage"),
    path("provider/resources/<str:uuid>/usage.csv", usage.usage_csv, name="resource-usage-csv"),
    path("provider/resources/<str:uuid>/report/", usage.report_usage, name="resource-report"),
    path("provider/resources/<str:uuid>/backend-id/", resources.set_backend_id, name="resource-backend-id"),
    path("provider/resources/<str:uuid>/end-date/", resources.edit_end_date, name="resource-end-date"),
    path("provider/orders/", orders.order_list, name="orders"),
    path("provider/orders/bulk/", orders.bulk, name="orders-bulk"),
    path("provider/orders/<str:uuid>/", orders.order_detail, name="order"),
    path("provider/orders/<str:uuid>/approve/", orders.approve, name="order-approve"),
    path("provider/orders/<str:uuid>/reject/", orders.reject, name="order-reject"),
]
