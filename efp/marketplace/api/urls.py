"""Registers the marketplace routes on the project's API router (Waldur's prefixes and route names)."""

from rest_framework.routers import BaseRouter

from efp.marketplace.api.agents import views as agents
from efp.marketplace.api.events import views as events
from efp.marketplace.api.offerings import views as offerings
from efp.marketplace.api.orders import views as orders
from efp.marketplace.api.reports import views as reports
from efp.marketplace.api.resources import views as resources
from efp.marketplace.api.usage import views as usage
from efp.marketplace.api.usage_imports import views as usage_imports
from efp.marketplace.api.user_limits import views as user_limits


def register(router: BaseRouter) -> None:
    router.register("marketplace-orders", orders.OrderViewSet, basename="marketplace-order")
    router.register(
        "marketplace-public-offerings",
        offerings.PublicOfferingViewSet,
        basename="marketplace-public-offering",
    )
    router.register(
        "marketplace-provider-offerings",
        offerings.ProviderOfferingViewSet,
        basename="marketplace-provider-offering",
    )
    router.register("marketplace-plans", offerings.PlanViewSet, basename="marketplace-plan")
    router.register("marketplace-categories", offerings.CategoryViewSet, basename="marketplace-category")
    router.register(
        "marketplace-service-providers",
        offerings.ServiceProviderViewSet,
        basename="marketplace-service-provider",
    )
    router.register(
        "marketplace-resources", resources.ConsumerResourceViewSet, basename="marketplace-resource"
    )
    router.register(
        "marketplace-provider-resources",
        resources.ProviderResourceViewSet,
        basename="marketplace-provider-resource",
    )
    router.register(
        "marketplace-component-usages", usage.ComponentUsageViewSet, basename="marketplace-component-usage"
    )
    router.register(
        "marketplace-component-user-usages",
        usage.ComponentUserUsageViewSet,
        basename="marketplace-component-user-usage",
    )
    router.register(
        "component-user-usage-limits",
        user_limits.ComponentUserUsageLimitViewSet,
        basename="component-user-usage-limit",
    )
    router.register(
        "marketplace-usage-imports", usage_imports.UsageImportViewSet, basename="marketplace-usage-import"
    )
    router.register(
        "marketplace-site-agent-identities",
        agents.AgentIdentityViewSet,
        basename="marketplace-site-agent-identity",
    )
    router.register(
        "marketplace-site-agent-services",
        agents.AgentServiceViewSet,
        basename="marketplace-site-agent-service",
    )
    router.register(
        "marketplace-site-agent-processors",
        agents.AgentProcessorViewSet,
        basename="marketplace-site-agent-processor",
    )
    router.register(
        "marketplace-offering-users", agents.OfferingUserViewSet, basename="marketplace-offering-user"
    )
    router.register(
        "marketplace-usage-coverage", reports.UsageCoverageViewSet, basename="marketplace-usage-coverage"
    )
    router.register(
        "marketplace-usage-reports", reports.UsageReportViewSet, basename="marketplace-usage-report"
    )
    router.register("events", events.EventViewSet, basename="event")
    router.register("access-events", events.AccessEventViewSet, basename="access-event")  # ours
