from efp.marketplace.models.offerings import (
    Category,
    Offering,
    OfferingComponent,
    OfferingRole,
    OfferingType,
    Plan,
    PlanComponent,
    ServiceProvider,
)
from efp.marketplace.models.orders import Order, OrderEvent
from efp.marketplace.models.resources import Resource, ResourceEvent, ResourcePlanPeriod
from efp.marketplace.models.usage import ComponentUsage, ComponentUserUsage, UsageRevision

__all__ = [
    "Category",
    "ComponentUsage",
    "ComponentUserUsage",
    "Offering",
    "OfferingComponent",
    "OfferingRole",
    "OfferingType",
    "Order",
    "OrderEvent",
    "Plan",
    "PlanComponent",
    "Resource",
    "ResourceEvent",
    "ResourcePlanPeriod",
    "ServiceProvider",
    "UsageRevision",
]
