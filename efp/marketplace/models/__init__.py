from efp.marketplace.models.agents import AgentIdentity, AgentProcessor, AgentService
from efp.marketplace.models.forecasts import ResourceForecast
from efp.marketplace.models.history import AppendOnlyError, Tombstone
from efp.marketplace.models.member_sync import MemberSyncStatus
from efp.marketplace.models.offering_users import ComponentUserUsageLimit, OfferingUser
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
from efp.marketplace.models.partitions import OfferingPartition
from efp.marketplace.models.resources import Resource, ResourceEndpoint, ResourceEvent, ResourcePlanPeriod
from efp.marketplace.models.tallies import ListTally
from efp.marketplace.models.totals import ComponentMonthTotal, CoverageMonth, ResourceLimitUsage
from efp.marketplace.models.usage import (
    ComponentUsage,
    ComponentUserUsage,
    StagedUsageImport,
    UsageRevision,
    scope_of,
)

__all__ = [
    "AgentIdentity",
    "AgentProcessor",
    "AgentService",
    "AppendOnlyError",
    "Category",
    "ComponentMonthTotal",
    "ComponentUsage",
    "ComponentUserUsage",
    "ComponentUserUsageLimit",
    "CoverageMonth",
    "ListTally",
    "MemberSyncStatus",
    "Offering",
    "OfferingComponent",
    "OfferingPartition",
    "OfferingRole",
    "OfferingType",
    "OfferingUser",
    "Order",
    "OrderEvent",
    "Plan",
    "PlanComponent",
    "Resource",
    "ResourceEndpoint",
    "ResourceEvent",
    "ResourceForecast",
    "ResourceLimitUsage",
    "ResourcePlanPeriod",
    "ServiceProvider",
    "StagedUsageImport",
    "Tombstone",
    "UsageRevision",
    "scope_of",
]
