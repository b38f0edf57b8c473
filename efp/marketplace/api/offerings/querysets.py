"""What an offering's or a plan's representation reads, in the same query."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from efp.marketplace.models import Offering, OfferingPartition, Plan, PlanComponent
from efp.marketplace.states import ResourceState


def plan_queryset(qs: QuerySet[Plan]) -> QuerySet[Plan]:
    alive = ~Q(resources__state=ResourceState.TERMINATED) & Q(resources__isnull=False)
    return (
        qs.select_related("offering")
        .prefetch_related(Prefetch("components", queryset=PlanComponent.objects.select_related("component")))
        .annotate(resources_count=Count("resources", filter=alive, distinct=True))
    )


def offering_queryset(qs: QuerySet[Offering]) -> QuerySet[Offering]:
    return qs.select_related("customer", "category").prefetch_related(
        "components",
        Prefetch("plans", queryset=plan_queryset(Plan.objects.all())),
        Prefetch("partitions", queryset=OfferingPartition.objects.order_by("partition_name", "pk")),
    )
