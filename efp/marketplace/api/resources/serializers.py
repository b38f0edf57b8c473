"""Resources on the wire (docs/contract.md §6.2) and the bodies of the resource actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.marketplace.api.common import OfferingPlanFieldsSerializer, no_nul_characters
from efp.marketplace.api.offerings.serializers import OfferingComponentSerializer
from efp.marketplace.api.orders.serializers import OrderDetailsSerializer, orders_for_details
from efp.marketplace.forecasts import FLAG_CHOICES
from efp.marketplace.metering import limit_usage, limit_usage_sums
from efp.marketplace.models import OfferingComponent, Order, Plan, Resource, ResourceForecast
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderType
from efp.marketplace.verbs import RESOURCE_VERBS
from efp.rest.fields import (
    NULL_DATE,
    NULL_STRING,
    NULL_URI,
    NULL_UUID,
    HexUUIDField,
    HyperlinkInputField,
    LinkField,
    UTCDateTimeField,
)

BT = OfferingComponent.BillingType


# can_terminate: the states the terminate verb starts from (marketplace/verbs.py).
TERMINABLE_STATES = RESOURCE_VERBS["terminate"].sources or ()


class LimitForecastSerializer(serializers.Serializer):
    """One limited component's forecast (ours, docs/compatibility.md): decimals as text."""

    runs_out = serializers.DateField(allow_null=True, help_text="The day the limit runs out at this rate.")
    rate_per_day = serializers.CharField(help_text="Month-to-date and the last 3 months, per day.")
    used = serializers.CharField(help_text="Used in the limit period, as `limit_usage`.")
    limit = serializers.CharField()


class ResourceListSerializer(serializers.ListSerializer):
    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if isinstance(data, QuerySet) else data)
        if "limit_usage" in self.child.fields:  # type: ignore[union-attr]
            self.child.usage_sums = limit_usage_sums(items)  # type: ignore[union-attr]
        return [self.child.to_representation(item) for item in items]  # type: ignore[union-attr]


