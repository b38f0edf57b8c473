"""The catalogue on the wire: offerings, components, plans, categories, service providers, and the
bodies of staff's catalogue writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.accounts.models import SshKey
from efp.marketplace import plugin_options
from efp.marketplace.api.common import WaldurModelSerializer, _has_nul, public_plan_url
from efp.marketplace.api.offerings.partition_serializers import NestedPartitionSerializer
from efp.marketplace.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from efp.marketplace.states import ResourceState
from efp.rest.fields import (
    NULL_URI,
    HexUUIDField,
    HyperlinkInputField,
    LinkField,
    UTCDateTimeField,
    absolute_url,
)


class OfferingComponentSerializer(WaldurModelSerializer):
    class Meta:
        model = OfferingComponent
        fields = (
            "uuid", "type", "name", "description", "measured_unit", "billing_type", "limit_period",
            "limit_amount", "min_value", "max_value", "max_available_limit", "is_boolean", "default_limit",
            "article_code", "factor", "unit_factor", "is_prepaid",
        )  # fmt: skip
        read_only_fields = ("uuid", "factor")


# Waldur's plan_type: the kind of a plan whose components share one billing type ("mixed" otherwise).
PLAN_TYPES = {
    "usage": "usage-based",
    "fixed": "fixed",
    "one": "one-time",
    "few": "on-plan-switch",
    "limit": "limit",
}


class PlanSerializer(WaldurModelSerializer):
    url = serializers.SerializerMethodField()
    offering = LinkField("marketplace-public-offering-detail", attr="offering")
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True)
    prices = serializers.SerializerMethodField()
    quotas = serializers.SerializerMethodField()
    future_prices = serializers.SerializerMethodField()
    components = serializers.SerializerMethodField()
    init_price = serializers.SerializerMethodField()
    switch_price = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    organization_groups = serializers.SerializerMethodField()
    # Required by the SDK's ProviderPlanDetails (GET /api/marketplace-plans/{uuid}/).
    resources_count = serializers.SerializerMethodField()
    plan_type = serializers.SerializerMethodField()
    minimal_price = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = (
            "url", "uuid", "name", "description", "unit", "unit_price", "archived", "max_amount", "is_active",
            "init_price", "switch_price", "prices", "future_prices", "quotas", "components", "offering",
            "offering_uuid", "article_code", "backend_id", "organization_groups", "resources_count",
            "plan_type", "minimal_price",
        )  # fmt: skip
        read_only_fields = fields

    def get_url(self, plan: Plan) -> str | None:
        return public_plan_url(self.context.get("request"), plan)

    def _plan_components(self, plan: Plan) -> list[PlanComponent]:
        return list(plan.components.all())

    def get_prices(self, plan: Plan) -> dict[str, str]:
        return {pc.component.type: f"{pc.price:.10f}" for pc in self._plan_components(plan)}

    def get_future_prices(self, plan: Plan) -> dict[str, str | None]:
        return {
            pc.component.type: (f"{pc.future_price:.10f}" if pc.future_price is not None else None)
            for pc in self._plan_components(plan)
        }

    def get_quotas(self, plan: Plan) -> dict[str, int]:
        return {pc.component.type: pc.amount for pc in self._plan_components(plan)}

    def get_components(self, plan: Plan) -> list[dict[str, Any]]:
        return [
            {
                "type": pc.component.type,
                "name": pc.component.name,
                "measured_unit": pc.component.measured_unit,
                "amount": pc.amount,
                "price": f"{pc.price:.10f}",
                "future_price": f"{pc.future_price:.10f}" if pc.future_price is not None else None,
                "discount_threshold": None,
                "discount_rate": None,
            }
            for pc in self._plan_components(plan)
        ]

    def _sum(self, plan: Plan, billing_type: str) -> str:
        total = sum(
            (
                Decimal(pc.price)
                for pc in self._plan_components(plan)
                if pc.component.billing_type == billing_type
            ),
            Decimal(0),
        )
        return f"{total:.10f}"

    def get_init_price(self, plan: Plan) -> str:
        return self._sum(plan, OfferingComponent.BillingType.ONE)

    def get_switch_price(self, plan: Plan) -> str:
        return self._sum(plan, OfferingComponent.BillingType.FEW)

    def get_is_active(self, plan: Plan) -> bool:
        return not plan.archived

    def get_resources_count(self, plan: Plan) -> int:
        annotated = getattr(plan, "resources_count", None)  # see querysets.plan_queryset
        if annotated is not None:
            return int(annotated)
        return plan.resources.exclude(state=ResourceState.TERMINATED).count()

    def get_plan_type(self, plan: Plan) -> str | None:
        kinds = {pc.component.billing_type for pc in self._plan_components(plan)}
        if len(kinds) > 1:
            return "mixed"
        return PLAN_TYPES.get(kinds.pop()) if kinds else None

    def get_minimal_price(self, plan: Plan) -> str:
        """What a resource costs per period at least: the unit price and the fixed components."""
        fixed = Decimal(self._sum(plan, OfferingComponent.BillingType.FIXED))
        return f"{Decimal(plan.unit_price) + fixed:.10f}"

    def get_organization_groups(self, plan: Plan) -> list[Any]:
        return []


class OfferingSerializer(WaldurModelSerializer):
    url = serializers.SerializerMethodField()
    customer = LinkField("customer-detail", attr="customer")
    customer_uuid = HexUUIDField(source="customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    category = LinkField("marketplace-category-detail", attr="category")
    category_uuid = HexUUIDField(source="category.uuid", read_only=True)
    category_title = serializers.CharField(source="category.title", read_only=True)
    components = OfferingComponentSerializer(many=True, read_only=True)
    plans = PlanSerializer(many=True, read_only=True)
    partitions = NestedPartitionSerializer(many=True, read_only=True)
    organization_groups = serializers.SerializerMethodField()
    resource_options = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()

    view_name = "marketplace-public-offering-detail"

    class Meta:
        model = Offering
        fields = (
            "url", "uuid", "created", "name", "slug", "description", "customer", "customer_uuid",
            "customer_name", "category", "category_uuid", "category_title", "type", "state", "shared",
            "billable", "attributes", "options", "resource_options", "plugin_options", "backend_id",
            "terms_of_service", "components", "plans", "organization_groups", "image", "thumbnail",
            "usage_corrected_by", "usage_correction_months", "partitions",
        )  # fmt: skip
        read_only_fields = fields

    def get_url(self, offering: Offering) -> str:
        return absolute_url(self.context.get("request"), self.view_name, uuid=offering.uuid.hex)

    def get_organization_groups(self, offering: Offering) -> list[Any]:
        return []

    def get_resource_options(self, offering: Offering) -> dict[str, Any]:
        return {}

    @extend_schema_field(NULL_URI)
    def get_image(self, offering: Offering) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_thumbnail(self, offering: Offering) -> None:
        return None


class ProviderOfferingSerializer(OfferingSerializer):
    view_name = "marketplace-provider-offering-detail"


class CorrectionPolicySerializer(serializers.Serializer):
    """The body of a PATCH of a provider offering: only its correction policy changes there (ours)."""

    usage_corrected_by = serializers.CharField(required=False)
    usage_correction_months = serializers.IntegerField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in unknown}
            )
        return attrs


class CategorySerializer(WaldurModelSerializer):
    url = LinkField("marketplace-category-detail")
    offering_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Category
        fields = ("url", "uuid", "title", "description", "offering_count")
        read_only_fields = ("url", "uuid", "offering_count")


class ServiceProviderSerializer(WaldurModelSerializer):
    url = LinkField("marketplace-service-provider-detail")
    customer = LinkField("customer-detail", attr="customer")
    customer_uuid = HexUUIDField(source="customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    customer_slug = serializers.CharField(source="customer.slug", read_only=True)
    customer_abbreviation = serializers.CharField(source="customer.abbreviation", read_only=True)
    offering_count = serializers.IntegerField(read_only=True, default=0)
    created = UTCDateTimeField(read_only=True)

    class Meta:
        model = ServiceProvider
        fields = (
            "url", "uuid", "created", "description", "enable_notifications", "customer", "customer_uuid",
            "customer_name", "customer_slug", "customer_abbreviation", "offering_count",
        )  # fmt: skip
        read_only_fields = fields


class ServiceProviderSshKeySerializer(WaldurModelSerializer):
    """Waldur's `SshKey` (without `url`: we serve no `/api/keys/`)."""

    user_uuid = HexUUIDField(source="user.uuid", read_only=True)
    type = serializers.CharField(read_only=True)

    class Meta:
        model = SshKey
        fields = (
            "uuid", "name", "public_key", "fingerprint_md5", "fingerprint_sha256", "fingerprint_sha512",
            "user_uuid", "is_shared", "type",
        )  # fmt: skip
        read_only_fields = fields


class OfferingCreateSerializer(serializers.Serializer):
    customer = HyperlinkInputField(("customer-detail",), lambda request: _customers())
    category = HyperlinkInputField(("marketplace-category-detail",), lambda request: Category.objects.all())
    name = serializers.CharField(max_length=150)
    type = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    shared = serializers.BooleanField(required=False, default=True)
    billable = serializers.BooleanField(required=False, default=True)
    state = serializers.ChoiceField(
        choices=Offering.State.choices, required=False, default=Offering.State.ACTIVE
    )
    plugin_options = serializers.DictField(required=False, default=dict)
    options = serializers.DictField(required=False, default=dict)
    backend_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    components = OfferingComponentSerializer(many=True, required=False, default=list)
    plans = serializers.ListField(child=serializers.DictField(), required=False, default=list)

    def validate_plugin_options(self, value: dict[str, Any]) -> dict[str, Any]:
        if _has_nul(value):  # PostgreSQL's jsonb refuses \u0000
            raise serializers.ValidationError("Null characters are not allowed.")
        errors = plugin_options.errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_options(self, value: dict[str, Any]) -> dict[str, Any]:
        if _has_nul(value):  # PostgreSQL's jsonb refuses \u0000
            raise serializers.ValidationError("Null characters are not allowed.")
        return value


def _customers() -> Any:
    from efp.structure.models import Customer

    return Customer.objects.all()


class ComponentCreateSerializer(OfferingComponentSerializer):
    class Meta(OfferingComponentSerializer.Meta):
        read_only_fields = ("uuid", "factor")


# Plan.max_amount and PlanComponent.amount are PositiveIntegerFields: PostgreSQL's integer.
MAX_INT = 2**31 - 1


class PlanCreateSerializer(serializers.Serializer):
    offering = HyperlinkInputField(
        ("marketplace-public-offering-detail", "marketplace-provider-offering-detail"),
        lambda request: Offering.objects.all(),
    )
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    unit = serializers.ChoiceField(choices=Plan.Unit.choices, required=False, default=Plan.Unit.MONTH)
    unit_price = serializers.DecimalField(
        max_digits=22, decimal_places=10, min_value=Decimal(0), required=False, default=Decimal(0)
    )
    max_amount = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    prices = serializers.DictField(
        child=serializers.DecimalField(max_digits=22, decimal_places=10, min_value=Decimal(0)),
        required=False,
        default=dict,
    )
    quotas = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_INT), required=False, default=dict
    )


class OfferingPlanSerializer(PlanCreateSerializer):
    """A plan inside an offering's create body: the offering is the one being created."""

    offering = None  # type: ignore[assignment]
