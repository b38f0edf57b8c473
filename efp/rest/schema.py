"""The OpenAPI schema in Waldur's terms: its operation ids (the SDK's modules are named after them) and
the HEAD "count" operation with the pagination headers on every collection."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from efp.rest.fields import SparseFieldsMixin

STANDARD_ACTIONS = {"list", "retrieve", "create", "update", "partial_update", "destroy"}

PAGINATION_HEADERS = {
    "X-Result-Count": {"schema": {"type": "integer"}, "description": "Number of items on all pages."},
    "Link": {
        "schema": {"type": "string"},
        "description": 'Comma-separated `<url>; rel="first|prev|next|last"` links to the other pages.',
    },
}


class WaldurAutoSchema(AutoSchema):
    """`marketplace_orders_list`, `marketplace_orders_approve_by_consumer`, `api_auth_password`: custom
    POST actions carry no `_create` suffix, as in Waldur's schema."""

    def get_override_parameters(self) -> list[Any]:
        """`?field=a&field=b` on every GET whose serializer keeps only the named fields (contract §1.5)."""
        parameters: list[Any] = list(super().get_override_parameters())
        if self.method != "GET":
            return parameters
        serializer: Any = self.get_response_serializers()
        if isinstance(serializer, dict):
            serializer = serializer.get(200)
        if isinstance(serializer, serializers.ListSerializer):
            serializer = serializer.child
        if isinstance(serializer, type):
            serializer = serializer()
        if isinstance(serializer, SparseFieldsMixin) and isinstance(serializer, serializers.Serializer):
            names = list(serializer.fields)
            parameters.append(
                OpenApiParameter(
                    "field",
                    str,
                    many=True,
                    explode=True,
                    enum=names,
                    description="Return only these fields (repeat the parameter for more).",
                )
            )
        return parameters

    def get_operation_id(self) -> str:
        operation_id: str = super().get_operation_id()
        action = getattr(self.view, "action", None)
        if self.method == "POST" and action not in STANDARD_ACTIONS and operation_id.endswith("_create"):
            operation_id = operation_id.removesuffix("_create")
        return operation_id


def add_count_operations(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every paginated collection also answers HEAD with its count (contract §1.1)."""
    for item in result.get("paths", {}).values():
        listing = item.get("get")
        if (
            listing is None
            or not listing["operationId"].endswith("_list")
            or "200" not in listing["responses"]
        ):
            continue
        if not any(p.get("name") == "page_size" for p in listing.get("parameters", [])):
            continue  # not paginated (`team`, `plan_periods`): no count
        listing["responses"]["200"]["headers"] = PAGINATION_HEADERS
        item["head"] = {
            "operationId": listing["operationId"].removesuffix("_list") + "_count",
            "description": "The number of items the same GET would list, in `X-Result-Count`; no body.",
            "parameters": listing.get("parameters", []),
            "tags": listing.get("tags", []),
            "security": listing.get("security", []),
            "responses": {
                "200": {"description": "No response body", "headers": PAGINATION_HEADERS},
            },
        }
    return result