class ResourceSerializer(OfferingPlanFieldsSerializer):
    """The `Resource` of docs/contract.md §6.2. Objects are never null: `{}` stands for "nothing"."""

    url = LinkField("marketplace-resource-detail")
    scope = serializers.SerializerMethodField()
    resource_uuid = serializers.SerializerMethodField()
    resource_type = serializers.SerializerMethodField()
    project = LinkField("project-detail", attr="project")
    project_uuid = HexUUIDField(source="project.uuid", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    project_description = serializers.CharField(source="project.description", read_only=True)
    project_slug = serializers.CharField(source="project.slug", read_only=True)
    project_end_date = serializers.DateField(source="project.end_date", read_only=True, allow_null=True)
    project_end_date_requested_by = LinkField(
        "user-detail", attr="project.end_date_requested_by", allow_null=True
    )
    customer_uuid = HexUUIDField(source="project.customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="project.customer.name", read_only=True)
    customer_slug = serializers.CharField(source="project.customer.slug", read_only=True)
    offering_slug = serializers.CharField(source="offering.slug", read_only=True)
    offering_backend_id = serializers.CharField(source="offering.backend_id", read_only=True)
    offering_state = serializers.CharField(source="offering.state", read_only=True)
    offering_customer_uuid = HexUUIDField(source="offering.customer.uuid", read_only=True)
    offering_components = serializers.SerializerMethodField()
    backend_metadata = serializers.SerializerMethodField()
    is_usage_based = serializers.SerializerMethodField()
    is_limit_based = serializers.SerializerMethodField()
    current_usages = serializers.SerializerMethodField()
    can_terminate = serializers.SerializerMethodField()
    report = serializers.JSONField(read_only=True, allow_null=True)
    end_date_requested_by = LinkField("user-detail", attr="end_date_requested_by", allow_null=True)
    username = serializers.SerializerMethodField()
    limit_usage = serializers.SerializerMethodField()
    endpoints = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()
    last_sync = UTCDateTimeField(read_only=True)
    user_requires_reconsent = serializers.SerializerMethodField()
    renewal_date = serializers.SerializerMethodField()
    usage_flags = serializers.SerializerMethodField()
    limit_forecasts = serializers.SerializerMethodField()

    usage_sums: dict[int, dict[str, dict[str, Decimal]]] | None = None

    class Meta:
        model = Resource
        list_serializer_class = ResourceListSerializer
        fields: tuple[str, ...] = (
            *OfferingPlanFieldsSerializer.SHARED_FIELDS,
            "url", "scope", "description", "state", "resource_uuid", "backend_id", "effective_id",
            "resource_type", "project", "project_uuid", "project_name", "project_description", "project_slug",
            "project_end_date", "project_end_date_requested_by", "customer_uuid", "customer_name",
            "customer_slug", "offering_slug", "offering_backend_id", "offering_state",
            "offering_customer_uuid",
            "offering_components", "backend_metadata", "is_usage_based", "is_limit_based", "name", "slug",
            "current_usages", "can_terminate", "report", "end_date", "end_date_requested_by", "username",
            "limit_usage", "downscaled", "restrict_member_access", "paused", "endpoints", "error_message",
            "error_traceback", "options", "available_actions", "last_sync", "user_requires_reconsent",
            "renewal_date", "usage_flags", "limit_forecasts",
        )  # fmt: skip
        read_only_fields = fields
        optional_fields = ("last_sync",)  # left out until the first sync

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        if "last_sync" in data and data["last_sync"] is None:
            del data["last_sync"]  # the SDK parses it as a non-null datetime when present
        return data

    def _components(self, obj: Resource) -> list[OfferingComponent]:
        """The offering's components (prefetched), listed once per offering and page: four fields of
        every row read them, and each `.all()` makes a manager and a queryset."""
        listed = self.__dict__.setdefault("_components_by_offering", {})
        if obj.offering_id not in listed:
            listed[obj.offering_id] = list(obj.offering.components.all())
        return listed[obj.offering_id]

    @extend_schema_field(NULL_URI)
    def get_scope(self, obj: Resource) -> None:
        return None

    @extend_schema_field(NULL_UUID)
    def get_resource_uuid(self, obj: Resource) -> None:
        return None

    @extend_schema_field(NULL_STRING)
    def get_resource_type(self, obj: Resource) -> None:
        return None

    def get_offering_components(self, obj: Resource) -> Any:
        # Rendered once per offering and page: the rows of a page share a handful of offerings.
        rendered = self.__dict__.setdefault("_offering_components", {})
        if obj.offering_id not in rendered:
            rendered[obj.offering_id] = OfferingComponentSerializer(self._components(obj), many=True).data
        return rendered[obj.offering_id]

    def get_backend_metadata(self, obj: Resource) -> dict[str, Any]:
        return dict(obj.backend_metadata or {})

    def get_is_usage_based(self, obj: Resource) -> bool:
        return any(c.billing_type == BT.USAGE for c in self._components(obj))

    def get_is_limit_based(self, obj: Resource) -> bool:
        return any(c.billing_type == BT.LIMIT for c in self._components(obj))

    def get_current_usages(self, obj: Resource) -> dict[str, float]:
        return {key: float(value) for key, value in (obj.current_usages or {}).items()}

    def get_can_terminate(self, obj: Resource) -> bool:
        has_active_order = getattr(obj, "has_active_order", None)
        if has_active_order is None:
            has_active_order = obj.orders.filter(state__in=list(ACTIVE_ORDER_STATES)).exists()
        return obj.state in TERMINABLE_STATES and not has_active_order

    @extend_schema_field(NULL_STRING)
    def get_username(self, obj: Resource) -> None:
        return None  # the caller's offering-user name; there are no offering users here

    def get_limit_usage(self, obj: Resource) -> dict[str, float | None]:
        """Per limit component: this month's usage, or the quarter's, year's or all-time sum (§6.2)."""
        sums = self.usage_sums if self.usage_sums is not None else limit_usage_sums([obj])
        return limit_usage(obj, self._components(obj), sums)

    def get_endpoints(self, obj: Resource) -> list[dict[str, str]]:
        return [
            {"uuid": endpoint.uuid.hex, "name": endpoint.name, "url": endpoint.url}
            for endpoint in obj.endpoints.all()
        ]

    def get_options(self, obj: Resource) -> dict[str, Any]:
        return dict(obj.options or {})

    def get_available_actions(self, obj: Resource) -> list[str]:
        return []

    def get_user_requires_reconsent(self, obj: Resource) -> bool:
        return False

    @extend_schema_field(NULL_DATE)
    def get_renewal_date(self, obj: Resource) -> None:
        return None

    @staticmethod
    def _forecast(obj: Resource) -> ResourceForecast | None:
        try:
            return obj.forecast  # select_related by the list's queryset
        except ResourceForecast.DoesNotExist:
            return None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=FLAG_CHOICES)))
    def get_usage_flags(self, obj: Resource) -> list[str]:
        """Ours: the names of `marketplace/forecasts.FLAGS` that hold for the resource."""
        forecast = self._forecast(obj)
        return forecast.flag_list if forecast is not None else []

    @extend_schema_field(serializers.DictField(child=LimitForecastSerializer()))
    def get_limit_forecasts(self, obj: Resource) -> dict[str, Any]:
        """Ours: per limited component, when its limit runs out at the current rate."""
        forecast = self._forecast(obj)
        return dict(forecast.components) if forecast is not None else {}


