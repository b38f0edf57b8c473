"""Fuzzing the API from its own OpenAPI schema (schemathesis) with four personas' tokens.

Every operation of /api/schema/ gets EFP_FUZZ_EXAMPLES generated requests (default 4) per persona: staff,
a provider's owner (carol), a consumer organisation's owner (alice), an outsider (dave) and a site agent
(carol's token limited to offering O). Path parameters
are drawn from the objects of the permission matrix's world as well as at random, so requests reach real
orders, resources and usages, not only 404s. Each response must not be a 5xx, must have a status code the
schema documents for the operation, and a body and headers that match it. The requests go through Django's
WSGI handler in this process, each in a savepoint rolled back afterwards (every request meets the world
as built).
Set EFP_FUZZ_EXAMPLES=50 for a deeper run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from efp.accounts.services import issue_token
from efp.marketplace.tests.matrix_world import MatrixWorld
from efp.marketplace.tests.test_site_agent_api import in_test_transaction

EXAMPLES = int(os.environ.get("EFP_FUZZ_EXAMPLES", "4"))
PERSONAS = ("staff", "pown", "cown", "out")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Which objects of the world a `{uuid}` path parameter may name, by the path's first segment.
OBJECTS_BY_PREFIX = {
    "marketplace-orders": [
        "order_pc",
        "order_pp",
        "order_basic",
        "order_ex",
        "order_err",
        "order_resource_q",
    ],
    "marketplace-resources": ["resource", "resource_q", "resource_erred", "resource_pp"],
    "marketplace-provider-resources": ["resource", "resource_q", "resource_erred", "resource_ex"],
    "marketplace-public-offerings": ["offering", "basic", "offering_q", "private_q"],
    "marketplace-provider-offerings": ["offering", "basic", "offering_q", "private_q"],
    "marketplace-component-usages": ["usage", "usage_q"],
    "marketplace-component-user-usages": ["user_usage", "user_usage_q"],
    "customers": ["org_a", "provider_p", "provider_q"],
    "projects": ["project_a1"],
    "users": ["user_mem", "user_staff", "user_out"],
    "access-events": ["event_grant_bob", "event_grant_rita", "event_pc"],
}


def openapi_document() -> dict[str, Any]:
    """/api/schema/ as JSON, the same document the endpoint serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


class FuzzTests(MatrixWorld):
    def test_it_answers_every_generated_request_as_the_schema_says(self) -> None:
        schema = schemathesis.openapi.from_dict(openapi_document())
        app = in_test_transaction  # our WSGI app, keeping the test's database connection (PostgreSQL)
        issued = {p: issue_token(user=self.personas[p], name="fuzz") for p in PERSONAS}  # type: ignore[arg-type]
        # and a site agent's token: carol's, limited to offering O (efp/structure/scope_rules.py)
        issued["agent"] = issue_token(user=self.personas["pown"], name="fuzz agent", offering=self.offering)  # type: ignore[arg-type]
        tokens = {p: key for p, (_token, key) in issued.items()}
        # the personas' own tokens, so that /api/api-tokens/{uuid}/ (and its revoke) meets real ones
        token_keys = [token.uuid.hex for token, _key in issued.values()]
        sent = 0
        operations = []
        for result in schema.get_all_operations():
            operations.append(result.ok())
        assert len(operations) > 50, len(operations)

        def strategy(operation: Any) -> Any:
            params = [p.name for p in operation.path_parameters]
            prefix = operation.path.removeprefix("/api/").split("/", 1)[0]
            known = [self.names[label] for label in OBJECTS_BY_PREFIX.get(prefix, [])]
            if prefix == "api-tokens":
                known = token_keys
            if params != ["uuid"] or not known:
                return operation.as_strategy()
            return st.one_of(
                operation.as_strategy(),
                *(operation.as_strategy(path_parameters={"uuid": key}) for key in known),
            )

        def fuzzer(cases: Any, headers: dict[str, str]) -> Any:
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=cases)
            def fuzz(case: Any) -> None:
                nonlocal sent
                sent += 1
                with transaction.atomic():  # one request's database error cannot poison the next
                    try:
                        case.call_and_validate(app=app, headers=headers, checks=CHECKS)
                    finally:
                        transaction.set_rollback(True)

            return fuzz

        failures = []
        for operation in operations:
            cases = strategy(operation)
            for persona in tokens:
                try:
                    fuzzer(cases, {"Authorization": f"Token {tokens[persona]}"})()
                except (
                    Exception,
                    BaseExceptionGroup,
                ) as error:  # every operation is tried; failures reported together
                    failures.append(f"{operation.label} as {persona}:\n{error}")
        print(f"fuzzing: {sent} requests over {len(operations)} operations and {len(tokens)} personas")
        assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)
