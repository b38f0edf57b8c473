"""`/api/api-tokens/` (EFP's, not Waldur's): a person's API tokens; staff see and revoke everyone's.

It lives beside the token scope (`efp.structure.token_scope`): a token may be limited to an offering of
`access.offerings_a_token_may_serve`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from efp.accounts import services
from efp.accounts.models import ApiToken
from efp.rest.addresses import client_address
from efp.rest.fields import HexUUIDField, LinkField, UTCDateTimeField
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure import access


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as listed: never its key, nor the digest of it."""

    url = LinkField("api-token-detail")
    uuid = HexUUIDField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True, allow_null=True, default=None)
    created = UTCDateTimeField(read_only=True)
    expires = UTCDateTimeField(read_only=True, allow_null=True)
    last_used = UTCDateTimeField(read_only=True, allow_null=True)
    revoked = UTCDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = (
            "url", "uuid", "username", "name", "prefix", "created", "expires", "last_used", "last_used_from",
            "revoked", "offering_uuid",
        )  # fmt: skip
        read_only_fields: tuple[str, ...] = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    expires = serializers.DateTimeField(required=False, allow_null=True, default=None)
    offering_uuid = serializers.UUIDField(required=False, allow_null=True, default=None)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown this once: only its digest is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "key")
        read_only_fields = fields


class ApiTokenViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """EFP's API tokens (not in Waldur): a user's own tokens (staff: everyone's). Creating one answers its
    key once; `revoke` stops one at once."""

    serializer_class = ApiTokenSerializer
    ordering_fields = ("created", "name")

    def get_queryset(self) -> QuerySet[ApiToken]:
        qs = ApiToken.objects.select_related("user", "offering").order_by("-created", "-pk")
        if self.request.user.is_staff:
            return qs
        return qs.filter(user_id=getattr(self.request.user, "pk", None) or 0)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = acting_user(request)
        offering = None
        if (offering_uuid := body.validated_data["offering_uuid"]) is not None:
            offering = access.offerings_a_token_may_serve(user).filter(uuid=offering_uuid).first()
            if offering is None:
                raise serializers.ValidationError(
                    {"offering_uuid": ["No offering of a provider you work for has this uuid."]}
                )
        token, key = services.issue_token(
            user=user,
            name=body.validated_data["name"],
            expires=body.validated_data["expires"],
            offering=offering,
            address=client_address(request),
        )
        token.key = key
        return Response(
            ApiTokenCreatedSerializer(token, context=self.get_serializer_context()).data, status=201
        )

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, uuid: str | None = None) -> Response:
        token = services.revoke_token(
            token=self.get_object(), by=acting_user(request), address=client_address(request)
        )
        return Response(ApiTokenSerializer(token, context=self.get_serializer_context()).data)
