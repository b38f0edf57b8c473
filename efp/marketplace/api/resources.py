"""Resources: `/api/marketplace-provider-resources/` (docs/contract.md §6) and `/api/marketplace-resources/`.

Views are thin: visible queryset (404), permission predicate (403), validate (400), service (409), render.
Lists run a constant number of queries: related rows are joined or prefetched, `can_terminate` is an
annotation, and `limit_usage` sums are fetched once per page by the list serializer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, cast

import django_filters
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import selectors
from efp.marketplace.api.filters import HyperlinkUUIDFilter
from efp.marketplace.api.querysets import offering_queryset
from efp.marketplace.api.serializers import (
    DetailResponseSerializer,
    OfferingComponentSerializer,
    OfferingPlanFieldsSerializer,
    OfferingSerializer,
    OrderDetailsSerializer,
    OrderErrorSerializer,
    OrderUuidResponseSerializer,
    StatusResponseSerializer,
)
from efp.marketplace.billing_months import billing_period_of, month_start
from efp.marketplace.metering import limit_usage, limit_usage_sums
from efp.marketplace.models import (
    ComponentUsage,
    Offering,
    OfferingComponent,
    OfferingRole,
    Order,
    Plan,
    Resource,
    ResourceEndpoint,
    ResourcePlanPeriod,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.states import ACTIVE_ORDER_STATES, OrderState, OrderType, ResourceState
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
    absolute_url,
)
from efp.rest.filters import (
    FilterSet,
    IsoDateTimeFilter,
    MultipleStringFilter,
    MultipleUUIDFilter,
    uuid_or_none,
)
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure.models import ProjectRole

BT = OfferingComponent.BillingType
# can_terminate: the states the terminate verb starts from (marketplace/verbs.py).
TERMINABLE_STATES = RESOURCE_VERBS["terminate"].sources or ()


# --- representation -------------------------------------------------------------------------------


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
            "renewal_date",
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
                selectors.orders_with_details(Order.objects.filter(wanted, resource=obj)).order_by(
                    "created", "pk"
                )
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


RESOURCE_RELATIONS = (
    "offering__customer__service_provider",
    "offering__category",
    "plan",
    "project__customer",
    "project__end_date_requested_by",
    "end_date_requested_by",
)
# What the computed fields of ResourceSerializer read beyond the resource row: relations to join, and
# "components", "endpoints", "has_active_order", "usage_sums" for the per-page extras. Plain fields (and
# links) declare theirs by their source; a computed field missing here makes a page load everything.
RESOURCE_FIELD_NEEDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "scope", "resource_uuid", "resource_type", "offering_image", "offering_thumbnail",
            "category_icon", "username", "available_actions", "user_requires_reconsent", "renewal_date",
            "attributes", "limits", "backend_metadata", "current_usages", "options",
        ),
        (),
    ),
    "provider_description": ("offering__customer__service_provider",),
    "plan": ("plan", "offering"),
    "offering_components": ("offering", "components"),
    "is_usage_based": ("offering", "components"),
    "is_limit_based": ("offering", "components"),
    "limit_usage": ("offering", "components", "usage_sums"),
    "endpoints": ("endpoints",),
    "can_terminate": ("has_active_order",),
}  # fmt: skip
EXTRAS = frozenset({"components", "endpoints", "has_active_order", "usage_sums"})


def resource_needs(fields: Iterable[serializers.Field]) -> set[str] | None:
    """The relations and extras the given serializer fields read; None when one of them is not known."""
    needs: set[str] = set()
    for field in fields:
        if field.field_name in RESOURCE_FIELD_NEEDS:
            needs.update(RESOURCE_FIELD_NEEDS[field.field_name])
        elif isinstance(field, LinkField):
            needs.update([field.attr.replace(".", "__")] if field.attr else [])
        elif isinstance(field, serializers.SerializerMethodField):
            return None
        elif len(field.source_attrs) > 1:
            needs.add("__".join(field.source_attrs[:-1]))
    return needs


def resource_queryset(qs: QuerySet[Resource], needs: set[str] | None = None) -> QuerySet[Resource]:
    """Resources with what their serializer reads; with `needs` (`resource_needs`), only that."""
    if needs is None:
        needs = {*RESOURCE_RELATIONS, *EXTRAS}
    relations = sorted(need for need in needs if need not in EXTRAS)
    qs = qs.select_related(*relations) if relations else qs
    if "components" in needs:
        qs = qs.prefetch_related(
            Prefetch("offering__components", queryset=OfferingComponent.objects.order_by("pk"))
        )
    if "endpoints" in needs:
        qs = qs.prefetch_related(Prefetch("endpoints", queryset=ResourceEndpoint.objects.order_by("pk")))
    if "has_active_order" in needs:
        active = Order.objects.filter(resource=OuterRef("pk"), state__in=list(ACTIVE_ORDER_STATES))
        qs = qs.annotate(has_active_order=Exists(active))
    return qs


def ordered_by_project_name(qs: QuerySet[Resource]) -> QuerySet[Resource]:
    """`o=project_name` orders by an annotation (added only then: counting pages would join for it)."""
    return qs.annotate(project_name=F("project__name"))


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


# --- input ----------------------------------------------------------------------------------------


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


# --- filters --------------------------------------------------------------------------------------


def _component_exists(billing_type: str) -> Exists:
    return Exists(OfferingComponent.objects.filter(offering=OuterRef("offering"), billing_type=billing_type))


class ResourceFilter(FilterSet):
    """Contract §6.1."""

    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    offering = HyperlinkUUIDFilter(field_name="offering__uuid")
    offering_type = MultipleStringFilter(field_name="offering__type")
    offering_slug = MultipleStringFilter(field_name="offering__slug")
    offering_billable = django_filters.BooleanFilter(field_name="offering__billable")
    offering_shared = django_filters.BooleanFilter(field_name="offering__shared")
    project_uuid = MultipleUUIDFilter(field_name="project__uuid")
    project_name = django_filters.CharFilter(field_name="project__name", lookup_expr="icontains")
    customer_uuid = MultipleUUIDFilter(field_name="project__customer__uuid")
    customer = HyperlinkUUIDFilter(field_name="project__customer__uuid")
    provider_uuid = MultipleUUIDFilter(field_name="offering__customer__uuid")
    category_uuid = MultipleUUIDFilter(field_name="offering__category__uuid")
    plan_uuid = MultipleUUIDFilter(field_name="plan__uuid")
    service_manager_uuid = django_filters.UUIDFilter(method="filter_service_manager")
    state = django_filters.MultipleChoiceFilter(choices=ResourceState.choices, distinct=False)
    order_state = django_filters.MultipleChoiceFilter(
        choices=OrderState.choices, method="filter_order_state", distinct=False
    )
    backend_id = django_filters.CharFilter(field_name="backend_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter(field_name="slug")
    query = django_filters.CharFilter(method="filter_query")
    runtime_state = django_filters.CharFilter(field_name="backend_metadata__runtime_state")
    downscaled = django_filters.BooleanFilter()
    restrict_member_access = django_filters.BooleanFilter()
    paused = django_filters.BooleanFilter()
    has_terminate_date = django_filters.BooleanFilter(
        field_name="end_date", lookup_expr="isnull", exclude=True
    )
    usage_based = django_filters.BooleanFilter(method="filter_usage_based")
    limit_based = django_filters.BooleanFilter(method="filter_limit_based")
    only_usage_based = django_filters.BooleanFilter(method="filter_only_usage_based")
    only_limit_based = django_filters.BooleanFilter(method="filter_only_limit_based")
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lt")

    class Meta:
        model = Resource
        fields: list[str] = []

    def filter_service_manager(self, qs: QuerySet[Resource], name: str, value: Any) -> QuerySet[Resource]:
        return qs.filter(offering_id__in=OfferingRole.objects.filter(user__uuid=value).values("offering_id"))

    def filter_order_state(self, qs: QuerySet[Resource], name: str, value: list[str]) -> QuerySet[Resource]:
        if not value:
            return qs
        return qs.filter(pk__in=Order.objects.filter(state__in=value).values("resource_id"))

    def filter_query(self, qs: QuerySet[Resource], name: str, value: str) -> QuerySet[Resource]:
        value = (value or "").strip()
        if not value:
            return qs
        key = uuid_or_none(value)
        if key is not None:
            return qs.filter(uuid=key)
        return qs.filter(
            Q(name__icontains=value)
            | Q(slug__icontains=value)
            | Q(backend_id__iexact=value)
            | Q(effective_id__iexact=value)
        )

    def _by_components(
        self, qs: QuerySet[Resource], has: dict[str, bool], value: bool | None
    ) -> QuerySet[Resource]:
        if value is None:
            return qs
        condition = Q()
        for billing_type, present in has.items():
            exists = _component_exists(billing_type)
            condition &= Q(exists) if present else ~Q(exists)
        return qs.filter(condition) if value else qs.exclude(condition)

    def filter_usage_based(self, qs: QuerySet[Resource], name: str, value: bool | None) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.USAGE: True}, value)

    def filter_limit_based(self, qs: QuerySet[Resource], name: str, value: bool | None) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.LIMIT: True}, value)

    def filter_only_usage_based(
        self, qs: QuerySet[Resource], name: str, value: bool | None
    ) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.USAGE: True, BT.LIMIT: False}, value)

    def filter_only_limit_based(
        self, qs: QuerySet[Resource], name: str, value: bool | None
    ) -> QuerySet[Resource]:
        return self._by_components(qs, {BT.LIMIT: True, BT.USAGE: False}, value)


# --- views ----------------------------------------------------------------------------------------


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied()


class BaseResourceViewSet(ReadOnlyViewSet):
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    ordering_fields = ("name", "created", "end_date", "state", "project_name")

    def visible(self) -> QuerySet[Resource]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Resource]:
        needs = None
        if self.request.query_params.getlist("field"):  # `?field=`: load only what the kept fields read
            needs = resource_needs(cast(serializers.Serializer, self.get_serializer()).fields.values())
        qs = resource_queryset(self.visible(), needs)
        if "project_name" in self.request.query_params.get("o", ""):
            qs = ordered_by_project_name(qs)
        return qs.order_by("created", "pk")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return ResourceDetailSerializer
        return ResourceSerializer

    def _order_uuid(self, order: Order) -> Response:
        return Response({"order_uuid": order.uuid.hex})

    @extend_schema(request=TerminateSerializer, responses={200: OrderUuidResponseSerializer})
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        order_services.guard_terminate_resource(resource=resource, user=acting_user(request))
        body = TerminateSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        order = order_services.terminate_resource(
            resource=resource,
            user=acting_user(request),
            attributes=body.validated_data.get("attributes") or {},
        )
        return self._order_uuid(order)

    @extend_schema(responses={200: PlanPeriodSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])  # a plain list
    def plan_periods(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        current = billing_period_of(timezone.now())
        periods = list(
            ResourcePlanPeriod.objects.filter(resource=resource)
            .filter(Q(end__isnull=True) | Q(end__gte=month_start(current)))
            .select_related("plan")
            .order_by("start", "pk")
        )
        usages: dict[int, list[ComponentUsage]] = defaultdict(list)
        for usage in ComponentUsage.objects.filter(
            plan_period__in=periods, billing_period=current
        ).select_related("component"):
            usages[usage.plan_period_id].append(usage)  # type: ignore[index]
        data = [
            {
                "uuid": period.uuid.hex,
                "plan_name": period.plan.name,
                "plan_uuid": period.plan.uuid.hex,
                "start": UTCDateTimeField().to_representation(period.start),
                "end": UTCDateTimeField().to_representation(period.end) if period.end else None,
                "components": PlanPeriodComponentSerializer(usages[period.pk], many=True).data,
            }
            for period in periods
        ]
        return Response(data)

    @extend_schema(responses={200: ProjectUserSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])  # a plain list
    def team(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        roles = (
            ProjectRole.objects.filter(project_id=resource.project_id).select_related("user").order_by("pk")
        )
        return Response(
            [
                {
                    "url": absolute_url(request, "user-detail", uuid=role.user.uuid.hex),
                    "uuid": role.user.uuid.hex,
                    "username": role.user.username,
                    "full_name": role.user.full_name,
                    "email": role.user.email,
                    "role": role.role,
                    "expiration_time": UTCDateTimeField().to_representation(role.expiration_time)
                    if role.expiration_time
                    else None,
                    "offering_user_username": None,
                    "offering_user_state": None,
                }
                for role in roles
            ]
        )

    @extend_schema(responses={200: OfferingSerializer})
    @action(detail=True, methods=["get"])
    def offering(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        offering = offering_queryset(Offering.objects.filter(pk=resource.offering_id)).get()
        return Response(OfferingSerializer(offering, context=self.get_serializer_context()).data)

    @extend_schema(responses={404: DetailResponseSerializer})  # we have no backend scopes
    @action(detail=True, methods=["get"])
    def details(self, request: Request, uuid: str | None = None) -> Response:
        self.get_object()
        raise Http404("This resource has no backend scope.")


class ProviderResourceViewSet(BaseResourceViewSet):
    """Resources of the offerings of organisations where the user holds a role (§2.2): consumers get 404."""

    def visible(self) -> QuerySet[Resource]:
        return selectors.provider_resources(self.request.user)

    @extend_schema(request=ResourceBackendIdSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_backend_id(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_set_backend_id(acting_user(request), resource))
        body = ResourceBackendIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = resource_services.set_resource_backend_id(
            resource=resource, user=acting_user(request), backend_id=body.validated_data["backend_id"]
        )
        text = "Resource backend_id has been changed." if changed else "Resource backend_id is not changed."
        return Response({"status": text})

    @extend_schema(request=ResourceLimitsSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_limits(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_sync(acting_user(request), resource))
        body = ResourceLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resource_services.set_resource_limits(
            resource=resource, user=acting_user(request), limits=body.validated_data["limits"]
        )
        return Response({"status": "Resource limits have been updated."})

    @extend_schema(request=BackendMetadataSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_backend_metadata(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_set_backend_metadata(acting_user(request), resource))
        body = BackendMetadataSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resource_services.set_resource_backend_metadata(
            resource=resource,
            user=acting_user(request),
            backend_metadata=body.validated_data["backend_metadata"],
        )
        return Response({"status": "The backend metadata is updated"})

    @extend_schema(request=EndpointsSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_endpoints(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_sync(acting_user(request), resource))
        body = EndpointsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resource_services.set_resource_endpoints(
            resource=resource,
            user=acting_user(request),
            endpoints=[dict(item) for item in body.validated_data["endpoints"]],
        )
        return Response({"status": "Resource endpoints have been set."})

    @extend_schema(request=ReportSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def submit_report(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_submit_report(acting_user(request), resource))
        body = ReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = [dict(section) for section in body.validated_data["report"]]
        resource_services.submit_resource_report(resource=resource, user=acting_user(request), report=report)
        return Response({"status": "Report is submitted"})

    @extend_schema(request=EndDateSerializer, responses={200: None})
    @action(detail=True, methods=["post"])
    def set_end_date_by_provider(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_set_end_date(acting_user(request), resource))
        body = EndDateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resource_services.set_resource_end_date_by_provider(
            resource=resource, user=acting_user(request), end_date=body.validated_data["end_date"]
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(request=OrderErrorSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_as_erred(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        _require(resource_services.can_sync(acting_user(request), resource))
        body = OrderErrorSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        resource_services.set_resource_erred(
            resource=resource, user=acting_user(request), **body.validated_data
        )
        return Response({"status": "Resource has been set as erred."})

    @extend_schema(request=None, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_as_ok(self, request: Request, uuid: str | None = None) -> Response:
        resource_services.set_resource_ok(resource=self.get_object(), user=acting_user(request))
        return Response({"status": "Resource has been set as OK."})

    @extend_schema(request=None, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_state_ok(self, request: Request, uuid: str | None = None) -> Response:
        resource_services.recover_resource(resource=self.get_object(), user=acting_user(request))
        return Response({"status": "Resource state has been changed to OK."})

    @extend_schema(request=None, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def refresh_last_sync(self, request: Request, uuid: str | None = None) -> Response:
        resource_services.refresh_resource_last_sync(resource=self.get_object(), user=acting_user(request))
        return Response({"status": "Last sync time has been refreshed."})

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def unlink(self, request: Request, uuid: str | None = None) -> Response:
        resource_services.unlink_resource(resource=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsumerResourceViewSet(BaseResourceViewSet):
    """Resources of my projects and my organisations' projects (`/api/marketplace-resources/`)."""

    def visible(self) -> QuerySet[Resource]:
        return selectors.consumer_resources(self.request.user)

    @extend_schema(request=UpdateLimitsSerializer, responses={200: OrderUuidResponseSerializer})
    @action(detail=True, methods=["post"])
    def update_limits(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        order_services.guard_update_resource_limits(resource=resource, user=acting_user(request))
        body = UpdateLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = order_services.update_resource_limits(
            resource=resource, user=acting_user(request), limits=body.validated_data["limits"]
        )
        return self._order_uuid(order)

    @extend_schema(request=SwitchPlanSerializer, responses={200: OrderUuidResponseSerializer})
    @action(detail=True, methods=["post"])
    def switch_plan(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        order_services.guard_switch_resource_plan(resource=resource, user=acting_user(request))
        body = SwitchPlanSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        order = order_services.switch_resource_plan(
            resource=resource, user=acting_user(request), plan=body.validated_data["plan"]
        )
        return self._order_uuid(order)
