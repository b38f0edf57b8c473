"""`/api/customers/` and `/api/projects/` (contract §4, §12)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.rest.fields import HexUUIDField, HyperlinkInputField, LinkField, SparseFieldsMixin, UTCDateTimeField
from efp.rest.filters import MultipleUUIDFilter
from efp.rest.viewsets import ReadOnlyViewSet
from efp.structure import services
from efp.structure.models import Customer, Project
from efp.structure.selectors import visible_customers, visible_projects


class CustomerSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("customer-detail")
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    is_service_provider = serializers.SerializerMethodField()
    service_provider_uuid = serializers.SerializerMethodField()
    organization_groups = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = (
            "url", "uuid", "created", "name", "slug", "abbreviation", "native_name", "email", "country",
            "blocked", "archived", "is_service_provider", "service_provider_uuid", "organization_groups",
        )  # fmt: skip
        read_only_fields = ("url", "uuid", "created", "slug", "blocked", "archived")

    def get_is_service_provider(self, customer: Customer) -> bool:
        return hasattr(customer, "service_provider")

    def get_service_provider_uuid(self, customer: Customer) -> str | None:
        provider = getattr(customer, "service_provider", None)
        return provider.uuid.hex if provider is not None else None

    def get_organization_groups(self, customer: Customer) -> list[Any]:
        return []


class ProjectSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("project-detail")
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    customer = HyperlinkInputField(("customer-detail",), lambda request: Customer.objects.all())
    customer_uuid = HexUUIDField(source="customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    customer_slug = serializers.CharField(source="customer.slug", read_only=True)
    end_date_requested_by = LinkField("user-detail", attr="end_date_requested_by", allow_null=True)

    class Meta:
        model = Project
        fields = (
            "url", "uuid", "created", "name", "slug", "customer", "customer_uuid", "customer_name",
            "customer_slug", "description", "start_date", "end_date", "end_date_requested_by", "is_removed",
            "oecd_fos_2007_code", "is_industry", "type", "backend_id",
        )  # fmt: skip
        read_only_fields = ("url", "uuid", "created", "slug", "is_removed", "end_date_requested_by")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError(
                {"end_date": ["The end date must not be before the start date."]}
            )
        return attrs


class CustomerFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    abbreviation = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Customer
        fields: list[str] = []


class ProjectFilter(django_filters.FilterSet):
    customer = MultipleUUIDFilter(field_name="customer__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="customer__uuid")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Project
        fields: list[str] = []


class CustomerViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("name", "created", "abbreviation")

    def get_queryset(self) -> QuerySet[Customer]:
        return visible_customers(self.request.user).select_related("service_provider").order_by("name", "pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()
        body = CustomerSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        customer = services.create_customer(
            name=data["name"],
            abbreviation=data.get("abbreviation", ""),
            email=data.get("email", ""),
            country=data.get("country", ""),
        )
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data, status=201)


class ProjectViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ("name", "created")

    def get_queryset(self) -> QuerySet[Project]:
        return visible_projects(self.request.user).select_related("customer").order_by("name", "pk")

    @extend_schema(responses={201: ProjectSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()
        body = ProjectSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = services.create_project(
            customer=data["customer"],
            name=data["name"],
            description=data.get("description", ""),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
        )
        return Response(
            ProjectSerializer(project, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
