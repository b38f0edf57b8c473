"""`/api/marketplace-component-usages/` and `/api/marketplace-component-user-usages/` with the usage
reports (docs/contract.md §7.3-§7.5)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from efp.idempotency.api import idempotent
from efp.marketplace import selectors, tallies
from efp.marketplace.api.common import TalliedListMixin
from efp.marketplace.api.usage import pages as usage_pages
from efp.marketplace.api.usage.filters import ComponentUsageFilter, ComponentUserUsageFilter
from efp.marketplace.api.usage.querysets import (
    component_usage_queryset,
    revision_queryset,
    user_usage_queryset,
)
from efp.marketplace.api.usage.serializers import (
    ComponentUsageSerializer,
    ComponentUserUsageSerializer,
    CorrectUsageSerializer,
    SetUsageSerializer,
    UsageRevisionSerializer,
    UserUsageSerializer,
    UserUsagesSerializer,
)
from efp.marketplace.models import ComponentUsage, ComponentUserUsage
from efp.marketplace.services import corrections
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


def _user_agent(request: Request) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


class ComponentUsageViewSet(TalliedListMixin, ReadOnlyViewSet):
    tally = tallies.COMPONENT_USAGES
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
        if self.action in ("set_user_usage", "set_user_usages"):
            # A report is answered with no body: the service reads the record and its resource again.
            return visible.select_related("resource__offering")
        return component_usage_queryset(visible, page=self.action == "list").order_by(
            "-date", "component_type", "pk"
        )

    @extend_schema(request=SetUsageSerializer, responses={201: None})
    @action(detail=False, methods=["post"])
    @idempotent
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

    def _valid_report(self, request: Request, body: Any) -> ComponentUsage:
        """The record a per-user report names, once its body is valid. A user who may not report it is
        refused (403) before any complaint about the body (400); with a valid body the service asks."""
        usage = self.get_object()
        if not body.is_valid():
            if not usage_services.can_report_usage(acting_user(request), usage.resource):
                raise PermissionDenied()
            raise ValidationError(body.errors)
        return usage

    @extend_schema(request=UserUsageSerializer, responses={201: None})
    @action(detail=True, methods=["post"])
    @idempotent
    def set_user_usage(self, request: Request, uuid: str | None = None) -> Response:
        body = UserUsageSerializer(data=request.data)
        usage = self._valid_report(request, body)
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
    @idempotent
    def set_user_usages(self, request: Request, uuid: str | None = None) -> Response:
        body = UserUsagesSerializer(data=request.data)
        usage = self._valid_report(request, body)
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

    @extend_schema(request=CorrectUsageSerializer, responses={200: ComponentUsageSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def correct(self, request: Request, uuid: str | None = None) -> Response:
        """Ours (docs/compatibility.md): sets the month's total, with a reason both sides can read."""
        usage = self.get_object()
        user = acting_user(request)
        refusal = corrections.correction_refusal(
            user=user, resource=usage.resource, month=usage.billing_period
        )
        if refusal is not None:
            raise refusal.error()
        body = CorrectUsageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = _user_agent(request)
        corrections.correct_usage(
            user=user,
            usage=usage,
            amount=body.validated_data["usage"],
            reason=body.validated_data["reason"],
            source=usage_services.source_for(agent),
            user_agent=agent,
        )
        fresh = component_usage_queryset(ComponentUsage.objects.filter(pk=usage.pk)).get()
        return Response(self.get_serializer(fresh).data)

    @extend_schema(responses={200: UsageRevisionSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def revisions(self, request: Request, uuid: str | None = None) -> Response:
        """Ours: every value written to the record (its total and its users' rows), oldest first."""
        return self.paged(request, revision_queryset(self.get_object()), UsageRevisionSerializer)


class ComponentUserUsageViewSet(TalliedListMixin, ReadOnlyViewSet):
    tally = tallies.USER_USAGES
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
            "-component_usage__date",
            "component_usage__component_type",
            "component_usage_id",
            "username",
            "pk",
        )
