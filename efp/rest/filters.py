"""Shared filter pieces: `o=` ordering and UUID filters that take dashed or hex input."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.widgets import QueryArrayWidget
from rest_framework import filters


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, copying for a request only the filters its query string names.

    A filter whose parameter is absent filters nothing; django-filter deep-copies every declared filter
    and builds a form field for each on every request, which cost more than the SQL of a small list. The
    class keeps them all (the schema lists them); a filter counts as named when a parameter is its name
    or starts with it and `_` (range widgets read `x_after`, `x_min`).
    """

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:
            keys = list(data.keys())
            declared: dict[str, Any] = type(self).__dict__["base_filters"]  # set by the metaclass
            self.base_filters = {
                name: spec
                for name, spec in declared.items()
                if any(key == name or key.startswith(f"{name}_") for key in keys)
            }
        super().__init__(data, *args, **kwargs)


class OrderingFilter(filters.OrderingFilter):
    """`o=field` / `o=-field`, comma-separated; unknown fields are ignored; ties broken by primary key."""

    ordering_param = "o"

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            return queryset.order_by(*ordering, "pk")
        return queryset


def split_values(value: Any) -> list[str]:
    """Repeated keys and comma lists alike: QueryArrayWidget splits `a,b` only outside a QueryDict."""
    return [part.strip() for item in (value or []) if item for part in str(item).split(",") if part.strip()]


class MultipleUUIDFormField(forms.Field):
    widget = QueryArrayWidget

    def clean(self, value: Any) -> list[uuid.UUID]:
        values = split_values(value)
        result = []
        for item in values:
            try:
                result.append(uuid.UUID(item))
            except ValueError as error:
                raise ValidationError("Enter a valid UUID.", code="invalid") from error
        return result


class MultipleUUIDFilter(django_filters.Filter):
    """`?x_uuid=a&x_uuid=b` or `?x_uuid=a,b`, dashed or hex."""

    field_class = MultipleUUIDFormField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": value})


class MultipleStringFormField(forms.Field):
    widget = QueryArrayWidget

    def clean(self, value: Any) -> Any:
        # PostgreSQL refuses NUL bytes in text; answer 400 like Django's CharField instead of a 500.
        if any("\x00" in str(item) for item in (value or [])):
            raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
        return value


class MultipleStringFilter(django_filters.Filter):
    """Repeated keys (and comma lists) of loose strings, matched exactly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", QueryArrayWidget)
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)

    field_class = MultipleStringFormField

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        values = split_values(value)
        if not values:
            return qs
        return qs.filter(**{f"{self.field_name}__in": values})


# --- the values a hand-written fast path takes: only what every path reads alike, else None ---------

MAX_FAST_UUIDS = 100

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def plain_uuids(values: list[str]) -> list[uuid.UUID] | None:
    """MultipleUUIDFilter's values (repeated keys or comma lists, dashed or hex), or None when there are
    none, too many, or one is malformed (the generic path answers those)."""
    items = split_values(values)
    if not items or len(items) > MAX_FAST_UUIDS:
        return None
    try:
        return [uuid.UUID(item) for item in items]
    except ValueError:
        return None


def plain_date(values: list[str]) -> datetime.date | None:
    """DateFilter's value in the one format every date input accepts alike (YYYY-MM-DD), once, or None."""
    if len(values) != 1 or not ISO_DATE.fullmatch(values[0]):
        return None
    try:
        return datetime.date.fromisoformat(values[0])
    except ValueError:
        return None


def uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime moved to UTC: PostgreSQL refuses offsets past 15:59 (`-19:54`) with a 500."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        result = super().to_python(value)
        if result is None or result.tzinfo is None:
            return result
        try:
            return result.astimezone(datetime.UTC)
        except OverflowError as error:  # 0001-01-01T00:00-05:00 is before year 1 in UTC
            raise ValidationError("Enter a valid date/time.", code="invalid") from error


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField
