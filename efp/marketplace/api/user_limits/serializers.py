"""ComponentUserUsageLimit on the wire: `resource` and `user` are URLs (the resource, the offering user),
`component` the component's UUID, `limit` a decimal string."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from efp.marketplace import selectors
from efp.marketplace.api.common import WaldurModelSerializer
from efp.marketplace.models import ComponentUserUsageLimit, OfferingComponent, OfferingUser
from efp.rest.fields import HexUUIDField, HyperlinkInputField, LinkField

RESOURCE_VIEWS = ("marketplace-resource-detail", "marketplace-provider-resource-detail")


class ComponentUserUsageLimitSerializer(WaldurModelSerializer):
    url = LinkField("component-user-usage-limit-detail")
    resource = LinkField("marketplace-resource-detail", attr="resource")
    component = HexUUIDField(source="component.uuid", read_only=True)
    component_type = serializers.CharField(source="component.type", read_only=True)
    user = LinkField("marketplace-offering-user-detail", attr="user")

    class Meta:
        model = ComponentUserUsageLimit
        fields = ("url", "uuid", "resource", "component", "component_type", "user", "limit")
        read_only_fields = fields


def _resources(request: Any) -> Any:
    return selectors.usage_visible_resources(request.user).select_related("project", "offering")


def _offering_users(request: Any) -> Any:
    """Offering users of the offerings of resources the caller sees (the service checks the offering)."""
    offerings = selectors.usage_visible_resources(request.user).values("offering_id")
    return OfferingUser.objects.filter(offering_id__in=offerings)


class ComponentUserUsageLimitRequestSerializer(serializers.Serializer):
    """ComponentUserUsageLimitRequest; `partial=True` for PATCH."""

    resource = HyperlinkInputField(RESOURCE_VIEWS, queryset=_resources)
    component = serializers.UUIDField()
    user = HyperlinkInputField(("marketplace-offering-user-detail",), queryset=_offering_users)
    limit = serializers.DecimalField(max_digits=20, decimal_places=2, required=False)

    def validate_component(self, value: Any) -> OfferingComponent:
        component = OfferingComponent.objects.filter(uuid=value).first()
        if component is None:
            raise serializers.ValidationError(f"Object with uuid={value} does not exist.")
        return component
