"""The site agent's own endpoints: `/api/marketplace-site-agent-identities/`,
`/api/marketplace-site-agent-services/` and `/api/marketplace-offering-users/`.

Visibility follows the offering: staff and support see all; otherwise the offering's organisation's
members and its offering managers (selectors.provider_offerings). Writes need the right to change the
offering (403 otherwise); what a user cannot see is 404.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.accounts.models import User
from efp.marketplace import selectors
from efp.marketplace.api.serializers import WaldurModelSerializer
from efp.marketplace.models import AgentIdentity, AgentProcessor, AgentService, Offering, OfferingUser
from efp.marketplace.services import agents as agent_services
from efp.marketplace.services import offering_users as offering_user_services
from efp.rest.fields import HexUUIDField, HyperlinkInputField, LinkField, UTCDateTimeField
from efp.rest.filters import FilterSet, MultipleStringFilter, MultipleUUIDFilter
from efp.rest.viewsets import ReadOnlyViewSet, acting_user

# --- agent identities, services, processors -----------------------------------------------------------


class NestedAgentProcessorSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-site-agent-processor-detail")

    class Meta:
        model = AgentProcessor
        fields = ("uuid", "url", "name", "backend_type", "backend_version", "last_run", "created", "modified")
        read_only_fields = fields


class NestedAgentServiceSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-site-agent-service-detail")

    class Meta:
        model = AgentService
        fields = ("uuid", "url", "name", "mode", "state", "statistics", "created", "modified")
        read_only_fields = fields


class AgentServiceSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-site-agent-service-detail")
    identity = HexUUIDField(source="identity.uuid", read_only=True)
    identity_name = serializers.CharField(source="identity.name", read_only=True)
    processors = NestedAgentProcessorSerializer(many=True, read_only=True)

    class Meta:
        model = AgentService
        fields = (
            "uuid", "url", "identity", "identity_name", "name", "mode", "state", "statistics", "created",
            "modified", "processors",
        )  # fmt: skip
        read_only_fields = fields


class AgentProcessorSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-site-agent-processor-detail")
    service = HexUUIDField(source="service.uuid", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)

    class Meta:
        model = AgentProcessor
        fields = (
            "uuid", "url", "service", "service_name", "name", "backend_type", "backend_version", "last_run",
            "created", "modified",
        )  # fmt: skip
        read_only_fields = fields


class AgentDependencySerializer(serializers.Serializer):
    package = serializers.CharField(max_length=255)
    version = serializers.CharField(max_length=100)


class AgentIdentitySerializer(WaldurModelSerializer):
    url = LinkField("marketplace-site-agent-identity-detail")
    offering = HexUUIDField(source="offering.uuid", read_only=True)
    created_by = serializers.SerializerMethodField()
    services = NestedAgentServiceSerializer(many=True, read_only=True)
    dependencies = AgentDependencySerializer(many=True, read_only=True)
    last_restarted = UTCDateTimeField(read_only=True)

    class Meta:
        model = AgentIdentity
        fields = (
            "uuid", "url", "offering", "name", "version", "dependencies", "config_file_path",
            "config_file_content", "last_restarted", "created_by", "created", "modified", "services",
        )  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        if "last_restarted" in data and data["last_restarted"] is None:
            del data["last_restarted"]  # the SDK parses it as a non-null datetime when present
        return data

    def get_created_by(self, obj: AgentIdentity) -> str | None:
        return obj.created_by.uuid.hex if obj.created_by is not None else None


class AgentIdentityRequestSerializer(serializers.Serializer):
    """AgentIdentityRequest: `offering` is an offering UUID (dashed or hex) the user may see."""

    offering = serializers.UUIDField()
    name = serializers.CharField(max_length=255)
    version = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    dependencies = AgentDependencySerializer(many=True, required=False)
    config_file_path = serializers.CharField(
        max_length=1000, required=False, allow_null=True, allow_blank=True
    )
    config_file_content = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    last_restarted = UTCDateTimeField(required=False)

    def validate_offering(self, value: Any) -> Offering:
        offering = selectors.provider_offerings(self.context["request"].user).filter(uuid=value).first()
        if offering is None:
            raise serializers.ValidationError("Offering not found.")
        return offering

    def data_for_service(self) -> agent_services.IdentityData:
        data = self.validated_data
        return agent_services.IdentityData(
            offering=data["offering"],
            name=data["name"],
            version=data.get("version") or "",
            dependencies=[dict(item) for item in data.get("dependencies") or []],
            config_file_path=data.get("config_file_path") or "",
            config_file_content=data.get("config_file_content") or "",
            last_restarted=data.get("last_restarted"),
        )


class AgentServiceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    mode = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)


class AgentProcessorCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    backend_type = serializers.CharField(max_length=255)
    backend_version = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)


def visible_agent_identities(user: Any) -> QuerySet[AgentIdentity]:
    return AgentIdentity.objects.filter(offering__in=selectors.provider_offerings(user).values("pk"))


class AgentIdentityFilter(FilterSet):
    name = django_filters.CharFilter()
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    version = django_filters.CharFilter()

    class Meta:
        model = AgentIdentity
        fields: list[str] = []


class AgentIdentityViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, ReadOnlyViewSet
):
    serializer_class = AgentIdentitySerializer
    filterset_class = AgentIdentityFilter
    ordering_fields = ("name", "created", "last_restarted")
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[AgentIdentity]:
        return (
            visible_agent_identities(self.request.user)
            .select_related("offering", "created_by")
            .prefetch_related(Prefetch("services", queryset=AgentService.objects.order_by("created", "pk")))
            .order_by("created", "pk")
        )

    def _render(self, identity: AgentIdentity, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=identity.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=AgentIdentityRequestSerializer, responses={201: AgentIdentitySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = AgentIdentityRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        identity = agent_services.create_agent_identity(
            user=acting_user(request), data=body.data_for_service()
        )
        return self._render(identity, status.HTTP_201_CREATED)

    @extend_schema(request=AgentIdentityRequestSerializer, responses={200: AgentIdentitySerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        identity = self.get_object()
        if not agent_services.can_manage_agents(acting_user(request), identity.offering):
            raise PermissionDenied()  # before validating the body, as every other write does
        body = AgentIdentityRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        identity = agent_services.update_agent_identity(
            identity=identity, user=acting_user(request), data=body.data_for_service()
        )
        return self._render(identity)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agent_services.delete_agent_identity(identity=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=AgentServiceCreateSerializer,
        responses={200: AgentServiceSerializer, 201: AgentServiceSerializer},
    )
    @action(detail=True, methods=["post"])
    def register_service(self, request: Request, uuid: str | None = None) -> Response:
        identity = self.get_object()
        body = AgentServiceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service, created = agent_services.register_agent_service(
            identity=identity,
            user=acting_user(request),
            name=body.validated_data["name"],
            mode=body.validated_data.get("mode") or "",
        )
        fresh = AgentServiceViewSet.with_details(AgentService.objects.filter(pk=service.pk)).get()
        data = AgentServiceSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AgentServiceFilter(FilterSet):
    identity_uuid = MultipleUUIDFilter(field_name="identity__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="identity__offering__uuid")
    name = django_filters.CharFilter()
    mode = django_filters.CharFilter()
    state = MultipleStringFilter()

    class Meta:
        model = AgentService
        fields: list[str] = []


class AgentServiceViewSet(ReadOnlyViewSet):
    serializer_class = AgentServiceSerializer
    filterset_class = AgentServiceFilter
    ordering_fields = ("name", "created", "modified")

    @staticmethod
    def with_details(qs: QuerySet[AgentService]) -> QuerySet[AgentService]:
        return qs.select_related("identity").prefetch_related(
            Prefetch("processors", queryset=AgentProcessor.objects.order_by("created", "pk"))
        )

    def get_queryset(self) -> QuerySet[AgentService]:
        visible = AgentService.objects.filter(
            identity__in=visible_agent_identities(self.request.user).values("pk")
        )
        return self.with_details(visible).order_by("created", "pk")

    @extend_schema(
        request=AgentProcessorCreateSerializer,
        responses={200: AgentProcessorSerializer, 201: AgentProcessorSerializer},
    )
    @action(detail=True, methods=["post"])
    def register_processor(self, request: Request, uuid: str | None = None) -> Response:
        service = self.get_object()
        body = AgentProcessorCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        processor, created = agent_services.register_agent_processor(
            service=service,
            user=acting_user(request),
            name=body.validated_data["name"],
            backend_type=body.validated_data["backend_type"],
            backend_version=body.validated_data.get("backend_version") or "",
        )
        data = AgentProcessorSerializer(processor, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AgentProcessorViewSet(ReadOnlyViewSet):
    serializer_class = AgentProcessorSerializer
    ordering_fields = ("name", "created", "last_run")

    def get_queryset(self) -> QuerySet[AgentProcessor]:
        visible = AgentProcessor.objects.filter(
            service__identity__in=visible_agent_identities(self.request.user).values("pk")
        )
        return visible.select_related("service").order_by("created", "pk")


# --- offering users ---------------------------------------------------------------------------------------


class OfferingUserSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-offering-user-detail")
    user = LinkField("user-detail", attr="user")
    offering = LinkField("marketplace-provider-offering-detail", attr="offering")
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True)
    offering_name = serializers.CharField(source="offering.name", read_only=True)
    user_uuid = HexUUIDField(source="user.uuid", read_only=True)
    user_username = serializers.CharField(source="user.username", read_only=True)
    user_full_name = serializers.CharField(source="user.full_name", read_only=True)
    user_first_name = serializers.CharField(source="user.first_name", read_only=True)
    user_last_name = serializers.CharField(source="user.last_name", read_only=True)
    user_email = serializers.CharField(source="user.email", read_only=True)
    user_organization = serializers.CharField(source="user.organization", read_only=True)
    customer_uuid = HexUUIDField(source="offering.customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="offering.customer.name", read_only=True)

    class Meta:
        model = OfferingUser
        fields = (
            "url", "uuid", "user", "offering", "username", "offering_uuid", "offering_name", "user_uuid",
            "user_username", "user_full_name", "user_first_name", "user_last_name", "user_email",
            "user_organization", "created", "modified", "customer_uuid", "customer_name", "is_restricted",
            "state",
        )  # fmt: skip
        read_only_fields = fields


class OfferingUserCreateSerializer(serializers.Serializer):
    """OfferingUserRequest: links to a user and to an offering the caller manages, and a username."""

    user = HyperlinkInputField(("user-detail",), queryset=lambda request: User.objects.all())
    offering = HyperlinkInputField(
        ("marketplace-provider-offering-detail", "marketplace-public-offering-detail"),
        queryset=lambda request: selectors.provider_offerings(request.user),
    )
    username = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)


class OfferingUserFilter(FilterSet):
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    offering_slug = MultipleStringFilter(field_name="offering__slug")
    provider_uuid = django_filters.UUIDFilter(field_name="offering__customer__uuid")
    user_uuid = django_filters.UUIDFilter(field_name="user__uuid")
    user_username = django_filters.CharFilter(field_name="user__username")
    is_restricted = django_filters.BooleanFilter()
    state = django_filters.MultipleChoiceFilter(choices=OfferingUser.State.choices)

    class Meta:
        model = OfferingUser
        fields: list[str] = []


def visible_offering_users(user: Any) -> QuerySet[OfferingUser]:
    """The offering's provider side sees its offering users; everyone sees their own."""
    if not getattr(user, "is_authenticated", False):
        return OfferingUser.objects.none()
    return OfferingUser.objects.filter(offering__in=selectors.provider_offerings(user).values("pk")) | (
        OfferingUser.objects.filter(user=user)
    )


class OfferingUserViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = OfferingUserSerializer
    filterset_class = OfferingUserFilter
    ordering_fields = ("created", "modified", "username")

    def get_queryset(self) -> QuerySet[OfferingUser]:
        return (
            visible_offering_users(self.request.user)
            .select_related("user", "offering__customer")
            .order_by("created", "pk")
        )

    @extend_schema(request=OfferingUserCreateSerializer, responses={201: OfferingUserSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = OfferingUserCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        offering_user = offering_user_services.create_offering_user(
            actor=acting_user(request),
            offering=body.validated_data["offering"],
            user=body.validated_data["user"],
            username=body.validated_data.get("username") or "",
        )
        fresh = self.get_queryset().get(pk=offering_user.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)
