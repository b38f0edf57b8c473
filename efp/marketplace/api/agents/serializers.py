"""Site agents on the wire: identities, services, processors, and offering users."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from efp.accounts.models import User
from efp.marketplace import agent_messages, selectors
from efp.marketplace.api.common import WaldurModelSerializer
from efp.marketplace.models import AgentIdentity, AgentProcessor, AgentService, Offering, OfferingUser
from efp.marketplace.services import agents as agent_services
from efp.rest.fields import HexUUIDField, HyperlinkInputField, LinkField, UTCDateTimeField


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


class AgentQueueRegistrationSerializer(serializers.Serializer):
    """`register_queue`'s body: the object types the queue receives (omitted: as before; []: every type)."""

    object_types = serializers.ListField(
        child=serializers.ChoiceField(choices=agent_messages.OBJECT_TYPES), required=False
    )


class AgentQueueRegistrationResponseSerializer(serializers.Serializer):
    rmq_username = serializers.CharField(help_text="RabbitMQ username (UUID hex) for STOMP authentication")
    queue_name = serializers.CharField(help_text="RabbitMQ queue name (consumer_{uuid})")
    vhost = serializers.CharField(help_text="RabbitMQ virtual host (user UUID)")
    observable_object_types = serializers.ListField(
        child=serializers.CharField(), help_text="List of observable object types routed to this queue"
    )


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
    # A link or "" (none yet): a plain string in the schema, as "" is no URI.
    service_provider_comment_url = serializers.CharField(read_only=True)

    class Meta:
        model = OfferingUser
        fields = (
            "url", "uuid", "user", "offering", "username", "offering_uuid", "offering_name", "user_uuid",
            "user_username", "user_full_name", "user_first_name", "user_last_name", "user_email",
            "user_organization", "created", "modified", "customer_uuid", "customer_name", "is_restricted",
            "state", "service_provider_comment", "service_provider_comment_url",
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


class OfferingUserCommentSerializer(serializers.Serializer):
    """OfferingUserStateTransitionRequest: what the provider tells the person while the account waits."""

    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    comment_url = serializers.URLField(required=False, allow_blank=True, max_length=1000)


class OfferingUsernameSerializer(serializers.Serializer):
    """PatchedOfferingUserRequest: only `username` is changed here."""

    username = serializers.CharField(max_length=100, required=True, allow_null=True, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - {"username"}
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
        return attrs
