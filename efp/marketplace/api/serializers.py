"""Waldur wire format for the marketplace. Serializers only validate input and render output."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.accounts.models import SshKey
from efp.marketplace import plugin_options, selectors
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    Order,
    Plan,
    PlanComponent,
    ServiceProvider,
)
from efp.marketplace.states import OrderType, ResourceState
from efp.rest.fields import (
    NULL_DATETIME,
    NULL_OBJECT,
    NULL_STRING,
    NULL_URI,
    NULL_UUID,
    HexUUIDField,
    HyperlinkInputField,
    LinkField,
    SparseFieldsMixin,
    UTCDateTimeField,
    absolute_url,
)
from efp.rest.representation import CompiledRepresentation
from efp.structure.selectors import visible_projects


class WaldurModelSerializer(CompiledRepresentation, SparseFieldsMixin, serializers.ModelSerializer):
    """Every model DateTimeField renders in UTC with `Z`; every UUIDField as hex. Rows render through
    precompiled field getters (efp.rest.representation): DRF's output, at a fraction of the cost."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
        models.UUIDField: HexUUIDField,
    }


def public_plan_url(request: Any, plan: Plan | None) -> str | None:
    if plan is None:
        return None
    return absolute_url(
        request,
        "marketplace-public-offering-plan-detail",
        uuid=plan.offering.uuid.hex,
        plan_uuid=plan.uuid.hex,
    )


@extend_schema_field(OpenApiTypes.URI)
class PublicPlanLinkField(serializers.Field):
    def __init__(self, attr: str = "plan", **kwargs: Any) -> None:
        self.attr = attr
        kwargs.update(read_only=True, source="*", allow_null=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        plan = getattr(value, self.attr)
        if plan is None:
            return None
        if plan.offering_id == getattr(value, "offering_id", None):
            # The plan of an order or resource belongs to its offering, which the list has joined already.
            return absolute_url(
                self.context.get("request"),
                "marketplace-public-offering-plan-detail",
                uuid=value.offering.uuid.hex,
                plan_uuid=plan.uuid.hex,
            )
        return public_plan_url(self.context.get("request"), plan)


class OfferingPlanFieldsSerializer(WaldurModelSerializer):
    """The offering, provider, category and plan fields that orders and resources share
    (docs/contract.md §6.2)."""

    offering = LinkField("marketplace-public-offering-detail", attr="offering")
    offering_name = serializers.CharField(source="offering.name", read_only=True)
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True)
    offering_description = serializers.CharField(source="offering.description", read_only=True)
    offering_image = serializers.SerializerMethodField()
    offering_thumbnail = serializers.SerializerMethodField()
    offering_type = serializers.CharField(source="offering.type", read_only=True)
    offering_terms_of_service = serializers.CharField(source="offering.terms_of_service", read_only=True)
    offering_shared = serializers.BooleanField(source="offering.shared", read_only=True)
    offering_billable = serializers.BooleanField(source="offering.billable", read_only=True)
    offering_plugin_options = serializers.JSONField(source="offering.plugin_options", read_only=True)
    provider_name = serializers.CharField(source="offering.customer.name", read_only=True)
    provider_uuid = HexUUIDField(source="offering.customer.uuid", read_only=True)
    provider_slug = serializers.CharField(source="offering.customer.slug", read_only=True)
    provider_description = serializers.SerializerMethodField()
    category_title = serializers.CharField(source="offering.category.title", read_only=True)
    category_uuid = HexUUIDField(source="offering.category.uuid", read_only=True)
    category_icon = serializers.SerializerMethodField()
    plan = PublicPlanLinkField()
    plan_unit = serializers.CharField(source="plan.unit", read_only=True, default=None)
    plan_name = serializers.CharField(source="plan.name", read_only=True, default=None)
    plan_uuid = HexUUIDField(source="plan.uuid", read_only=True, default=None)
    plan_description = serializers.CharField(source="plan.description", read_only=True, default=None)
    attributes = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    modified = UTCDateTimeField(read_only=True)

    SHARED_FIELDS = (
        "offering", "offering_name", "offering_uuid", "offering_description", "offering_image",
        "offering_thumbnail", "offering_type", "offering_terms_of_service", "offering_shared",
        "offering_billable", "offering_plugin_options", "provider_name", "provider_uuid", "provider_slug",
        "provider_description", "category_title", "category_uuid", "category_icon", "plan", "plan_unit",
        "plan_name", "plan_uuid", "plan_description", "attributes", "limits", "uuid", "created", "modified",
    )  # fmt: skip

    @extend_schema_field(NULL_URI)
    def get_offering_image(self, obj: Any) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_offering_thumbnail(self, obj: Any) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_category_icon(self, obj: Any) -> None:
        return None

    def get_provider_description(self, obj: Any) -> str:
        provider = getattr(obj.offering.customer, "service_provider", None)
        return provider.description if provider is not None else ""

    def get_attributes(self, obj: Any) -> dict[str, Any]:
        return dict(obj.attributes or {})

    def get_limits(self, obj: Any) -> dict[str, Any]:
        return dict(obj.limits or {})


