from django.contrib.auth import views as auth_views
from django.urls import path

from efp.web.views import (
    accounts,
    catalogue,
    dashboard,
    my_orders,
    my_resources,
    notifications,
    orders,
    resources,
    teams,
    usage,
)

app_name = "web"

urlpatterns = [
    path("", accounts.home, name="home"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", accounts.profile, name="profile"),
    path("profile/token/", accounts.regenerate, name="regenerate-token"),
    path("profile/notifications/", notifications.preferences, name="notification-preferences"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.bell, name="notification-bell"),
    path("notifications/read-all/", notifications.mark_all_read, name="notifications-read-all"),
    path("notifications/<str:uuid>/read/", notifications.mark_read, name="notification-read"),
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
    # The consumer's workspace.
    path("marketplace/", catalogue.catalogue, name="catalogue"),
    path("marketplace/offerings/<str:uuid>/", catalogue.offering_detail, name="offering"),
    path("marketplace/offerings/<str:uuid>/order/", catalogue.order_form, name="order-form"),
    path("my/orders/", my_orders.order_list, name="my-orders"),
    path("my/orders/<str:uuid>/", my_orders.order_detail, name="my-order"),
    path("my/orders/<str:uuid>/approve/", my_orders.approve, name="my-order-approve"),
    path("my/orders/<str:uuid>/reject/", my_orders.reject, name="my-order-reject"),
    path("my/orders/<str:uuid>/cancel/", my_orders.cancel, name="my-order-cancel"),
    path("my/orders/<str:uuid>/delete/", my_orders.delete, name="my-order-delete"),
    path("my/resources/", my_resources.resource_list, name="my-resources"),
    path("my/resources/<str:uuid>/usage/", my_resources.show_usage, name="my-resource-usage"),
    path("my/resources/<str:uuid>/usage.csv", my_resources.usage_csv, name="my-resource-usage-csv"),
    path("my/resources/<str:uuid>/limits/", my_resources.change_limits, name="my-resource-limits"),
    path("my/resources/<str:uuid>/terminate/", my_resources.terminate, name="my-resource-terminate"),
    path("organisations/", teams.organisation_list, name="organisations"),
    path("organisations/<str:uuid>/", teams.organisation_detail, name="organisation"),
    path("organisations/<str:uuid>/projects/new/", teams.project_create, name="project-create"),
    path("organisations/<str:uuid>/team/add/", teams.organisation_team_add, name="organisation-team-add"),
    path(
        "organisations/<str:uuid>/team/<str:grant>/remove/",
        teams.organisation_team_remove,
        name="organisation-team-remove",
    ),
    path(
        "organisations/<str:uuid>/team/<str:grant>/end/",
        teams.organisation_team_end,
        name="organisation-team-end",
    ),
    path("projects/<str:uuid>/", teams.project_detail, name="project"),
    path("projects/<str:uuid>/edit/", teams.project_edit, name="project-edit"),
    path("projects/<str:uuid>/delete/", teams.project_delete, name="project-delete"),
    path("projects/<str:uuid>/team/add/", teams.project_team_add, name="project-team-add"),
    path(
        "projects/<str:uuid>/team/<str:grant>/remove/", teams.project_team_remove, name="project-team-remove"
    ),
    path("projects/<str:uuid>/team/<str:grant>/end/", teams.project_team_end, name="project-team-end"),
]
