"""The filters of the two usage lists (docs/contract.md §7.2, §8)."""

from __future__ import annotations

import django_filters
from django import forms

from efp.marketplace.api.common import HyperlinkUUIDFilter
from efp.marketplace.models import ComponentUsage, ComponentUserUsage
from efp.rest.filters import FilterSet, MultipleUUIDFilter


class WholeNumberFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def year_filter(field_name: str) -> WholeNumberFilter:
    return WholeNumberFilter(field_name=field_name, min_value=1, max_value=9999)


def month_filter(field_name: str) -> WholeNumberFilter:
    return WholeNumberFilter(field_name=field_name, min_value=1, max_value=12)


class ComponentUsageFilter(FilterSet):
    resource_uuid = MultipleUUIDFilter(field_name="resource__uuid")
    resource = HyperlinkUUIDFilter(field_name="resource__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="resource__offering__uuid")
    project_uuid = MultipleUUIDFilter(field_name="resource__project__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="resource__project__customer__uuid")
    type = django_filters.CharFilter(field_name="component__type")
    billing_period = django_filters.DateFilter(field_name="billing_period")
    billing_period_year = year_filter("billing_period__year")
    billing_period_month = month_filter("billing_period__month")
    date_after = django_filters.DateFilter(field_name="date__date", lookup_expr="gte")
    date_before = django_filters.DateFilter(field_name="date__date", lookup_expr="lte")

    class Meta:
        model = ComponentUsage
        fields: list[str] = []


class ComponentUserUsageFilter(FilterSet):
    resource_uuid = MultipleUUIDFilter(field_name="component_usage__resource__uuid")
    resource = HyperlinkUUIDFilter(field_name="component_usage__resource__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="component_usage__resource__offering__uuid")
    project_uuid = MultipleUUIDFilter(field_name="component_usage__resource__project__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="component_usage__resource__project__customer__uuid")
    component_usage_uuid = MultipleUUIDFilter(field_name="component_usage__uuid")
    type = django_filters.CharFilter(field_name="component_usage__component__type")
    component_usage__billing_period = django_filters.DateFilter(field_name="component_usage__billing_period")
    billing_period_year = year_filter("component_usage__billing_period__year")
    billing_period_month = month_filter("component_usage__billing_period__month")
    date_after = django_filters.DateFilter(field_name="component_usage__date__date", lookup_expr="gte")
    date_before = django_filters.DateFilter(field_name="component_usage__date__date", lookup_expr="lte")
    username = django_filters.CharFilter(field_name="username", lookup_expr="icontains")

    class Meta:
        model = ComponentUserUsage
        fields: list[str] = []
