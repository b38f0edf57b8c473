"""The filters of `GET /api/marketplace-orders/` (docs/contract.md §5.5)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django_filters.rest_framework import BooleanFilter  # accepts true/false/True/1/0 (docs/contract.md §1.5)

from efp.marketplace.api.common import HyperlinkUUIDFilter
from efp.marketplace.models import OfferingRole, Order
from efp.marketplace.states import OrderState, OrderType
from efp.rest.filters import (
    ConstantChoiceFilter,
    FilterSet,
    IsoDateTimeFilter,
    MultipleStringFilter,
    MultipleUUIDFilter,
    uuid_or_none,
)
from efp.structure import access
from efp.structure.roles import Permission


class OrderFilter(FilterSet):
    # distinct=False: a column of the order itself, no join to de-duplicate (DISTINCT over a page of wide
    # joined rows cost seconds at scale). States as constants: the agent's poll uses the partial index
    # `order_active_by_offering` under prepared statements too (efp.rest.filters.ConstantChoiceFilter).
    state = ConstantChoiceFilter(choices=OrderState.choices)
    type = django_filters.MultipleChoiceFilter(choices=OrderType.choices, distinct=False)
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    offering = HyperlinkUUIDFilter(field_name="offering__uuid")
    offering_type = MultipleStringFilter(field_name="offering__type")
    offering_slug = MultipleStringFilter(field_name="offering__slug")
    project_uuid = MultipleUUIDFilter(field_name="project__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="project__customer__uuid")
    provider_uuid = MultipleUUIDFilter(field_name="offering__customer__uuid")
    category_uuid = MultipleUUIDFilter(field_name="offering__category__uuid")
    resource_uuid = MultipleUUIDFilter(field_name="resource__uuid")
    resource = HyperlinkUUIDFilter(field_name="resource__uuid")
    resource_name = django_filters.CharFilter(field_name="resource__name", lookup_expr="icontains")
    service_manager_uuid = django_filters.UUIDFilter(method="filter_service_manager")
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lt")
    can_approve_as_consumer = BooleanFilter(method="filter_can_approve_as_consumer")
    can_approve_as_provider = BooleanFilter(method="filter_can_approve_as_provider")
    query = django_filters.CharFilter(method="filter_query")
    # 8.x filters on things this service never has (parent offerings, auto-approval rules): a well-formed
    # value matches what such an order would, i.e. nothing, instead of being ignored.
    parent_offering_uuid = MultipleUUIDFilter(method="filter_nothing_has_it")
    was_auto_approved = BooleanFilter(method="filter_nothing_has_it")

    class Meta:
        model = Order
        fields: list[str] = []

    def _user(self) -> Any:
        return getattr(self.request, "user", None)

    def filter_nothing_has_it(self, qs: QuerySet[Order], name: str, value: Any) -> QuerySet[Order]:
        return qs.none() if value else qs

    def filter_service_manager(self, qs: QuerySet[Order], name: str, value: Any) -> QuerySet[Order]:
        offering_ids = OfferingRole.objects.filter(user__uuid=value).values("offering_id")
        return qs.filter(offering__shared=True, offering_id__in=offering_ids)

    def filter_can_approve_as_consumer(self, qs: QuerySet[Order], name: str, value: bool) -> QuerySet[Order]:
        if value is None:
            return qs
        pending = Q(state=OrderState.PENDING_CONSUMER)
        user = self._user()
        if not value:
            return qs.exclude(pending & self._consumer_approver_q(user))
        return qs.filter(pending & self._consumer_approver_q(user))

    def filter_can_approve_as_provider(self, qs: QuerySet[Order], name: str, value: bool) -> QuerySet[Order]:
        if value is None:
            return qs
        pending = Q(state=OrderState.PENDING_PROVIDER)
        user = self._user()
        if not value:
            return qs.exclude(pending & self._provider_approver_q(user))
        return qs.filter(pending & self._provider_approver_q(user))

    @staticmethod
    def _consumer_approver_q(user: Any) -> Q:
        if user is not None and user.is_staff:
            return Q()
        return access.permitted_projects(user, Permission.ORDER_APPROVE).q("project_id")

    @staticmethod
    def _provider_approver_q(user: Any) -> Q:
        if user is not None and user.is_staff:
            return Q()
        return access.permitted_offerings(user, Permission.ORDER_APPROVE).q("offering_id")

    def filter_query(self, qs: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        value = (value or "").strip()
        if not value:
            return qs
        key = uuid_or_none(value)
        if key is not None:
            return qs.filter(Q(uuid=key) | Q(resource__uuid=key) | Q(project__uuid=key))
        return qs.filter(
            Q(project__name__icontains=value)
            | Q(attributes__name__icontains=value)
            | Q(resource__name__icontains=value)
            | Q(project__slug__icontains=value)
        )
