"""What the site agent asks of a provider offering beside its orders and resources (issue 19):
`check_unique_backend_id/`, `list_project_service_accounts/` and `list_course_accounts/`.

Service and course accounts are not modelled here: both lists answer Waldur's empty page, so the agent's
membership sync adds and removes no such account (instead of logging a 404 for every resource).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace import selectors
from efp.marketplace.services.agents import can_manage_agents
from efp.rest.viewsets import acting_user


class CheckUniqueBackendIdSerializer(serializers.Serializer):
    backend_id = serializers.CharField(max_length=255)
    check_all_offerings = serializers.BooleanField(required=False, default=False)
    use_offering_rules = serializers.BooleanField(required=False, default=False)


class CheckUniqueBackendIdResponseSerializer(serializers.Serializer):
    is_unique = serializers.BooleanField()


class ServiceAccountSerializer(serializers.Serializer):
    """The shape of a project service account or course account (none exist here)."""

    uuid = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    project_uuid = serializers.UUIDField(read_only=True)


class AgentOfferingActions:
    """Mixed into ProviderOfferingViewSet (`get_object` is the provider's visible offering: 404)."""

    get_object: Any
    paginate_queryset: Any
    get_paginated_response: Any

    @extend_schema(
        request=CheckUniqueBackendIdSerializer, responses={200: CheckUniqueBackendIdResponseSerializer}
    )
    @action(detail=True, methods=["post"])
    def check_unique_backend_id(self, request: Request, uuid: str | None = None) -> Response:
        """Has a resource of this offering (or, with `check_all_offerings`, of any offering of its provider)
        ever had this backend id? Terminated ones count: the agent must not reuse an account name."""
        offering = self.get_object()
        if not can_manage_agents(acting_user(request), offering):
            raise PermissionDenied()
        body = CheckUniqueBackendIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        taken = selectors.backend_id_taken(
            offering,
            body.validated_data["backend_id"],
            all_offerings=body.validated_data["check_all_offerings"],
        )
        return Response({"is_unique": not taken})

    def _no_accounts(self) -> Response:
        offering = self.get_object()
        # An empty queryset, not a list: the pagination counts it and answers a bad page as every list does.
        nothing = type(offering)._default_manager.none()
        return self.get_paginated_response(self.paginate_queryset(nothing))

    @extend_schema(responses={200: ServiceAccountSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def list_project_service_accounts(self, request: Request, uuid: str | None = None) -> Response:
        return self._no_accounts()

    @extend_schema(responses={200: ServiceAccountSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def list_course_accounts(self, request: Request, uuid: str | None = None) -> Response:
        return self._no_accounts()