class ResourceDetailSerializer(ResourceSerializer):
    """Retrieve adds the order in progress and the creation order (§6.2)."""

    order_in_progress = serializers.SerializerMethodField()
    creation_order = serializers.SerializerMethodField()

    class Meta(ResourceSerializer.Meta):
        fields = (*ResourceSerializer.Meta.fields, "order_in_progress", "creation_order")
        read_only_fields: tuple[str, ...] = fields

    def _orders(self, obj: Resource) -> list[Order]:
        """The resource's orders in progress and its creation order(s), oldest first, in one query."""
        cache = self.__dict__.setdefault("_orders_by_resource", {})
        if obj.pk not in cache:
            wanted = Q(state__in=list(ACTIVE_ORDER_STATES)) | Q(type=OrderType.CREATE)
            cache[obj.pk] = list(
                orders_for_details(Order.objects.filter(wanted, resource=obj)).order_by("created", "pk")
            )
        return cache[obj.pk]

    def _render(self, order: Order | None) -> dict[str, Any] | None:
        if order is None:
            return None
        nested = OrderDetailsSerializer(order, context=self.context)
        nested.bind(field_name="", parent=self)  # nested: `?field=` names the resource's fields, not these
        return nested.data

    def get_order_in_progress(self, obj: Resource) -> dict[str, Any] | None:
        active = [order for order in self._orders(obj) if order.state in ACTIVE_ORDER_STATES]
        return self._render(active[-1] if active else None)  # the newest

    def get_creation_order(self, obj: Resource) -> dict[str, Any] | None:
        created = [order for order in self._orders(obj) if order.type == OrderType.CREATE]
        return self._render(created[0] if created else None)  # the oldest


class PlanPeriodComponentSerializer(serializers.Serializer):
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    description = serializers.CharField(read_only=True)
    type = serializers.CharField(source="component.type", read_only=True)
    name = serializers.CharField(source="component.name", read_only=True)
    measured_unit = serializers.CharField(source="component.measured_unit", read_only=True)
    usage = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    date = UTCDateTimeField(read_only=True)
    recurring = serializers.BooleanField(read_only=True)


class PlanPeriodSerializer(serializers.Serializer):
    """Schema of a `plan_periods` row (the view renders it)."""

    uuid = HexUUIDField(read_only=True)
    plan_name = serializers.CharField(read_only=True)
    plan_uuid = HexUUIDField(read_only=True)
    start = UTCDateTimeField(read_only=True)
    end = UTCDateTimeField(read_only=True, allow_null=True)
    components = PlanPeriodComponentSerializer(many=True, read_only=True)


class ProjectUserSerializer(serializers.Serializer):
    """Schema of a `team` row (the view renders it): a user with a role in the resource's project."""

    url = LinkField("user-detail")
    uuid = HexUUIDField(read_only=True)
    username = serializers.CharField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.CharField(read_only=True)
    expiration_time = UTCDateTimeField(read_only=True, allow_null=True)
    offering_user_username = serializers.CharField(read_only=True, allow_null=True)
    offering_user_state = serializers.CharField(read_only=True, allow_null=True)


class ResourceBackendIdSerializer(serializers.Serializer):
    backend_id = serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False)


class ResourceLimitsSerializer(serializers.Serializer):
    limits = serializers.DictField(validators=[no_nul_characters])


class BackendMetadataSerializer(serializers.Serializer):
    backend_metadata = serializers.DictField(validators=[no_nul_characters])


class EndpointSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    url = serializers.CharField(max_length=1000)


class EndpointsSerializer(serializers.Serializer):
    endpoints = EndpointSerializer(many=True, allow_empty=True)


class ReportSectionSerializer(serializers.Serializer):
    header = serializers.CharField()
    body = serializers.CharField()


class ReportSerializer(serializers.Serializer):
    report = ReportSectionSerializer(many=True)

    def validate_report(self, value: list[Any]) -> list[Any]:
        if not value:
            raise serializers.ValidationError("Report object should contain at least one section.")
        return value


class EndDateSerializer(serializers.Serializer):
    end_date = serializers.DateField(allow_null=True)


class RenewSerializer(serializers.Serializer):
    """Shapes only: `services/renewals.py` judges the months, the limits and the justification."""

    extension_months = serializers.JSONField(required=False)
    limits = serializers.DictField(required=False, allow_null=True, validators=[no_nul_characters])
    request_comment = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=255, validators=[no_nul_characters]
    )
    justification = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=True, validators=[no_nul_characters]
    )


class ResourcePatchSerializer(serializers.Serializer):
    """The consumer's PATCH: only `end_date` (docs/compatibility.md "Renewals and end dates")."""

    end_date = serializers.DateField(allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        other = sorted(set(self.initial_data) - {"end_date"})
        if other:
            raise serializers.ValidationError({key: ["Only end_date may be changed here."] for key in other})
        return attrs


class TerminateSerializer(serializers.Serializer):
    attributes = serializers.DictField(required=False, default=dict, validators=[no_nul_characters])


class UpdateLimitsSerializer(serializers.Serializer):
    limits = serializers.DictField(validators=[no_nul_characters])


class SwitchPlanSerializer(serializers.Serializer):
    plan = HyperlinkInputField(
        ("marketplace-public-offering-plan-detail", "marketplace-plan-detail"),
        lambda request: Plan.objects.select_related("offering"),
        kwarg="plan_uuid",
    )
