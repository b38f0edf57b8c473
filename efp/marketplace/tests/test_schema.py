"""The OpenAPI schema at /api/schema/: generated without a single drf-spectacular warning, valid OpenAPI 3,
and saying what the API really answers (success codes, action bodies, enums, the HEAD count)."""

from __future__ import annotations

from typing import Any

from django.test import TestCase
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from efp.marketplace.states import OrderState, OrderType, ResourceState


def generate_schema() -> tuple[dict[str, Any], list[str]]:
    """The schema and every warning or error drf-spectacular raised while building it."""
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return schema["paths"][path][method]  # type: ignore[no-any-return]


def success_codes(op: dict[str, Any]) -> set[str]:
    return {code for code in op["responses"] if code.startswith("2")}


def body_schema(schema: dict[str, Any], op: dict[str, Any], code: str) -> dict[str, Any]:
    content = op["responses"][code]["content"]["application/json"]["schema"]
    if "$ref" in content:
        return schema["components"]["schemas"][content["$ref"].rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    return content  # type: ignore[no-any-return]


class ApiSchemaTests(TestCase):
    schema: dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.schema, cls.problems = generate_schema()

    def test_it_generates_without_a_warning_or_an_error(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def test_it_is_a_valid_openapi_3_document(self) -> None:
        validate(self.schema)
        assert self.schema["openapi"].startswith("3.")

    def test_it_serves_the_same_valid_schema_at_api_schema(self) -> None:
        response = self.client.get("/api/schema/?format=json")
        assert response.status_code == 200
        served = response.json()
        validate(served)
        assert set(served["paths"]) == set(self.schema["paths"])

    def test_it_documents_the_real_success_codes(self) -> None:
        expected = {
            ("post", "/api/marketplace-orders/"): {"201"},
            ("delete", "/api/marketplace-orders/{uuid}/"): {"204"},
            ("post", "/api/marketplace-orders/{uuid}/cancel/"): {"202"},
            ("post", "/api/marketplace-orders/{uuid}/unlink/"): {"204"},
            ("post", "/api/marketplace-orders/{uuid}/approve_by_provider/"): {"200"},
            ("post", "/api/marketplace-orders/{uuid}/set_state_erred/"): {"200"},
            ("post", "/api/marketplace-component-usages/set_usage/"): {"201"},
            ("post", "/api/marketplace-component-usages/{uuid}/set_user_usage/"): {"201"},
            ("post", "/api/marketplace-component-usages/{uuid}/set_user_usages/"): {"201"},
            ("post", "/api/marketplace-provider-resources/{uuid}/terminate/"): {"200"},
            ("post", "/api/marketplace-provider-resources/{uuid}/unlink/"): {"204"},
            ("post", "/api/marketplace-provider-offerings/"): {"201"},
            ("get", "/api/marketplace-provider-resources/{uuid}/details/"): set(),  # no scopes: always 404
        }
        for (method, path), codes in expected.items():
            assert success_codes(operation(self.schema, method, path)) == codes, (method, path)

    def test_it_describes_the_bodies_of_action_responses(self) -> None:
        detail = body_schema(
            self.schema,
            operation(self.schema, "post", "/api/marketplace-orders/{uuid}/approve_by_consumer/"),
            "200",
        )
        assert detail["required"] == ["detail"]
        status = body_schema(
            self.schema,
            operation(self.schema, "post", "/api/marketplace-provider-resources/{uuid}/set_backend_id/"),
            "200",
        )
        assert status["required"] == ["status"]
        order_uuid = body_schema(
            self.schema, operation(self.schema, "post", "/api/marketplace-resources/{uuid}/terminate/"), "200"
        )
        assert list(order_uuid["properties"]) == ["order_uuid"]
        approve = operation(self.schema, "post", "/api/marketplace-orders/{uuid}/approve_by_consumer/")
        assert "requestBody" not in approve, "approve_by_consumer takes no body"

    def test_it_names_the_enums_as_waldur_does(self) -> None:
        components = self.schema["components"]["schemas"]
        assert components["OrderState"]["enum"] == list(OrderState.values)
        assert components["ResourceState"]["enum"] == list(ResourceState.values)
        assert components["RequestTypes"]["enum"] == list(OrderType.values)
        assert "OfferingState" in components and "BillingTypeEnum" in components

    def test_it_documents_the_head_count_and_the_pagination_headers(self) -> None:
        head = operation(self.schema, "head", "/api/marketplace-orders/")
        assert head["operationId"] == "marketplace_orders_count"
        assert "X-Result-Count" in head["responses"]["200"]["headers"]
        listing = operation(self.schema, "get", "/api/marketplace-orders/")
        assert {"X-Result-Count", "Link"} <= set(listing["responses"]["200"]["headers"])
        assert {"page", "page_size", "state", "offering_uuid", "o"} <= {
            p["name"] for p in listing["parameters"]
        }
        assert "head" not in self.schema["paths"]["/api/marketplace-resources/{uuid}/team/"], (
            "team has no pages"
        )

    def test_it_leaves_out_the_order_update_that_always_refuses(self) -> None:
        assert set(self.schema["paths"]["/api/marketplace-orders/{uuid}/"]) == {"get", "delete"}
