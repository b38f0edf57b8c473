"""The filters of `GET /api/events/` (Waldur's `EventFilter` and `EventFilterBackend`).

`scope` is the URL of an object this API serves; it matches the events naming that object, and only when
the user may GET the URL (Waldur resolves it through the view's queryset): another user's object gives an
empty list, a URL naming no object type we serve 400. `created_from` / `created_to` take Waldur's unix
seconds (and ISO 8601 too), from inclusive, to exclusive.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from efp.accounts.models import User
from efp.events.catalogue import GROUPS
from efp.events.models import Event
from efp.marketplace import selectors
from efp.rest.filters import FilterSet, MultipleStringFilter, MultipleUUIDFilter, split_values
from efp.structure.models import Customer, Project
from efp.structure.selectors import visible_customers, visible_projects

# The URL prefix of each object an event may name: the event's column, and what the user may GET there.
SCOPES: dict[str, tuple[str, Callable[[Any], QuerySet[Any]]]] = {
    "customers": ("customer_id", visible_customers),
    "projects": ("project_id", visible_projects),
    "marketplace-provider-offerings": ("offering_id", selectors.provider_offerings),
    "marketplace-public-offerings": ("offering_id", selectors.public_offerings),
    "marketplace-resources": ("resource_id", selectors.consumer_resources),
    "marketplace-provider-resources": ("resource_id", selectors.provider_resources),
    "marketplace-orders": ("order_id", selectors.visible_orders),
}
SCOPE_PATH = re.compile(
    r"(?:/[^/]+)*/api/(?P<prefix>[a-z-]+)/(?P<key>[^/]+)/?"
)  # a script prefix may come first
SCOPE_ERROR = "The scope must be the URL of an organisation, project, offering, resource or order."


class ScopeField(forms.CharField):
    """A scope URL (absolute, or its path) → (event column, object uuid, visible queryset)."""

    def clean(self, value: Any) -> tuple[str, uuid.UUID, Callable[[Any], QuerySet[Any]]] | None:
        value = super().clean(value)
        if not value:
            return None
        match = SCOPE_PATH.fullmatch(urlsplit(value).path)
        if match is None or match.group("prefix") not in SCOPES:
            raise ValidationError(SCOPE_ERROR, code="invalid")
        try:
            key = uuid.UUID(match.group("key"))
        except ValueError as error:
            raise ValidationError(SCOPE_ERROR, code="invalid") from error
        column, visible = SCOPES[match.group("prefix")]
        return column, key, visible


@extend_schema_field(OpenApiTypes.URI)
class ScopeFilter(django_filters.Filter):
    field_class = ScopeField

    def filter(self, qs: QuerySet[Event], value: Any) -> QuerySet[Event]:
        if not value:
            return qs
        column, key, visible = value
        user = getattr(self.parent.request, "user", None)
        found = visible(user).filter(uuid=key).values_list("pk", flat=True).first()
        if found is None:
            return qs.none()
        return qs.filter(**{column: found})


class TimestampField(forms.CharField):
    """Unix seconds (Waldur's TimestampFilter) or an ISO 8601 datetime, as an aware datetime."""

    def clean(self, value: Any) -> datetime.datetime | None:
        value = (super().clean(value) or "").strip()
        if not value:
            return None
        try:
            return datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
        except (ValueError, OverflowError, OSError):
            pass
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError("Enter a unix timestamp or an ISO 8601 date and time.", code="invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment


@extend_schema_field(OpenApiTypes.NUMBER)  # Waldur's unix seconds (ISO 8601 is taken too)
class TimestampFilter(django_filters.Filter):
    field_class = TimestampField


class EventFilter(FilterSet):
    event_type = MultipleStringFilter(field_name="event_type")
    feature = MultipleStringFilter(method="filter_feature")  # Waldur: event groups, expanded to types
    scope = ScopeFilter()
    created_from = TimestampFilter(field_name="created", lookup_expr="gte")
    created_to = TimestampFilter(field_name="created", lookup_expr="lt")
    message = django_filters.CharFilter(lookup_expr="icontains")
    customer_uuid = MultipleUUIDFilter(method="filter_customer")
    project_uuid = MultipleUUIDFilter(method="filter_project")
    user_uuid = MultipleUUIDFilter(field_name="actor__uuid")  # who acted
    related_user_uuid = MultipleUUIDFilter(method="filter_related_user")  # whom a role event names

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_feature(self, qs: QuerySet[Event], name: str, value: Any) -> QuerySet[Event]:
        groups = split_values(value)
        if not groups:
            return qs
        return qs.filter(event_type__in=[t for group in groups for t in GROUPS.get(group, ())])

    def filter_customer(self, qs: QuerySet[Event], name: str, value: Any) -> QuerySet[Event]:
        if not value:
            return qs
        return qs.filter(customer_id__in=Customer.objects.filter(uuid__in=value).values("pk"))

    def filter_related_user(self, qs: QuerySet[Event], name: str, value: Any) -> QuerySet[Event]:
        if not value:
            return qs
        return qs.filter(user_id__in=User.objects.filter(uuid__in=value).values("pk"))

    def filter_project(self, qs: QuerySet[Event], name: str, value: Any) -> QuerySet[Event]:
        if not value:
            return qs
        return qs.filter(project_id__in=Project.objects.filter(uuid__in=value).values("pk"))


class AccessEventFilter(FilterSet):
    """`/api/access-events/`: by type, by the person an event names (`user_uuid`), by time."""

    event_type = MultipleStringFilter(field_name="event_type")
    user_uuid = MultipleUUIDFilter(method="filter_related_user")
    created_from = TimestampFilter(field_name="created", lookup_expr="gte")
    created_to = TimestampFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Event
        fields: list[str] = []

    filter_related_user = EventFilter.filter_related_user
