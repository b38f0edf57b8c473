"""`POST /api/marketplace-provider-resources/{uuid}/set_membership_sync_statuses/`: the site agent's
per-member sync report, as Waldur serves it (200 `{stored, skipped}`; 409 when the offering has not opted
in with `enable_membership_sync_status`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace.models import MemberSyncStatus
from efp.marketplace.services import member_sync
from efp.rest.fields import HexUUIDField
from efp.rest.viewsets import acting_user


class MemberSyncEntrySerializer(serializers.Serializer):
    scope_type = serializers.ChoiceField(choices=MemberSyncStatus.ScopeType.choices)
    role_name = serializers.CharField(max_length=100)
    state = serializers.ChoiceField(choices=MemberSyncStatus.State.choices)
    username = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    user_uuid = HexUUIDField(required=False, default=None)
    resource_project_uuid = HexUUIDField(required=False, default=None)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("username") and not attrs.get("user_uuid"):
            raise serializers.ValidationError("Name the person: `username` or `user_uuid`.")
        return attrs


class MemberSyncReportSerializer(serializers.Serializer):
    statuses = serializers.ListField(child=MemberSyncEntrySerializer(), max_length=10_000)


class MemberSyncResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    skipped = serializers.ListField(child=serializers.CharField())


class MemberSyncActions:
    """Mixed into ProviderResourceViewSet (`get_object`: the provider's visible resource, else 404)."""

    get_object: Any

    @extend_schema(request=MemberSyncReportSerializer, responses={200: MemberSyncResultSerializer})
    @action(detail=True, methods=["post"])
    def set_membership_sync_statuses(self, request: Request, uuid: str | None = None) -> Response:
        resource = self.get_object()
        if not member_sync.may_report_member_sync(acting_user(request), resource):
            raise PermissionDenied()
        body = MemberSyncReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entries = [member_sync.SyncEntry(**entry) for entry in body.validated_data["statuses"]]
        stored, skipped = member_sync.report_member_sync(
            user=acting_user(request), resource=resource, entries=entries
        )
        return Response({"stored": stored, "skipped": skipped})
