"""Usage: `/api/marketplace-component-usages/` (docs/contract.md §7),
`/api/marketplace-component-user-usages/` (§8).

Every write goes through `services.usage`; calls whose User-Agent names the Waldur site agent are recorded
with the agent as their source.
"""

from __future__ import annotations

import uuid as uuid_lib
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlparse

import django_filters
from django import forms
from django.db.models import F, QuerySet
from django.urls import Resolver404, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.api import usage_pages
from efp.marketplace.api.filters import HyperlinkUUIDFilter
from efp.marketplace.api.serializers import WaldurModelSerializer
from efp.marketplace.api.usage_pages import usage_field
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, ResourcePlanPeriod
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.rest.fields import HexUUIDField, LinkField, UTCDateTimeField
from efp.rest.filters import FilterSet, MultipleUUIDFilter
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure.names import validate_name

# --- representation -------------------------------------------------------------------------------


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

    class Meta:
        model = ComponentUsage
        fields = (
            "uuid", "created", "description", "type", "name", "measured_unit", "usage", "date", "recurring",
            "resource_name", "resource_uuid", "offering_name", "offering_uuid", "project_name",
            "project_uuid", "customer_name", "customer_uuid", "billing_period", "modified_by",
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


def _named(*relations: str) -> list[str]:
    """The columns a usage row shows of each related object: its name and uuid."""
    return [f"{relation}__{column}" for relation in relations for column in ("name", "uuid")]


# The related objects a page of usage rows shows, and the columns it reads (names and uuids: a resource
# and its offering carry large JSON columns that no usage row shows).
USAGE_RELATIONS = ("resource__offering", "resource__project__customer")
USAGE_COLUMNS = (
    "uuid", "created", "description", "usage", "date", "recurring", "billing_period", "modified_by_id",
    "component__type", "component__name", "component__measured_unit",
    *_named("resource", "resource__offering", "resource__project", "resource__project__customer"),
)  # fmt: skip


def component_usage_queryset(qs: QuerySet[ComponentUsage], *, page: bool = False) -> QuerySet[ComponentUsage]:
    """Usage rows with what their serializer reads; a `page` of them reads only the columns it shows."""
    if page:
        return qs.select_related("component", *USAGE_RELATIONS).only(*USAGE_COLUMNS)
    return qs.select_related("component", "resource__offering__customer", "resource__project__customer")


def user_usage_queryset(qs: QuerySet[ComponentUserUsage]) -> QuerySet[ComponentUserUsage]:
    """Per-user usage rows with what their serializer shows of the usage record, its resource, offering,
    project and organisation, as columns of the row itself."""
    usage, resource = "component_usage", "component_usage__resource"
    return qs.annotate(
        user_uuid=F("user__uuid"),
        component_usage_uuid=F(f"{usage}__uuid"),
        usage_date=F(f"{usage}__date"),
        billing_period=F(f"{usage}__billing_period"),
        component_type=F(f"{usage}__component__type"),
        measured_unit=F(f"{usage}__component__measured_unit"),
        **{
            f"{name}_{column}": F(f"{path}__{column}")
            for name, path in (
                ("resource", resource),
                ("offering", f"{resource}__offering"),
                ("project", f"{resource}__project"),
                ("customer", f"{resource}__project__customer"),
            )
            for column in ("name", "uuid")
        },
    )


# --- input ----------------------------------------------------------------------------------------


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


# --- filters --------------------------------------------------------------------------------------


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


# --- views ----------------------------------------------------------------------------------------


def _user_agent(request: Request) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


class ComponentUsageViewSet(ReadOnlyViewSet):
    serializer_class = ComponentUsageSerializer
    filterset_class = ComponentUsageFilter
    ordering_fields = ("billing_period", "usage", "date")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = usage_pages.component_usages(request)
        if rows is None:
            return super().list(request, *args, **kwargs)
        return self.sql_paged(rows)

    def get_queryset(self) -> QuerySet[ComponentUsage]:
        visible = selectors.visible_component_usages(self.request.user)
        return component_usage_queryset(visible, page=self.action == "list").order_by(
            "-date", "component__type", "pk"
        )

    @extend_schema(request=SetUsageSerializer, responses={201: None})
    @action(detail=False, methods=["post"])
    def set_usage(self, request: Request) -> Response:
        # Contract §1.6: the payload is validated before the permission is checked.
        body = SetUsageSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        agent = _user_agent(request)
        usage_services.set_usage(
            user=acting_user(request),
            resource=data.get("resource"),
            plan_period=data.get("plan_period"),
            usages=[UsageItem(**item) for item in data["usages"]],
            date=data.get("date"),
            source=usage_services.source_for(agent),
            user_agent=agent,
        )
        return Response(status=status.HTTP_201_CREATED)

    def _writable_usage(self, request: Request) -> ComponentUsage:
        usage = self.get_object()
        if not usage_services.can_report_usage(acting_user(request), usage.resource):
            raise PermissionDenied()
        return usage

    @extend_schema(request=UserUsageSerializer, responses={201: None})
    @action(detail=True, methods=["post"])
    def set_user_usage(self, request: Request, uuid: str | None = None) -> Response:
        usage = self._writable_usage(request)
        body = UserUsageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = _user_agent(request)
        user_usage_services.set_user_usage(
            user=acting_user(request),
            component_usage=usage,
            item=body.item(body.validated_data),
            source=usage_services.source_for(agent),
            user_agent=agent,
        )
        return Response(status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUsagesSerializer, responses={201: None})
    @action(detail=True, methods=["post"])
    def set_user_usages(self, request: Request, uuid: str | None = None) -> Response:
        usage = self._writable_usage(request)
        body = UserUsagesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = _user_agent(request)
        reader = UserUsageSerializer()
        user_usage_services.set_user_usages(
            user=acting_user(request),
            component_usage=usage,
            items=[reader.item(item) for item in body.validated_data["usages"]],
            source=usage_services.source_for(agent),
            user_agent=agent,
        )
        return Response(status=status.HTTP_201_CREATED)


class ComponentUserUsageViewSet(ReadOnlyViewSet):
    serializer_class = ComponentUserUsageSerializer
    filterset_class = ComponentUserUsageFilter
    ordering_fields = ("component_usage__billing_period", "usage", "username")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = usage_pages.user_usages(request)
        if rows is None:
            return super().list(request, *args, **kwargs)
        return self.sql_paged(rows)

    def get_queryset(self) -> QuerySet[ComponentUserUsage]:
        visible = selectors.visible_component_user_usages(self.request.user)
        return user_usage_queryset(visible).order_by(
            "-component_usage__date", "component_usage__component__type", "username", "pk"
        )
