"""The filters of the site-agent and offering-user lists."""

from __future__ import annotations

import django_filters

from efp.marketplace.models import AgentIdentity, AgentService, OfferingUser
from efp.rest.filters import FilterSet, MultipleStringFilter, MultipleUUIDFilter


class AgentIdentityFilter(FilterSet):
    name = django_filters.CharFilter()
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    version = django_filters.CharFilter()

    class Meta:
        model = AgentIdentity
        fields: list[str] = []


class AgentServiceFilter(FilterSet):
    identity_uuid = MultipleUUIDFilter(field_name="identity__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="identity__offering__uuid")
    name = django_filters.CharFilter()
    mode = django_filters.CharFilter()
    state = MultipleStringFilter()

    class Meta:
        model = AgentService
        fields: list[str] = []


class OfferingUserFilter(FilterSet):
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    offering_slug = MultipleStringFilter(field_name="offering__slug")
    provider_uuid = django_filters.UUIDFilter(field_name="offering__customer__uuid")
    user_uuid = django_filters.UUIDFilter(field_name="user__uuid")
    user_username = django_filters.CharFilter(field_name="user__username")
    is_restricted = django_filters.BooleanFilter()
    state = django_filters.MultipleChoiceFilter(choices=OfferingUser.State.choices)

    class Meta:
        model = OfferingUser
        fields: list[str] = []
