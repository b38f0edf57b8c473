"""Orders on the wire: the representation (docs/contract.md §5.6) and the bodies of the order actions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.marketplace import selectors
from efp.marketplace.api.common import OfferingPlanFieldsSerializer, _has_nul
from efp.marketplace.models import Order, Plan
from efp.marketplace.states import OrderType
from efp.rest.fields import (
    NULL_DATETIME,
    NULL_OBJECT,
    NULL_STRING,
    NULL_URI,
    NULL_UUID,
    HexUUIDField,
    HyperlinkInputField,
    LinkField,
    UTCDateTimeField,
)
from efp.structure.selectors import visible_projects

# The columns of the joined rows that OrderDetailsSerializer reads: every column of the order, only these of
# the rows joined to it. A site agent polls a page of 100 orders a minute; building the joined rows whole
# (a resource's 32 columns, a user's password and dates, an offering's options) cost more CPU than the rest
# of the request. A field reading a column left out here costs a query per order: the list's query-count
# tests (test_agent_requests.py) say so.
_PEOPLE = ("created_by", "consumer_reviewed_by", "provider_reviewed_by")
ORDER_DETAILS_COLUMNS = (
    *(f.name for f in Order._meta.concrete_fields),
    *(f"offering__{name}" for name in (
        "uuid", "name", "description", "customer", "category", "type", "terms_of_service", "shared",
        "billable", "plugin_options",
    )),
    "offering__customer__uuid", "offering__customer__name", "offering__customer__slug",
    "offering__customer__service_provider__description",
    "offering__category__uuid", "offering__category__title",
    "plan__uuid", "plan__name", "plan__description", "plan__unit", "plan__offering",
    "old_plan__uuid", "old_plan__name", "old_plan__offering",
    "project__uuid", "project__name", "project__description", "project__slug", "project__customer",
    "project__customer__uuid", "project__customer__name", "project__customer__slug",
    "resource__uuid", "resource__name",
    *(f"{person}__{name}" for person in _PEOPLE for name in (
        "uuid", "username", "first_name", "last_name", "civil_number", "email", "organization",
    )),
)  # fmt: skip


def orders_for_details(qs: QuerySet[Order]) -> QuerySet[Order]:
    """`qs` joined for OrderDetailsSerializer (selectors.orders_with_details), reading only its columns."""
    return selectors.orders_with_details(qs).only(*ORDER_DETAILS_COLUMNS)


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
