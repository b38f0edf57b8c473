"""`/api/marketplace-orders/`: list, create, retrieve, destroy and the order actions
(docs/contract.md §5.4)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.idempotency.api import idempotent
from efp.marketplace import selectors, tallies
from efp.marketplace.api.common import DetailResponseSerializer, StatusResponseSerializer, TalliedListMixin
from efp.marketplace.api.offerings.querysets import offering_queryset
from efp.marketplace.api.offerings.serializers import OfferingSerializer
from efp.marketplace.api.orders.filters import OrderFilter
from efp.marketplace.api.orders.serializers import (
    ApproveByProviderSerializer,
    BackendIdSerializer,
    OrderCreateSerializer,
    OrderDetailsSerializer,
    OrderErrorSerializer,
    RejectionSerializer,
    orders_for_details,
)
from efp.marketplace.api.resources.querysets import resource_queryset
from efp.marketplace.api.resources.serializers import ResourceSerializer
from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.services import orders as order_services
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure.roles import Permission


class OrderViewSet(TalliedListMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, ReadOnlyViewSet):
    tally = tallies.ORDERS
    serializer_class = OrderDetailsSerializer
    filterset_class = OrderFilter
    ordering_fields = ("created", "consumer_reviewed_at", "cost", "state")

    def get_queryset(self) -> QuerySet[Order]:
        visible = selectors.visible_orders(self.request.user)
        return orders_for_details(visible).order_by("created", "pk")

    def _detail(self, order: Order) -> dict[str, Any]:
        order = orders_for_details(Order.objects.filter(pk=order.pk)).get()
        return OrderDetailsSerializer(order, context=self.get_serializer_context()).data

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderDetailsSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = OrderCreateSerializer(data=request.data, context=self.get_serializer_context())
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

    @idempotent
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order_services.delete_order(order=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(exclude=True)  # answers 405 (visible orders) or 404: not an operation we serve
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.get_object()
        return Response({"detail": f'Method "{request.method}" not allowed.'}, status=405)

    partial_update = update

    @extend_schema(request=None, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def approve_by_consumer(self, request: Request, uuid: str | None = None) -> Response:
        order_services.approve_order_by_consumer(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order has been approved by consumer."})

    @extend_schema(request=RejectionSerializer, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reject_by_consumer(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_reject_by_consumer(order=order, user=acting_user(request))
        body = RejectionSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        comment = body.validated_data.get("consumer_rejection_comment", "")
        order_services.reject_order_by_consumer(order=order, user=acting_user(request), comment=comment)
        return Response({"detail": "Order has been rejected by consumer."})

    @extend_schema(request=ApproveByProviderSerializer, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def approve_by_provider(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_approve_by_provider(order=order, user=acting_user(request))
        ApproveByProviderSerializer(data=request.data or {}).is_valid(raise_exception=True)
        order_services.approve_order_by_provider(order=order, user=acting_user(request))
        return Response({"detail": "Order has been approved by provider."})

    @extend_schema(request=RejectionSerializer, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reject_by_provider(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_reject_by_provider(order=order, user=acting_user(request))
        body = RejectionSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        comment = body.validated_data.get("provider_rejection_comment", "")
        order_services.reject_order_by_provider(order=order, user=acting_user(request), comment=comment)
        return Response({"detail": "Order has been rejected by provider."})

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, uuid: str | None = None) -> Response:
        order_services.cancel_order(order=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_state_executing(self, request: Request, uuid: str | None = None) -> Response:
        order_services.set_order_executing(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order state has been changed to executing."})

    @extend_schema(request=None, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_state_done(self, request: Request, uuid: str | None = None) -> Response:
        order_services.complete_order(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order state has been changed to done."})

    @extend_schema(request=OrderErrorSerializer, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_state_erred(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        order_services.guard_fail(order=order, user=acting_user(request))
        body = OrderErrorSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        order_services.fail_order(
            order=order,
            user=acting_user(request),
            error_message=body.validated_data.get("error_message", ""),
            error_traceback=body.validated_data.get("error_traceback", ""),
        )
        return Response({"detail": "Order state has been changed to erred."})

    @extend_schema(request=None, responses={200: DetailResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def retry(self, request: Request, uuid: str | None = None) -> Response:
        order_services.retry_order(order=self.get_object(), user=acting_user(request))
        return Response({"detail": "Order has been retried."})

    @extend_schema(request=BackendIdSerializer, responses={200: StatusResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_backend_id(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        if not order_services.can_on_provider_side(
            acting_user(request), Permission.RESOURCE_SET_BACKEND_ID, order.offering
        ):
            raise PermissionDenied()
        body = BackendIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = order_services.set_order_backend_id(
            order=order, user=acting_user(request), backend_id=body.validated_data["backend_id"]
        )
        text = "Order backend_id has been changed." if changed else "Order backend_id is not changed."
        return Response({"status": text})

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    @idempotent
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

    @extend_schema(responses={200: OfferingSerializer})
    @action(detail=True, methods=["get"])
    def offering(self, request: Request, uuid: str | None = None) -> Response:
        order = self.get_object()
        offering = offering_queryset(Offering.objects.filter(pk=order.offering_id)).get()
        return Response(OfferingSerializer(offering, context=self.get_serializer_context()).data)
