"""The OpenAPI schema in Waldur's terms: its operation ids (the SDK's modules are named after them),
the HEAD "count" operation with the pagination headers on every collection, and the error answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from efp.rest.csv_export import CsvRenderer
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

    def map_renderers(self, attribute: str) -> list[Any]:
        """CSV (efp.rest.csv_export) is answered by lists only."""
        found: list[Any] = super().map_renderers(attribute)
        if self.method == "GET" and self._is_list_view():
            return found
        return [item for item in found if item not in (CsvRenderer.media_type, CsvRenderer.format)]

    def get_override_parameters(self) -> list[Any]:
        """`?field=a&field=b` on every GET whose serializer keeps only the named fields
        (docs/contract.md §1.5)."""
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

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """Fields named in a serializer's `Meta.optional_fields` are left out of some answers (for some
        users, or when empty): the schema must not call them required."""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        optional = set(getattr(getattr(serializer, "Meta", None), "optional_fields", ()))
        if direction == "response" and isinstance(serializer, SparseFieldsMixin):
            optional |= set(schema.get("required", ()))  # `?field=` keeps only the fields it names
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def get_operation_id(self) -> str:
        operation_id: str = super().get_operation_id()
        action = getattr(self.view, "action", None)
        if self.method == "POST" and action not in STANDARD_ACTIONS and operation_id.endswith("_create"):
            operation_id = operation_id.removesuffix("_create")
        return operation_id


def add_count_operations(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every paginated collection also answers HEAD with its count
    (docs/contract.md §1.1)."""
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


# Waldur's error bodies: {"detail": "..."}, field errors {"field": ["..."], ...}, or a bare list of messages.
ERROR_SCHEMA = {
    "oneOf": [
        {"type": "object", "additionalProperties": True},
        {"type": "array", "items": {"type": "string"}},
    ]
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: field errors, or a list of messages.",
    "401": "No valid credentials (also for a wrong or unknown token).",
    "403": "The object is visible, but the user may not do this.",
    "404": "No such object among those the user may see.",
    "405": "The offering's type does not support this action.",
    "409": "The object is not in a state that allows this.",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the error answers each operation can give (docs/contract.md §1.6).

    Every operation may get 401 (a bad token is refused even where no login is needed) and 403; one that
    names an object, or a page of a list, may get 404; one with a body or query parameters 400; a POST
    action on an object 405 (the offering type does not support it) and 409 (wrong state), as may DELETE,
    PUT and PATCH (409).
    """
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "head", "post", "put", "patch", "delete"):
                continue
            codes = {"401", "403"}
            names_object = "{" in path
            paginated = any(p.get("name") == "page" for p in operation.get("parameters", []))
            if names_object or paginated:  # a page past the last one is a 404, as in DRF
                codes.add("404")
            if "requestBody" in operation or operation.get("parameters") or method == "post":
                codes.add("400")
            if names_object and method in ("post", "put", "patch", "delete"):
                codes.add("409")
            if names_object and method == "post":
                codes.add("405")
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                if code in responses:
                    continue
                response: dict[str, Any] = {"description": ERROR_DESCRIPTIONS[code]}
                if method != "head":
                    response["content"] = {"application/json": {"schema": ERROR_SCHEMA}}
                responses[code] = response
    return result