class OrderDetailsSerializer(OfferingPlanFieldsSerializer):
    url = LinkField("marketplace-order-detail")
    slug = serializers.SerializerMethodField()
    resource_uuid = serializers.SerializerMethodField()
    resource_type = serializers.SerializerMethodField()
    resource_name = serializers.CharField(read_only=True)
    marketplace_resource_uuid = HexUUIDField(
        source="resource.uuid", read_only=True, default=None, allow_null=True
    )
    new_cost_estimate = serializers.DecimalField(
        source="cost", max_digits=22, decimal_places=10, read_only=True
    )
    old_cost_estimate = serializers.DecimalField(
        source="old_cost", max_digits=22, decimal_places=10, read_only=True, allow_null=True
    )
    fixed_price = serializers.SerializerMethodField()
    activation_price = serializers.SerializerMethodField()
    old_plan_name = serializers.CharField(
        source="old_plan.name", read_only=True, default=None, allow_null=True
    )
    old_plan_uuid = HexUUIDField(source="old_plan.uuid", read_only=True, default=None, allow_null=True)
    new_plan_name = serializers.CharField(source="plan.name", read_only=True, default=None, allow_null=True)
    new_plan_uuid = HexUUIDField(source="plan.uuid", read_only=True, default=None, allow_null=True)
    error_traceback = serializers.CharField(read_only=True)  # staff only: optional in the schema
    error_updated_at = UTCDateTimeField(read_only=True, allow_null=True)
    completed_at = UTCDateTimeField(read_only=True, allow_null=True)
    output_updated_at = serializers.SerializerMethodField()
    order_subtype = serializers.SerializerMethodField()
    can_terminate = serializers.BooleanField(read_only=True)
    created_by = LinkField("user-detail", attr="created_by", allow_null=True)
    created_by_username = serializers.CharField(source="created_by.username", read_only=True, default="")
    created_by_full_name = serializers.CharField(source="created_by.full_name", read_only=True, default="")
    created_by_civil_number = serializers.CharField(
        source="created_by.civil_number", read_only=True, default=None, allow_null=True
    )
    created_by_email = serializers.CharField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )
    created_by_organization = serializers.CharField(
        source="created_by.organization", read_only=True, default=None, allow_null=True
    )
    created_by_organization_registry_code = serializers.SerializerMethodField()
    consumer_reviewed_by = serializers.CharField(
        source="consumer_reviewed_by.username", read_only=True, default=None, allow_null=True
    )
    consumer_reviewed_by_username = serializers.CharField(
        source="consumer_reviewed_by.username", read_only=True, default=None, allow_null=True
    )
    consumer_reviewed_by_full_name = serializers.CharField(
        source="consumer_reviewed_by.full_name", read_only=True, default=None, allow_null=True
    )
    consumer_reviewed_at = UTCDateTimeField(read_only=True, allow_null=True)
    provider_reviewed_by = serializers.CharField(
        source="provider_reviewed_by.username", read_only=True, default=None, allow_null=True
    )
    provider_reviewed_by_username = serializers.CharField(
        source="provider_reviewed_by.username", read_only=True, default=None, allow_null=True
    )
    provider_reviewed_by_full_name = serializers.CharField(
        source="provider_reviewed_by.full_name", read_only=True, default=None, allow_null=True
    )
    provider_reviewed_at = UTCDateTimeField(read_only=True, allow_null=True)
    customer_name = serializers.CharField(source="project.customer.name", read_only=True)
    customer_uuid = HexUUIDField(source="project.customer.uuid", read_only=True)
    customer_slug = serializers.CharField(source="project.customer.slug", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    project_uuid = HexUUIDField(source="project.uuid", read_only=True)
    project_description = serializers.CharField(source="project.description", read_only=True)
    project_slug = serializers.CharField(source="project.slug", read_only=True)
    issue = serializers.SerializerMethodField()
    attachment = serializers.SerializerMethodField()
    provider_message = serializers.SerializerMethodField()
    provider_message_url = serializers.SerializerMethodField()
    provider_message_attachment = serializers.SerializerMethodField()
    consumer_message = serializers.SerializerMethodField()
    consumer_message_attachment = serializers.SerializerMethodField()
    auto_approved = serializers.SerializerMethodField()
    auto_approved_by_rule_uuid = serializers.SerializerMethodField()
    auto_approved_cost_limit_snapshot = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = (
            *OfferingPlanFieldsSerializer.SHARED_FIELDS,
            "url", "slug", "type", "state", "resource_uuid", "resource_type", "resource_name", "cost",
            "marketplace_resource_uuid", "output", "output_updated_at", "error_message", "error_traceback",
            "error_updated_at", "completed_at", "callback_url", "request_comment", "start_date",
            "consumer_reviewed_by", "consumer_reviewed_by_username", "consumer_reviewed_by_full_name",
            "consumer_reviewed_at", "consumer_rejection_comment",
            "provider_reviewed_by", "provider_reviewed_by_username", "provider_reviewed_by_full_name",
            "provider_reviewed_at", "provider_rejection_comment",
            "created_by", "created_by_username", "created_by_full_name", "created_by_civil_number",
            "created_by_email", "created_by_organization", "created_by_organization_registry_code",
            "customer_name", "customer_uuid", "customer_slug", "project_name", "project_uuid",
            "project_description", "project_slug", "old_plan_name", "old_plan_uuid", "new_plan_name",
            "new_plan_uuid", "old_cost_estimate", "new_cost_estimate", "can_terminate", "fixed_price",
            "activation_price", "termination_comment", "order_subtype", "backend_id", "issue", "attachment",
            "provider_message", "provider_message_url", "provider_message_attachment", "consumer_message",
            "consumer_message_attachment", "auto_approved", "auto_approved_by_rule_uuid",
            "auto_approved_cost_limit_snapshot",
        )  # fmt: skip
        read_only_fields = fields
        optional_fields = ("error_traceback",)  # shown to staff and support only

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        generating_schema = getattr(self.context.get("view"), "swagger_fake_view", False)
        if generating_schema:
            return fields
        if not (user is not None and getattr(user, "is_authenticated", False) and user.sees_everything):
            fields.pop("error_traceback", None)
        return fields

    def get_slug(self, obj: Order) -> str:
        return obj.uuid.hex[:12]

    @extend_schema_field(NULL_UUID)
    def get_resource_uuid(self, obj: Order) -> None:
        return None  # the plugin scope object's uuid; we have no plugin scopes

    def get_resource_type(self, obj: Order) -> str | None:
        return "Marketplace.Resource" if obj.resource_id else None

    def get_fixed_price(self, obj: Order) -> float:
        return 0

    def get_activation_price(self, obj: Order) -> float:
        return 0

    @extend_schema_field(NULL_DATETIME)
    def get_output_updated_at(self, obj: Order) -> None:
        return None

    def get_order_subtype(self, obj: Order) -> str | None:
        if obj.type != OrderType.UPDATE:
            return None
        return "limits" if obj.is_limit_update else "plan"

    @extend_schema_field(NULL_STRING)
    def get_created_by_organization_registry_code(self, obj: Order) -> None:
        return None

    @extend_schema_field(NULL_OBJECT)
    def get_issue(self, obj: Order) -> None:
        return None

    @extend_schema_field(NULL_URI)
    def get_attachment(self, obj: Order) -> None:
        return None

    def get_provider_message(self, obj: Order) -> str:
        return ""

    def get_provider_message_url(self, obj: Order) -> str:
        return ""

    @extend_schema_field(NULL_URI)
    def get_provider_message_attachment(self, obj: Order) -> None:
        return None

    def get_consumer_message(self, obj: Order) -> str:
        return ""

    @extend_schema_field(NULL_URI)
    def get_consumer_message_attachment(self, obj: Order) -> None:
        return None

    def get_auto_approved(self, obj: Order) -> bool:
        return False

    @extend_schema_field(NULL_UUID)
    def get_auto_approved_by_rule_uuid(self, obj: Order) -> None:
        return None

    @extend_schema_field(NULL_STRING)
    def get_auto_approved_cost_limit_snapshot(self, obj: Order) -> None:
        return None


def _visible_offerings(request: Any) -> Any:
    return selectors.public_offerings(getattr(request, "user", None))


def _all_plans(request: Any) -> Any:
    return Plan.objects.select_related("offering")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class OrderCreateSerializer(serializers.Serializer):
    project = HyperlinkInputField(("project-detail",), lambda request: visible_projects(request.user))
    offering = HyperlinkInputField(
        ("marketplace-public-offering-detail", "marketplace-provider-offering-detail"), _visible_offerings
    )
    plan = HyperlinkInputField(
        ("marketplace-public-offering-plan-detail", "marketplace-plan-detail"),
        _all_plans,
        kwarg="plan_uuid",
        required=False,
        allow_null=True,
    )
    attributes = serializers.DictField(required=False, default=dict)
    limits = serializers.DictField(required=False, default=dict)
    type = serializers.ChoiceField(choices=OrderType.choices, required=False, default=OrderType.CREATE)
    accepting_terms_of_service = serializers.BooleanField(required=False, default=False, write_only=True)
    callback_url = serializers.URLField(required=False, allow_null=True, max_length=200)
    request_comment = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    start_date = serializers.DateField(required=False, allow_null=True)

    def validate_attributes(self, value: dict[str, Any]) -> dict[str, Any]:
        if _has_nul(value):  # PostgreSQL's jsonb refuses \u0000
            raise serializers.ValidationError("Null characters are not allowed.")
        return value

    def validate_type(self, value: str) -> str:
        if value != OrderType.CREATE:
            raise serializers.ValidationError(
                "Only Create orders are made here; "
                "use the resource's update_limits, switch_plan or terminate actions."
            )
        return value


class RejectionSerializer(serializers.Serializer):
    """`{consumer_rejection_comment?}` / `{provider_rejection_comment?}`; `comment` is our shorthand."""

    consumer_rejection_comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    provider_rejection_comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ApproveByProviderSerializer(serializers.Serializer):
    attributes = serializers.DictField(required=False)


class OrderErrorSerializer(serializers.Serializer):
    error_message = serializers.CharField(required=False, allow_blank=True, default="")
    error_traceback = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )


class BackendIdSerializer(serializers.Serializer):
    backend_id = serializers.CharField(max_length=255, allow_blank=False, allow_null=False)


# --- catalogue ------------------------------------------------------------------------------------


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


# --- staff writes to the catalogue ----------------------------------------------------------------


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


# --- bodies of action responses (schema only: the views build these small dicts) ------------------


class DetailResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StatusResponseSerializer(serializers.Serializer):
    status = serializers.CharField()


class OrderUuidResponseSerializer(serializers.Serializer):
    order_uuid = HexUUIDField()
