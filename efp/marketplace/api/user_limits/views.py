"""`/api/component-user-usage-limits/`: list (the site agent's `?resource_uuid=`), retrieve, create, PUT,
PATCH, DELETE. Visible queryset (404), then who may (403), then the body (400)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import selectors
from efp.marketplace.api.user_limits.filters import ComponentUserUsageLimitFilter
from efp.marketplace.api.user_limits.serializers import (
    ComponentUserUsageLimitRequestSerializer,
    ComponentUserUsageLimitSerializer,
)
from efp.marketplace.models import ComponentUserUsageLimit
from efp.marketplace.services import user_limits as services
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


class ComponentUserUsageLimitViewSet(ReadOnlyViewSet):
    serializer_class = ComponentUserUsageLimitSerializer
    filterset_class = ComponentUserUsageLimitFilter
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[ComponentUserUsageLimit]:
        visible = selectors.usage_visible_resources(self.request.user).values("pk")
        return (
            ComponentUserUsageLimit.objects.filter(resource_id__in=visible)
            .select_related("resource", "component", "user")
            .order_by("created", "pk")
        )

    def _body(self, request: Request, *, partial: bool) -> dict[str, Any]:
        body = ComponentUserUsageLimitRequestSerializer(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def _render(self, row: ComponentUserUsageLimit, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=row.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(
        request=ComponentUserUsageLimitRequestSerializer, responses={201: ComponentUserUsageLimitSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._body(request, partial=False)
        limit = services.UserLimit(
            resource=data["resource"],
            component=data["component"],
            user=data["user"],
            limit=data.get("limit", 0),
        )
        row = services.set_user_limit(actor=acting_user(request), limit=limit)
        return self._render(row, status.HTTP_201_CREATED)

    def _change(self, request: Request, *, partial: bool) -> Response:
        row = self.get_object()
        if not services.may_limit_users(acting_user(request), row.resource):
            raise PermissionDenied()  # before the body, as every other write
        data = self._body(request, partial=partial)
        limit = services.UserLimit(
            resource=data.get("resource", row.resource),
            component=data.get("component", row.component),
            user=data.get("user", row.user),
            limit=data.get("limit", row.limit if partial else 0),
        )
        return self._render(services.change_user_limit(actor=acting_user(request), row=row, limit=limit))

    @extend_schema(
        request=ComponentUserUsageLimitRequestSerializer, responses={200: ComponentUserUsageLimitSerializer}
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, partial=False)

    @extend_schema(
        request=ComponentUserUsageLimitRequestSerializer, responses={200: ComponentUserUsageLimitSerializer}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, partial=True)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_user_limit(actor=acting_user(request), row=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
