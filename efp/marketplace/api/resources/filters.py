"""The filters of the resource lists (docs/contract.md §6.1)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from efp.marketplace.api.common import HyperlinkUUIDFilter
from efp.marketplace.api.resources.serializers import BT
from efp.marketplace.forecasts import FLAG_CHOICES
from efp.marketplace.models import OfferingComponent, OfferingRole, Order, Resource
from efp.marketplace.selectors import with_usage_flag
from efp.marketplace.states import OrderState, ResourceState
from efp.rest.filters import (
    FilterSet,
    IsoDateTimeFilter,
    MultipleStringFilter,
    MultipleUUIDFilter,
    uuid_or_none,
)


def _component_exists(billing_type: str) -> Exists:
    return Exists(OfferingComponent.objects.filter(offering=OuterRef("offering"), billing_type=billing_type))


class ResourceFilter(FilterSet):
    """Contract §6.1."""

    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    offering = HyperlinkUUIDFilter(field_name="offering__uuid")
    offering_type = MultipleStringFilter(field_name="offering__type")
    offering_slug = MultipleStringFilter(field_name="offering__slug")
    offering_billable = django_filters.BooleanFilter(field_name="offering__billable")
    offering_shared = django_filters.BooleanFilter(field_name="offering__shared")
    project_uuid = MultipleUUIDFilter(field_name="project__uuid")
    project_name = django_filters.CharFilter(field_name="project__name", lookup_expr="icontains")
    customer_uuid = MultipleUUIDFilter(field_name="project__customer__uuid")
    customer = HyperlinkUUIDFilter(field_name="project__customer__uuid")
    provider_uuid = MultipleUUIDFilter(field_name="offering__customer__uuid")
    category_uuid = MultipleUUIDFilter(field_name="offering__category__uuid")
    plan_uuid = MultipleUUIDFilter(field_name="plan__uuid")
    service_manager_uuid = django_filters.UUIDFilter(method="filter_service_manager")
    state = django_filters.MultipleChoiceFilter(choices=ResourceState.choices, distinct=False)
    order_state = django_filters.MultipleChoiceFilter(
        choices=OrderState.choices, method="filter_order_state", distinct=False
    )
    backend_id = django_filters.CharFilter(field_name="backend_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter(field_name="slug")
    query = django_filters.CharFilter(method="filter_query")
    runtime_state = django_filters.CharFilter(field_name="backend_metadata__runtime_state")
    downscaled = django_filters.BooleanFilter()
    restrict_member_access = django_filters.BooleanFilter()
    paused = django_filters.BooleanFilter()
    has_terminate_date = django_filters.BooleanFilter(
        field_name="end_date", lookup_expr="isnull", exclude=True
    )
    usage_based = django_filters.BooleanFilter(method="filter_usage_based")
    limit_based = django_filters.BooleanFilter(method="filter_limit_based")
    only_usage_based = django_filters.BooleanFilter(method="filter_only_usage_based")
    only_limit_based = django_filters.BooleanFilter(method="filter_only_limit_based")
    usage_flag = django_filters.ChoiceFilter(choices=FLAG_CHOICES, method="filter_usage_flag")  # ours
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lt")

    class Meta:
        model = Resource
        fields: list[str] = []

    def filter_service_manager(self, qs: QuerySet[Resource], name: str, value: Any) -> QuerySet[Resource]:
        return qs.filter(offering_id__in=OfferingRole.objects.filter(user__uuid=value).values("offering_id"))

    def filter_order_state(self, qs: QuerySet[Resource], name: str, value: list[str]) -> QuerySet[Resource]:
        if not value:
            return qs
        return qs.filter(pk__in=Order.objects.filter(state__in=value).values("resource_id"))

    def filter_usage_flag(self, qs: QuerySet[Resource], name: str, value: str) -> QuerySet[Resource]:
        return with_usage_flag(qs, value) if value else qs

    def filter_query(self, qs: QuerySet[Resource], name: str, value: str) -> QuerySet[Resource]:
        value = (value or "").strip()
        if not value:
            return qs
        key = uuid_or_none(value)
        if key is not None:
            return qs.filter(uuid=key)
        return qs.filter(
            Q(name__icontains=value)
            | Q(slug__icontains=value)
            | Q(backend_id__iexact=value)
            | Q(effective_id__iexact=value)
        )

    def _by_components(
        self, qs: QuerySet[Resource], has: dict[str, bool], value: bool | None
    ) -> QuerySet[Resource]:
        if value is None:
            return qs
        condition = Q()
        for billing_type, present in has.items():
            exists = _component_exists(billing_type)
            condition &= Q(exists) if present else ~Q(exists)
        return qs.filter(condition) if value else qs.exclude(condition)

    def filter_usage_based(self, qs: QuerySet[Resource], name: str, value: bool | None) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.USAGE: True}, value)

    def filter_limit_based(self, qs: QuerySet[Resource], name: str, value: bool | None) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.LIMIT: True}, value)

    def filter_only_usage_based(
        self, qs: QuerySet[Resource], name: str, value: bool | None
    ) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.USAGE: True, BT.LIMIT: False}, value)

    def filter_only_limit_based(
        self, qs: QuerySet[Resource], name: str, value: bool | None
    ) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.LIMIT: True, BT.USAGE: False}, value)
