"""The filters of the catalogue lists: offerings, plans, service providers and their SSH keys."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import BooleanFilter  # accepts true/false/True/1/0 (docs/contract.md §1.5)

from efp.accounts.models import SshKey
from efp.marketplace.models import Offering, Plan, ServiceProvider
from efp.rest.filters import FilterSet, IsoDateTimeFilter, MultipleStringFilter, MultipleUUIDFilter


class OfferingFilter(FilterSet):
    customer_uuid = MultipleUUIDFilter(field_name="customer__uuid")
    category_uuid = MultipleUUIDFilter(field_name="category__uuid")
    state = django_filters.MultipleChoiceFilter(choices=Offering.State.choices, distinct=False)
    type = MultipleStringFilter(field_name="type")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter()
    shared = BooleanFilter()
    billable = BooleanFilter()
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lt")

    class Meta:
        model = Offering
        fields: list[str] = []


class PlanFilter(FilterSet):
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")

    class Meta:
        model = Plan
        fields: list[str] = []


class ServiceProviderFilter(FilterSet):
    customer_uuid = MultipleUUIDFilter(field_name="customer__uuid")

    class Meta:
        model = ServiceProvider
        fields: list[str] = []


class SshKeyFilter(FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    user_uuid = django_filters.UUIDFilter(field_name="user__uuid")
    fingerprint_md5 = django_filters.CharFilter()
    fingerprint_sha256 = django_filters.CharFilter()
    fingerprint_sha512 = django_filters.CharFilter()
    is_shared = BooleanFilter()
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lt")

    class Meta:
        model = SshKey
        fields: list[str] = []
