"""Marketplace endpoints. Views are thin: visible queryset (404), validate (400), call a service."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import selectors
from efp.marketplace.api import serializers as s
from efp.marketplace.api.filters import (
    OfferingFilter,
    OrderFilter,
    PlanFilter,
    ServiceProviderFilter,
    SshKeyFilter,
)
from efp.marketplace.api.querysets import offering_queryset, plan_queryset
from efp.marketplace.api.resources import ResourceSerializer, resource_queryset
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    Order,
    Plan,
    Resource,
    ServiceProvider,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.rest.filters import uuid_or_none
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure.roles import Permission


class OrderViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, ReadOnlyViewSet):
    serializer_class = s.OrderDetailsSerializer
    filterset_class = OrderFilter
    ordering_fields = ("created", "consumer_reviewed_at", "cost", "state")

    def get_queryset(self) -> QuerySet[Order]:
        visible = selectors.visible_orders(self.request.user)
        return selectors.orders_with_details(visible).order_by("created", "pk")

    def _detail(self, order: Order) -> dict[str, Any]:
        order = selectors.orders_with_details(Order.objects.filter(pk=order.pk)).get()
        return s.OrderDetailsSerializer(order, context=self.get_serializer_context()).data

    @extend_schema(request=s.OrderCreateSerializer, responses={201: s.OrderDetailsSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.OrderCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = order_services.create_order(
            user=acting_user(request),
            project=data["project"],
            offering=data["offering"],
            plan=data.get("plan"),
            attributes=data.get("attributes") or {},
            limits=data.get("limits") or {},
            accepting_terms_of_service=data.get("accepting_terms_of_service", False),
            callback_url=data.get("callback_url"),
            request_comment=data.get("request_comment"),
            start_date=data.get("start_date"),
        )
        return Response(self._detail(order), status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order_services.delete_order(order=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(exclude=True)  # answers 405 (visible orders) or 404: not an operation we serve
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.get_object()
        return Response({"detail": f'Method "{request.method}" not allowed.'}, status=405)

    partial_update = update

    @extend_schema(request=None, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def approve_by_consumer(self, request: Request, uuid: str | None = None) -> Response:
        order_services.approve_order_by_consumer(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order has been approved by consumer."})

    @extend_schema(request=s.RejectionSerializer, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def reject_by_consumer(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_reject_by_consumer(order=order, user=acting_user(request))
        body = s.RejectionSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        comment = body.validated_data.get("consumer_rejection_comment", "")
        order_services.reject_order_by_consumer(order=order, user=acting_user(request), comment=comment)
        return Response({"detail": "Order has been rejected by consumer."})

    @extend_schema(request=s.ApproveByProviderSerializer, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def approve_by_provider(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_approve_by_provider(order=order, user=acting_user(request))
        s.ApproveByProviderSerializer(data=request.data or {}).is_valid(raise_exception=True)
        order_services.approve_order_by_provider(order=order, user=acting_user(request))
        return Response({"detail": "Order has been approved by provider."})

    @extend_schema(request=s.RejectionSerializer, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def reject_by_provider(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_reject_by_provider(order=order, user=acting_user(request))
        body = s.RejectionSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        comment = body.validated_data.get("provider_rejection_comment", "")
        order_services.reject_order_by_provider(order=order, user=acting_user(request), comment=comment)
        return Response({"detail": "Order has been rejected by provider."})

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, uuid: str | None = None) -> Response:
        order_services.cancel_order(order=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_state_executing(self, request: Request, uuid: str | None = None) -> Response:
        order_services.set_order_executing(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order state has been changed to executing."})

    @extend_schema(request=None, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_state_done(self, request: Request, uuid: str | None = None) -> Response:
        order_services.complete_order(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order state has been changed to done."})

    @extend_schema(request=s.OrderErrorSerializer, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_state_erred(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_fail(order=order, user=acting_user(request))
        body = s.OrderErrorSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        order_services.fail_order(
            order=order,
            user=acting_user(request),
            error_message=body.validated_data.get("error_message", ""),
            error_traceback=body.validated_data.get("error_traceback", ""),
        )
        return Response({"detail": "Order state has been changed to erred."})

    @extend_schema(request=None, responses={200: s.DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, uuid: str | None = None) -> Response:
        order_services.retry_order(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order has been retried."})

    @extend_schema(request=s.BackendIdSerializer, responses={200: s.StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    def set_backend_id(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        if not order_services.can_on_provider_side(
            acting_user(request), Permission.RESOURCE_SET_BACKEND_ID, order.offering
        ):
            raise PermissionDenied()
        body = s.BackendIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = order_services.set_order_backend_id(
            order=order, user=acting_user(request), backend_id=body.validated_data["backend_id"]
        )
        text = "Order backend_id has been changed." if changed else "Order backend_id is not changed."
        return Response({"status": text})

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def unlink(self, request: Request, uuid: str | None = None) -> Response:
        order_services.unlink_order(order=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: ResourceSerializer})
    @action(detail=True, methods=["get"])
    def resource(self, request: Request, uuid: str | None = None) -> Response:
        """The order's resource, for whoever sees the order (404 for an order without one)."""
        order = self.get_object()
        found = resource_queryset(Resource.objects.filter(pk=order.resource_id)).first()
        if found is None:
            raise Http404("No Resource matches the given query.")
        return Response(ResourceSerializer(found, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: s.OfferingSerializer})
    @action(detail=True, methods=["get"])
    def offering(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        offering = offering_queryset(Offering.objects.filter(pk=order.offering_id)).get()
        return Response(s.OfferingSerializer(offering, context=self.get_serializer_context()).data)


# --- catalogue ------------------------------------------------------------------------------------


class PublicOfferingViewSet(ReadOnlyViewSet):
    serializer_class = s.OfferingSerializer
    filterset_class = OfferingFilter
    ordering_fields = ("name", "created", "type", "state")

    def get_queryset(self) -> QuerySet[Offering]:
        return offering_queryset(selectors.public_offerings(self.request.user)).order_by("name", "pk")

    @extend_schema(responses={200: s.PlanSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def plans(self, request: Request, uuid: str | None = None) -> Response:
        offering = self.get_object()
        plans = plan_queryset(Plan.objects.filter(offering=offering)).order_by("name", "pk")
        return self.paged(request, plans, s.PlanSerializer)

    @extend_schema(responses={200: s.PlanSerializer})
    @action(detail=True, methods=["get"], url_path=r"plans/(?P<plan_uuid>[^/]+)", url_name="plan-detail")
    def plan(self, request: Request, uuid: str | None = None, plan_uuid: str | None = None) -> Response:
        offering = self.get_object()
        key = uuid_or_none(plan_uuid or "")
        plan = plan_queryset(Plan.objects.filter(offering=offering, uuid=key)).first() if key else None
        if plan is None:
            return Response({"detail": "No Plan matches the given query."}, status=404)
        return Response(s.PlanSerializer(plan, context=self.get_serializer_context()).data)


class ProviderOfferingViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = s.ProviderOfferingSerializer
    filterset_class = OfferingFilter
    ordering_fields = ("name", "created", "type", "state")

    def get_queryset(self) -> QuerySet[Offering]:
        return offering_queryset(selectors.provider_offerings(self.request.user)).order_by("name", "pk")

    @extend_schema(request=s.OfferingCreateSerializer, responses={201: s.ProviderOfferingSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not offering_services.may_edit_catalogue(request.user):
            raise PermissionDenied()
        body = s.OfferingCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        components = [_component_spec(component) for component in data["components"]]
        offering_services.check_components(components)  # before the plans: its error answers first
        plans = []
        for plan in data["plans"]:
            body_plan = s.OfferingPlanSerializer(data=plan, context=self.get_serializer_context())
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

    @extend_schema(request=s.OfferingComponentSerializer, responses={201: s.OfferingComponentSerializer})
    @action(detail=True, methods=["post"])
    def create_offering_component(self, request: Request, uuid: str | None = None) -> Response:
        offering = self.get_object()
        if not request.user.is_staff:
            raise PermissionDenied()
        body = s.OfferingComponentSerializer(data=request.data)
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
        return Response(s.OfferingComponentSerializer(component).data, status=status.HTTP_201_CREATED)


class PlanViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = s.PlanSerializer
    filterset_class = PlanFilter
    ordering_fields = ("name", "created")

    def get_queryset(self) -> QuerySet[Plan]:
        return plan_queryset(selectors.visible_plans(self.request.user)).order_by(
            "offering__name", "name", "pk"
        )

    @extend_schema(request=s.PlanCreateSerializer, responses={201: s.PlanSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()
        body = s.PlanCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        spec = _plan_spec(body.validated_data)
        plan = offering_services.create_plan(
            user=acting_user(request),
            offering=body.validated_data["offering"],
            name=spec.name,
            description=spec.description,
            unit=spec.unit,
            unit_price=spec.unit_price,
            prices=spec.prices,
            quotas=spec.quotas,
            max_amount=spec.max_amount,
        )
        plan = plan_queryset(Plan.objects.filter(pk=plan.pk)).get()
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)


class CategoryViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = s.CategorySerializer
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
    serializer_class = s.ServiceProviderSerializer
    filterset_class = ServiceProviderFilter

    def get_queryset(self) -> QuerySet[ServiceProvider]:
        return (
            selectors.visible_service_providers(self.request.user)
            .select_related("customer")
            .annotate(offering_count=Count("customer__offerings"))
            .order_by("customer__name", "pk")
        )

    @extend_schema(
        responses={200: s.ServiceProviderSshKeySerializer(many=True)},
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
        return self.paged(request, keys, s.ServiceProviderSshKeySerializer)
