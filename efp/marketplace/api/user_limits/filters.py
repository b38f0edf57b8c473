"""The filters of `/api/component-user-usage-limits/` (Waldur's: resource, offering, component type,
the offering user's username)."""

from __future__ import annotations

import django_filters

from efp.marketplace.api.common import HyperlinkUUIDFilter
from efp.marketplace.models import ComponentUserUsageLimit
from efp.rest.filters import FilterSet, MultipleUUIDFilter


class ComponentUserUsageLimitFilter(FilterSet):
    resource = HyperlinkUUIDFilter(field_name="resource__uuid")
    resource_uuid = MultipleUUIDFilter(field_name="resource__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="resource__offering__uuid")
    component_type = django_filters.CharFilter(field_name="component__type")
    username = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = ComponentUserUsageLimit
        fields: list[str] = []
