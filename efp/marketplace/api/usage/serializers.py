"""Component usages and per-user usages on the wire (docs/contract.md §7.1, §8), and the bodies of
`set_usage`, `set_user_usage` and `set_user_usages`."""

from __future__ import annotations

import uuid as uuid_lib
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlparse

from django.db.models import QuerySet
from django.urls import Resolver404, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.api.common import WaldurModelSerializer
from efp.marketplace.api.usage.pages import usage_field
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, ResourcePlanPeriod, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.usage import UserUsageItem
from efp.rest.fields import HexUUIDField, LinkField, UTCDateTimeField
from efp.structure.names import validate_name


class ComponentUsageSerializer(WaldurModelSerializer):
    type = serializers.CharField(source="component.type", read_only=True)
    name = serializers.CharField(source="component.name", read_only=True)
    measured_unit = serializers.CharField(source="component.measured_unit", read_only=True)
    usage = usage_field(read_only=True)
    resource_name = serializers.CharField(source="resource.name", read_only=True)
    resource_uuid = HexUUIDField(source="resource.uuid", read_only=True)
    offering_name = serializers.CharField(source="resource.offering.name", read_only=True)
    offering_uuid = HexUUIDField(source="resource.offering.uuid", read_only=True)
    project_name = serializers.CharField(source="resource.project.name", read_only=True)
    project_uuid = HexUUIDField(source="resource.project.uuid", read_only=True)
    customer_name = serializers.CharField(source="resource.project.customer.name", read_only=True)
    customer_uuid = HexUUIDField(source="resource.project.customer.uuid", read_only=True)
    modified_by = serializers.IntegerField(source="modified_by_id", read_only=True)
    # Ours (docs/compatibility.md): the sum of the month's per-user rows, and whether it passes the total.
    users_usage = usage_field(read_only=True, allow_null=True)
    users_exceed_usage = serializers.BooleanField(read_only=True)

    class Meta:
        model = ComponentUsage
        fields = (
            "uuid", "created", "description", "type", "name", "measured_unit", "usage", "date", "recurring",
            "resource_name", "resource_uuid", "offering_name", "offering_uuid", "project_name",
            "project_uuid", "customer_name", "customer_uuid", "billing_period", "modified_by",
            "users_usage", "users_exceed_usage",
        )  # fmt: skip
        read_only_fields = fields


class ComponentUserUsageSerializer(WaldurModelSerializer):
    """Reads the annotations of `user_usage_queryset` (one object a row, not eight)."""

    user = LinkField("user-detail", uuid_attr="user_uuid", allow_null=True)
    component_usage = LinkField("marketplace-component-usage-detail", uuid_attr="component_usage_uuid")
    usage = usage_field(read_only=True)
    measured_unit = serializers.CharField(read_only=True)
    resource_name = serializers.CharField(read_only=True)
    resource_uuid = HexUUIDField(read_only=True)
    offering_name = serializers.CharField(read_only=True)
    offering_uuid = HexUUIDField(read_only=True)
    project_name = serializers.CharField(read_only=True)
    project_uuid = HexUUIDField(read_only=True)
    customer_name = serializers.CharField(read_only=True)
    customer_uuid = HexUUIDField(read_only=True)
    component_type = serializers.CharField(read_only=True)
    date = UTCDateTimeField(source="usage_date", read_only=True)
    billing_period = serializers.DateField(read_only=True)

    class Meta:
        model = ComponentUserUsage
        fields = (
            "uuid", "user", "username", "component_usage", "usage", "measured_unit", "description", "created",
            "modified", "backend_id", "resource_name", "resource_uuid", "offering_name", "offering_uuid",
            "project_name", "project_uuid", "customer_name", "customer_uuid", "component_type", "date",
            "billing_period",
        )  # fmt: skip
        read_only_fields = fields


class CorrectUsageSerializer(serializers.Serializer):
    """The body of `correct`; a blank reason is the service's 400 (`services/corrections.py`)."""

    usage = usage_field(min_value=Decimal(0))
    reason = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)


