"""`/api/marketplace-resources/` (the consumer's) and `/api/marketplace-provider-resources/` with their
actions (docs/contract.md §6.3)."""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.idempotency.api import idempotent
from efp.marketplace import selectors, tallies
from efp.marketplace.api.common import (
    DetailResponseSerializer,
    OrderUuidResponseSerializer,
    StatusResponseSerializer,
    TalliedListMixin,
)
from efp.marketplace.api.offerings.querysets import offering_queryset
from efp.marketplace.api.offerings.serializers import OfferingSerializer
from efp.marketplace.api.orders.serializers import OrderErrorSerializer
from efp.marketplace.api.resources.filters import ResourceFilter
from efp.marketplace.api.resources.member_sync import MemberSyncActions
from efp.marketplace.api.resources.querysets import ordered_by_project_name, resource_needs, resource_queryset
from efp.marketplace.api.resources.serializers import (
    BackendMetadataSerializer,
    EndDateSerializer,
    EndpointsSerializer,
    PlanPeriodComponentSerializer,
    PlanPeriodSerializer,
    ProjectUserSerializer,
    RenewSerializer,
    ReportSerializer,
    ResourceBackendIdSerializer,
    ResourceDetailSerializer,
    ResourceLimitsSerializer,
    ResourcePatchSerializer,
    ResourceSerializer,
    SwitchPlanSerializer,
    TerminateSerializer,
    UpdateLimitsSerializer,
)
from efp.marketplace.billing_months import billing_period_of, month_start
from efp.marketplace.models import (
    ComponentUsage,
    Offering,
    OfferingUser,
    Order,
    Resource,
    ResourcePlanPeriod,
)
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import renewals
from efp.marketplace.services import resources as resource_services
from efp.rest.fields import UTCDateTimeField, absolute_url
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure.models import ProjectRole


def _account_name(account: OfferingUser | None) -> str | None:
    return account.username or None if account is not None else None


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

    # Waldur's SDK sends a resource body (`ResourceRequest`); nothing in it is read.
    @extend_schema(request=None, responses={200: OrderUuidResponseSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, uuid: str | None = None) -> Response:
        """A Restore order for a terminated resource (the provider's, docs/compatibility.md "Restore")."""
        resource = self.get_object()
        return self._order_uuid(order_services.restore_resource(resource=resource, user=acting_user(request)))

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
        roles = list(
            ProjectRole.objects.filter(project_id=resource.project_id).select_related("user").order_by("pk")
        )
        # Each member's account at the resource's offering: the site agent's membership sync keeps exactly
        # these usernames on the backend account and removes every other as stale.
        accounts = {
            account.user_id: account
            for account in OfferingUser.objects.filter(
                offering_id=resource.offering_id, user_id__in={role.user_id for role in roles}
            )
        }
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
                    "offering_user_username": _account_name(accounts.get(role.user_id)),
                    "offering_user_state": accounts[role.user_id].state if role.user_id in accounts else None,
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


class ProviderResourceViewSet(MemberSyncActions, TalliedListMixin, BaseResourceViewSet):
    """Resources of the offerings of organisations where the user holds a role (§2.2): consumers get 404."""

    tally = tallies.PROVIDER_RESOURCES

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


class ConsumerResourceViewSet(TalliedListMixin, BaseResourceViewSet):
    """Resources of my projects and my organisations' projects (`/api/marketplace-resources/`)."""

    tally = tallies.CONSUMER_RESOURCES

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

    @extend_schema(request=RenewSerializer, responses={200: OrderUuidResponseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def renew(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        renewals.guard_renew_resource(resource=resource, user=acting_user(request))
        body = RenewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = renewals.renew_resource(
            resource=resource,
            user=acting_user(request),
            extension_months=data.get("extension_months"),
            limits=data.get("limits"),
            justification=data.get("justification", ""),
            request_comment=data.get("request_comment"),
        )
        return self._order_uuid(order)

    @extend_schema(request=ResourcePatchSerializer, responses={200: ResourceDetailSerializer})
    @idempotent
    def partial_update(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        renewals.guard_set_end_date_by_consumer(resource=resource, user=acting_user(request))
        body = ResourcePatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        renewals.set_end_date_by_consumer(
            resource=resource, user=acting_user(request), end_date=body.validated_data["end_date"]
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=EndDateSerializer, responses={200: None})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_end_date_by_staff(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        renewals.guard_set_end_date_by_staff(resource=resource, user=acting_user(request))
        body = EndDateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        renewals.set_end_date_by_staff(
            resource=resource, user=acting_user(request), end_date=body.validated_data["end_date"]
        )
        return Response(status=status.HTTP_200_OK)
