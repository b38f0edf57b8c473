"""What a resource's representation reads: joined, prefetched or annotated once per page, and only what
the kept fields (`?field=`) need."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from rest_framework import serializers

from efp.marketplace.models import OfferingComponent, Order, Resource, ResourceEndpoint
from efp.marketplace.states import ACTIVE_ORDER_STATES
from efp.rest.fields import LinkField

RESOURCE_RELATIONS = (
    "offering__customer__service_provider",
    "offering__category",
    "plan",
    "project__customer",
    "project__end_date_requested_by",
    "end_date_requested_by",
    "forecast",
)


# What the computed fields of ResourceSerializer read beyond the resource row: relations to join, and
# "components", "endpoints", "has_active_order", "usage_sums" for the per-page extras. Plain fields (and
# links) declare theirs by their source; a computed field missing here makes a page load everything.
RESOURCE_FIELD_NEEDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "scope", "resource_uuid", "resource_type", "offering_image", "offering_thumbnail",
            "category_icon", "username", "available_actions", "user_requires_reconsent", "renewal_date",
            "attributes", "limits", "backend_metadata", "current_usages", "options",
        ),
        (),
    ),
    "provider_description": ("offering__customer__service_provider",),
    "plan": ("plan", "offering"),
    "offering_components": ("offering", "components"),
    "is_usage_based": ("offering", "components"),
    "is_limit_based": ("offering", "components"),
    "limit_usage": ("offering", "components", "usage_sums"),
    "endpoints": ("endpoints",),
    "can_terminate": ("has_active_order",),
    "usage_flags": ("forecast",),
    "limit_forecasts": ("forecast",),
}  # fmt: skip


EXTRAS = frozenset({"components", "endpoints", "has_active_order", "usage_sums"})


def resource_needs(fields: Iterable[serializers.Field]) -> set[str] | None:
    """The relations and extras the given serializer fields read; None when one of them is not known."""
    needs: set[str] = set()
    for field in fields:
        if field.field_name in RESOURCE_FIELD_NEEDS:
            needs.update(RESOURCE_FIELD_NEEDS[field.field_name])
        elif isinstance(field, LinkField):
            needs.update([field.attr.replace(".", "__")] if field.attr else [])
        elif isinstance(field, serializers.SerializerMethodField):
            return None
        elif len(field.source_attrs) > 1:
            needs.add("__".join(field.source_attrs[:-1]))
    return needs


def resource_queryset(qs: QuerySet[Resource], needs: set[str] | None = None) -> QuerySet[Resource]:
    """Resources with what their serializer reads; with `needs` (`resource_needs`), only that."""
    if needs is None:
        needs = {*RESOURCE_RELATIONS, *EXTRAS}
    relations = sorted(need for need in needs if need not in EXTRAS)
    qs = qs.select_related(*relations) if relations else qs
    if "components" in needs:
        qs = qs.prefetch_related(
            Prefetch("offering__components", queryset=OfferingComponent.objects.order_by("pk"))
        )
    if "endpoints" in needs:
        qs = qs.prefetch_related(Prefetch("endpoints", queryset=ResourceEndpoint.objects.order_by("pk")))
    if "has_active_order" in needs:
        active = Order.objects.filter(resource=OuterRef("pk"), state__in=list(ACTIVE_ORDER_STATES))
        qs = qs.annotate(has_active_order=Exists(active))
    return qs


def ordered_by_project_name(qs: QuerySet[Resource]) -> QuerySet[Resource]:
    """`o=project_name` orders by an annotation (added only then: counting pages would join for it)."""
    return qs.annotate(project_name=F("project__name"))