class UsageRevisionSerializer(serializers.ModelSerializer):
    """One value written to a usage record (ours): the month's total, or one user's row (`username`)."""

    old_usage = usage_field(source="old_value", read_only=True, allow_null=True)
    new_usage = usage_field(source="new_value", read_only=True, allow_null=True)
    user_username = serializers.CharField(source="actor.username", read_only=True, default=None)
    created = UTCDateTimeField(read_only=True)

    class Meta:
        model = UsageRevision
        fields = (
            "username",
            "old_usage",
            "new_usage",
            "verb",
            "reason",
            "source",
            "user_username",
            "created",
        )
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.UUID)
class ObjectKeyField(serializers.Field):
    """A uuid (dashed or hex) or a URL ending in one. The service looks the object up among what the user
    may see, in the query that locks it."""

    default_error_messages = {"does_not_exist": usage_services.MSG_DOES_NOT_EXIST}

    def to_internal_value(self, data: Any) -> Any:
        text = str(data).strip().rstrip("/").rsplit("/", 1)[-1]
        try:
            return uuid_lib.UUID(text)
        except ValueError:
            self.fail("does_not_exist", value=data)

    def to_representation(self, value: Any) -> str:
        return str(value.hex)


class VisibleObjectField(ObjectKeyField):
    """An ObjectKeyField resolved here, among what `lookup(user)` returns."""

    def __init__(self, lookup: Any, **kwargs: Any) -> None:
        self.lookup = lookup
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        key = super().to_internal_value(data)
        request = self.context.get("request")
        found = self.lookup(getattr(request, "user", None)).filter(uuid=key).first()
        if found is None:
            self.fail("does_not_exist", value=data)
        return found

    def to_representation(self, value: Any) -> str:
        return str(value.uuid.hex)


def _plan_periods(user: Any) -> QuerySet[ResourcePlanPeriod]:
    return ResourcePlanPeriod.objects.filter(
        resource__in=selectors.usage_visible_resources(user).values("pk")
    ).select_related("resource__offering__customer", "resource__plan")


class IndexedListSerializer(serializers.ListSerializer):
    """Waldur's nested error shape: one entry per item, `{}` for good ones (`{"usages": [{}, {...}]}`),
    and a bare list for errors of the list itself (DRF 3.18 keys item errors by index instead)."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = error.detail
            if isinstance(detail, dict) and set(detail) == {api_settings.NON_FIELD_ERRORS_KEY}:
                raise serializers.ValidationError(detail[api_settings.NON_FIELD_ERRORS_KEY]) from error
            if isinstance(detail, dict) and all(isinstance(key, int) for key in detail):
                items = len(data) if isinstance(data, list) else 0
                raise serializers.ValidationError(
                    [cast(dict[Any, Any], detail).get(i, {}) for i in range(items)]
                ) from error
            raise


class UsageItemSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=50)
    amount = usage_field(min_value=Decimal(0))
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    recurring = serializers.BooleanField(required=False, default=False)

    class Meta:
        list_serializer_class = IndexedListSerializer


class SetUsageSerializer(serializers.Serializer):
    resource = ObjectKeyField(required=False, allow_null=True)
    plan_period = VisibleObjectField(_plan_periods, required=False, allow_null=True)
    date = UTCDateTimeField(required=False, allow_null=True)
    usages = IndexedListSerializer(child=UsageItemSerializer(), max_length=usage_services.MAX_USAGE_ITEMS)


def _user_from_url(value: Any) -> User | None:
    """The optional `user` of a per-user usage: a user URL or an offering-user URL (what Waldur's site
    agent sends) links the person; anything else is ignored."""
    if not value or not isinstance(value, str):
        return None
    try:
        match = resolve(urlparse(value).path)
    except (Resolver404, ValueError):
        return None
    if match.url_name not in ("user-detail", "marketplace-offering-user-detail"):
        return None
    try:
        key = uuid_lib.UUID(str(match.kwargs.get("uuid")))
    except ValueError:
        return None
    if match.url_name == "marketplace-offering-user-detail":
        return User.objects.filter(offering_users__uuid=key).first()
    return User.objects.filter(uuid=key).first()


class UserUsageSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=100, validators=[validate_name])
    usage = usage_field(min_value=Decimal(0), required=False, default=Decimal(0))
    user = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    date = UTCDateTimeField(required=False, allow_null=True)

    class Meta:
        list_serializer_class = IndexedListSerializer

    def item(self, data: dict[str, Any]) -> UserUsageItem:
        return UserUsageItem(
            username=data["username"],
            usage=data["usage"],
            user=_user_from_url(data.get("user")),
            date=data.get("date"),
        )


class UserUsagesSerializer(serializers.Serializer):
    usages = IndexedListSerializer(
        child=UserUsageSerializer(), max_length=usage_services.MAX_USER_USAGE_ITEMS
    )
