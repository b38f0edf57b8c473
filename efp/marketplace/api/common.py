"""What every marketplace API family shares: the base serializer, the offering and plan fields of orders
and resources, input checks and the bodies of action responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.marketplace import tallies
from efp.marketplace.models import Plan
from efp.rest.fields import (
    NULL_URI,
    HexUUIDField,
    LinkField,
    SparseFieldsMixin,
    UTCDateTimeField,
    absolute_url,
)
from efp.rest.filters import uuid_or_none
from efp.rest.representation import CompiledRepresentation


class WaldurModelSerializer(CompiledRepresentation, SparseFieldsMixin, serializers.ModelSerializer):
    """Every model DateTimeField renders in UTC with `Z`; every UUIDField as hex. Rows render through
    precompiled field getters (efp.rest.representation): DRF's output, at a fraction of the cost."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
        models.UUIDField: HexUUIDField,
    }


def public_plan_url(request: Any, plan: Plan | None) -> str | None:
    if plan is None:
        return None
    return absolute_url(
        request,
        "marketplace-public-offering-plan-detail",
        uuid=plan.offering.uuid.hex,
        plan_uuid=plan.uuid.hex,
    )


@extend_schema_field(OpenApiTypes.URI)
class PublicPlanLinkField(serializers.Field):
    def __init__(self, attr: str = "plan", **kwargs: Any) -> None:
        self.attr = attr
        kwargs.update(read_only=True, source="*", allow_null=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        plan = getattr(value, self.attr)
        if plan is None:
            return None
        if plan.offering_id == getattr(value, "offering_id", None):
            # The plan of an order or resource belongs to its offering, which the list has joined already.
            return absolute_url(
                self.context.get("request"),
                "marketplace-public-offering-plan-detail",
                uuid=value.offering.uuid.hex,
                plan_uuid=plan.uuid.hex,
            )
        return public_plan_url(self.context.get("request"), plan)


class OfferingPlanFieldsSerializer(WaldurModelSerializer):
    """The offering, provider, category and plan fields that orders and resources share
    (docs/contract.md §6.2)."""

    offering = LinkField("marketplace-public-offering-detail", attr="offering")
    offering_name = serializers.CharField(source="offering.name", read_only=True)
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True)
    offering_description = serializers.CharField(source="offering.description", read_only=True)
    offering_image = serializers.SerializerMethodField()
    offering_thumbnail = serializers.SerializerMethodField()
    offering_type = serializers.CharField(source="offering.type", read_only=True)
    offering_terms_of_service = serializers.CharField(source="offering.terms_of_service", read_only=True)
    offering_shared = serializers.BooleanField(source="offering.shared", read_only=True)
    offering_billable = serializers.BooleanField(source="offering.billable", read_only=True)
    offering_plugin_options = serializers.JSONField(source="offering.plugin_options", read_only=True)
    provider_name = serializers.CharField(source="offering.customer.name", read_only=True)
    provider_uuid = HexUUIDField(source="offering.customer.uuid", read_only=True)
    provider_slug = serializers.CharField(source="offering.customer.slug", read_only=True)
    provider_description = serializers.SerializerMethodField()
    category_title = serializers.CharField(source="offering.category.title", read_only=True)
    category_uuid = HexUUIDField(source="offering.category.uuid", read_only=True)
    category_icon = serializers.SerializerMethodField()
    plan = PublicPlanLinkField()
    plan_unit = serializers.CharField(source="plan.unit", read_only=True, default=None)
    plan_name = serializers.CharField(source="plan.name", read_only=True, default=None)
    plan_uuid = HexUUIDField(source="plan.uuid", read_only=True, default=None)
    plan_description = serializers.CharField(source="plan.description", read_only=True, default=None)
    attributes = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    modified = UTCDateTimeField(read_only=True)

    SHARED_FIELDS = (
        "offering", "offering_name", "offering_uuid", "offering_description", "offering_image",
        "offering_thumbnail", "offering_type", "offering_terms_of_service", "offering_shared",
        "offering_billable", "offering_plugin_options", "provider_name", "provider_uuid", "provider_slug",
        "provider_description", "category_title", "category_uuid", "category_icon", "plan", "plan_unit",
        "plan_name", "plan_uuid", "plan_description", "attributes", "limits", "uuid", "created", "modified",
    )  # fmt: skip

    @extend_schema_field(NULL_URI)
    def get_offering_image(self, obj: Any) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_offering_thumbnail(self, obj: Any) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_category_icon(self, obj: Any) -> None:
        return None

    def get_provider_description(self, obj: Any) -> str:
        provider = getattr(obj.offering.customer, "service_provider", None)
        return provider.description if provider is not None else ""

    def get_attributes(self, obj: Any) -> dict[str, Any]:
        return dict(obj.attributes or {})

    def get_limits(self, obj: Any) -> dict[str, Any]:
        return dict(obj.limits or {})


class DetailResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StatusResponseSerializer(serializers.Serializer):
    status = serializers.CharField()


class OrderUuidResponseSerializer(serializers.Serializer):
    order_uuid = HexUUIDField()


class HyperlinkUUIDFilter(django_filters.CharFilter):
    """Filters by an object URL: its last path segment is the uuid."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        key = uuid_or_none(str(value).rstrip("/").rsplit("/", 1)[-1])
        if key is None:
            return qs.none()
        return qs.filter(**{self.field_name: key})


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def no_nul_characters(value: Any) -> None:
    """PostgreSQL's jsonb refuses \\u0000: a 400 instead of a server error."""
    if _has_nul(value):
        raise serializers.ValidationError("Null characters are not allowed.")


class TalliedListMixin:
    """A list whose `X-Result-Count` is read from the tally when its filters allow (efp.marketplace.tallies);
    put before ReadOnlyViewSet among the bases."""

    tally: tallies.TalliedList

    def count_fast_path(self) -> Callable[[], int] | None:
        if self.action != "list":  # type: ignore[attr-defined]
            return None
        request = self.request  # type: ignore[attr-defined]
        if getattr(request.auth, "offering_id", None) is not None:
            return None  # a token limited to an offering lists fewer rows than the tally knows of
        return tallies.counter(self.tally, request.user, dict(request.query_params.lists()))
