"""The catalogue: public and provider offerings, plans, categories and service providers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import selectors
from efp.marketplace.api.agents.offering_actions import AgentOfferingActions
from efp.marketplace.api.offerings.filters import (
    OfferingFilter,
    PlanFilter,
    ServiceProviderFilter,
    SshKeyFilter,
)
from efp.marketplace.api.offerings.partitions import PartitionActions
from efp.marketplace.api.offerings.querysets import offering_queryset, plan_queryset
from efp.marketplace.api.offerings.serializers import (
    CategorySerializer,
    CorrectionPolicySerializer,
    OfferingComponentSerializer,
    OfferingCreateSerializer,
    OfferingPlanSerializer,
    OfferingSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    ProviderOfferingSerializer,
    ServiceProviderSerializer,
    ServiceProviderSshKeySerializer,
)
from efp.marketplace.models import Category, Offering, OfferingComponent, Plan, ServiceProvider
from efp.marketplace.services import offerings as offering_services
from efp.rest.filters import uuid_or_none
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


class PublicOfferingViewSet(ReadOnlyViewSet):
    serializer_class = OfferingSerializer
    filterset_class = OfferingFilter
    ordering_fields = ("name", "created", "type", "state")

    def get_queryset(self) -> QuerySet[Offering]:
        return offering_queryset(selectors.public_offerings(self.request.user)).order_by("name", "pk")

    @extend_schema(responses={200: PlanSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def plans(self, request: Request, uuid: str | None = None) -> Response:
        offering = self.get_object()
        plans = plan_queryset(Plan.objects.filter(offering=offering)).order_by("name", "pk")
        return self.paged(request, plans, PlanSerializer)

    @extend_schema(responses={200: PlanSerializer})
    @action(detail=True, methods=["get"], url_path=r"plans/(?P<plan_uuid>[^/]+)", url_name="plan-detail")
    def plan(self, request: Request, uuid: str | None = None, plan_uuid: str | None = None) -> Response:
        offering = self.get_object()
        key = uuid_or_none(plan_uuid or "")
        plan = plan_queryset(Plan.objects.filter(offering=offering, uuid=key)).first() if key else None
        if plan is None:
            return Response({"detail": "No Plan matches the given query."}, status=404)
        return Response(PlanSerializer(plan, context=self.get_serializer_context()).data)


class ProviderOfferingViewSet(
    AgentOfferingActions, PartitionActions, mixins.CreateModelMixin, ReadOnlyViewSet
):
    serializer_class = ProviderOfferingSerializer
    filterset_class = OfferingFilter
    ordering_fields = ("name", "created", "type", "state")

    def get_queryset(self) -> QuerySet[Offering]:
        return offering_queryset(selectors.provider_offerings(self.request.user)).order_by("name", "pk")

    @extend_schema(request=OfferingCreateSerializer, responses={201: ProviderOfferingSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not offering_services.may_edit_catalogue(request.user):
            raise PermissionDenied()
        body = OfferingCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        components = [_component_spec(component) for component in data["components"]]
        offering_services.check_components(components)  # before the plans: its error answers first
        plans = []
        for plan in data["plans"]:
            body_plan = OfferingPlanSerializer(data=plan, context=self.get_serializer_context())
            body_plan.is_valid(raise_exception=True)
            plans.append(_plan_spec(body_plan.validated_data))
        offering = offering_services.create_offering(
            user=acting_user(request),
            customer=data["customer"],
            category=data["category"],
            name=data["name"],
            offering_type=data["type"],
            shared=data["shared"],
            billable=data["billable"],
            description=data["description"],
            plugin_options=data["plugin_options"],
            options=data["options"],
            state=data["state"],
            backend_id=data["backend_id"],
            components=components,
            plans=plans,
        )
        offering = offering_queryset(Offering.objects.filter(pk=offering.pk)).get()
        return Response(self.get_serializer(offering).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CorrectionPolicySerializer, responses={200: ProviderOfferingSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Ours (docs/compatibility.md): the offering's correction policy, by the provider's owners."""
        offering = self.get_object()
        if not offering_services.may_set_correction_policy(acting_user(request), offering):
            raise PermissionDenied()
        body = CorrectionPolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offering_services.set_correction_policy(
            user=acting_user(request),
            offering=offering,
            corrected_by=body.validated_data.get("usage_corrected_by"),
            months=body.validated_data.get("usage_correction_months"),
        )
        offering = offering_queryset(Offering.objects.filter(pk=offering.pk)).get()
        return Response(self.get_serializer(offering).data)

    @extend_schema(request=OfferingComponentSerializer, responses={201: OfferingComponentSerializer})
    @action(detail=True, methods=["post"])
    def create_offering_component(self, request: Request, uuid: str | None = None) -> Response:
        offering = self.get_object()
        if not request.user.is_staff:
            raise PermissionDenied()
        body = OfferingComponentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        spec = _component_spec(body.validated_data)
        component = offering_services.add_component(
            user=acting_user(request),
            offering=offering,
            component_type=spec.type,
            name=spec.name,
            billing_type=spec.billing_type,
            **spec.fields,
        )
        return Response(OfferingComponentSerializer(component).data, status=status.HTTP_201_CREATED)


class PlanViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = PlanSerializer
    filterset_class = PlanFilter
    ordering_fields = ("name", "created")

    def get_queryset(self) -> QuerySet[Plan]:
        return plan_queryset(selectors.visible_plans(self.request.user)).order_by(
            "offering__name", "name", "pk"
        )

    @extend_schema(request=PlanCreateSerializer, responses={201: PlanSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()
        body = PlanCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        spec = _plan_spec(body.validated_data)
        plan = offering_services.create_plan(
            user=acting_user(request), offering=body.validated_data["offering"], **asdict(spec)
        )
        plan = plan_queryset(Plan.objects.filter(pk=plan.pk)).get()
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)


class CategoryViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = CategorySerializer
    ordering_fields = ("title",)

    def get_queryset(self) -> QuerySet[Category]:
        return Category.objects.annotate(
            offering_count=Count("offerings", filter=Q(offerings__state=Offering.State.ACTIVE))
        ).order_by("title", "pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Before validation: a user who may not gets 403 whatever the body.
        if not offering_services.may_edit_catalogue(request.user):
            raise PermissionDenied()
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        category = offering_services.create_category(
            user=acting_user(request),
            title=body.validated_data["title"],
            description=body.validated_data.get("description", ""),
        )
        data = self.get_serializer(category).data
        return Response(data, status=status.HTTP_201_CREATED, headers=self.get_success_headers(data))


def _component_spec(data: dict[str, Any]) -> offering_services.ComponentSpec:
    fields = dict(data)
    return offering_services.ComponentSpec(
        type=fields.pop("type"),
        name=fields.pop("name"),
        billing_type=fields.pop("billing_type", OfferingComponent.BillingType.FIXED),
        fields=fields,
    )


def _plan_spec(data: dict[str, Any]) -> offering_services.PlanSpec:
    return offering_services.PlanSpec(
        name=data["name"],
        description=data.get("description", ""),
        unit=data.get("unit", Plan.Unit.MONTH),
        unit_price=data.get("unit_price", 0),
        prices=data.get("prices") or {},
        quotas=data.get("quotas") or {},
        max_amount=data.get("max_amount"),
    )


KEY_DATETIME_FILTERS = ("created", "created_before", "modified", "modified_before")


class ServiceProviderViewSet(ReadOnlyViewSet):
    serializer_class = ServiceProviderSerializer
    filterset_class = ServiceProviderFilter

    def get_queryset(self) -> QuerySet[ServiceProvider]:
        return (
            selectors.visible_service_providers(self.request.user)
            .select_related("customer")
            .annotate(offering_count=Count("customer__offerings"))
            .order_by("customer__name", "pk")
        )

    @extend_schema(
        responses={200: ServiceProviderSshKeySerializer(many=True)},
        parameters=[
            *(OpenApiParameter(name, str) for name in ("name", "name_exact", "fingerprint_md5")),
            *(OpenApiParameter(name, str) for name in ("fingerprint_sha256", "fingerprint_sha512")),
            OpenApiParameter("user_uuid", OpenApiTypes.UUID),
            OpenApiParameter("is_shared", bool),
            *(OpenApiParameter(name, OpenApiTypes.DATETIME) for name in KEY_DATETIME_FILTERS),
            OpenApiParameter("o", str, enum=["name", "-name"]),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def keys(self, request: Request, uuid: str | None = None) -> Response:
        """SSH public keys of the users of projects that consume the provider's offerings (the site agent
        hands them to its backend). Only those who manage the provider may read them."""
        provider = self.get_object()
        if not selectors.manages_service_provider(acting_user(request), provider):
            raise PermissionDenied()
        found = SshKeyFilter(request.query_params, queryset=selectors.service_provider_ssh_keys(provider))
        if not found.is_valid():
            raise ValidationError(found.errors)
        descending = request.query_params.get("o") == "-name"
        keys = found.qs.select_related("user").order_by("-name" if descending else "name", "pk")
        return self.paged(request, keys, ServiceProviderSshKeySerializer)
