"""The SDK contract suite covers every SDK operation we serve; the docs name every one we do not serve.

See sdk_catalogue.py for how operations are matched (our schema's operation ids are Waldur's).
"""

from __future__ import annotations

from typing import Any

from django.test import SimpleTestCase

from efp.marketplace.tests import sdk_catalogue as catalogue
from efp.marketplace.tests.test_schema import generate_schema

# Operations that always answer with an error here, so they have no success code of their own.
NO_SUCCESS = {
    "marketplace_provider_resources_details_retrieve": "no backend scopes: always 404",
    "marketplace_resources_details_retrieve": "no backend scopes: always 404",
}


# Operations we serve that Waldur's SDK has no function for (tested with the API client instead).
NOT_IN_SDK = {
    "marketplace_public_offerings_plans_count": "HEAD count of the paginated plans list",
    "marketplace_provider_offerings_list_project_service_accounts_count": "HEAD count of an empty list",
    "marketplace_provider_offerings_list_course_accounts_count": "HEAD count of an empty list",
    # Ours (docs/compatibility.md, "Notifications"): the bell's API, tested in efp/notifications/tests.
    "notifications_list": "ours",
    "notifications_count": "ours",
    "notifications_retrieve": "ours",
    "notifications_read": "ours",
    "notifications_read_all": "ours",
    "notification_preferences_retrieve": "ours",
    "notification_preferences_update": "ours",
    "hooks_web_deliveries_list": "ours: a web hook's deliveries with their attempts",
    "hooks_web_deliveries_count": "ours: HEAD count of a web hook's deliveries",
    "hooks_web_deliveries_resend": "ours: send a delivery's event again",
    "hooks_web_test": "ours: send a webhook_test event to one hook",
    # Ours (docs/compatibility.md, "Usage corrections"): tested in marketplace/tests/test_corrections_api.py.
    "marketplace_component_usages_correct": "ours: correct a month's total with a reason",
    "marketplace_component_usages_revisions_list": "ours: every value written to a usage record",
    "marketplace_component_usages_revisions_count": "ours: HEAD count of a usage record's revisions",
    "marketplace_provider_offerings_partial_update": "ours: an offering's correction policy",
    # Ours (docs/compatibility.md, "Usage imports"): usage from a CSV file, previewed or applied.
    "marketplace_usage_imports_create": "ours: preview or apply a usage CSV",
    "marketplace_usage_imports_template_retrieve": "ours: a usage CSV to start from",
    # Ours (docs/compatibility.md, "Usage coverage and usage reports"), tested in test_usage_coverage.py and
    # test_usage_reports.py.
    "marketplace_usage_coverage_list": "ours: reported, missing or not due per resource and month",
    "marketplace_usage_coverage_count": "ours: HEAD count of the coverage rows",
    "marketplace_usage_reports_list": "ours: usage and cost per organisation, project, component and month",
    "marketplace_usage_reports_count": "ours: HEAD count of the report rows",
    # Ours (docs/compatibility.md, "Events"): the record of access, tested in test_access_audit.py.
    "access_events_list": "ours: sign-ins, tokens, lockouts and role changes",
    "access_events_count": "ours: HEAD count of the access record",
    "access_events_retrieve": "ours: one event of the access record",
    # Ours (docs/compatibility.md, "Authentication and sessions"): named API tokens, tested in
    # efp/accounts/tests/test_api_tokens.py.
    "api_tokens_list": "ours: my API tokens (staff: everyone's), never their keys",
    "api_tokens_count": "ours: HEAD count of the tokens",
    "api_tokens_create": "ours: a new token, its key answered once",
    "api_tokens_retrieve": "ours: one token",
    "api_tokens_revoke": "ours: revoke a token at once",
}


class SdkCoverageTests(SimpleTestCase):
    schema: dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.schema, _ = generate_schema()
        cls.sdk = catalogue.sdk_operations()
        cls.every_sdk_operation = catalogue.sdk_operations(tags=None)  # also the packages outside TAGS
        cls.served = catalogue.served_operations(cls.schema)
        cls.in_scope = {name for name in cls.sdk if name in cls.served}

    def test_it_finds_the_operations_it_speaks_of(self) -> None:
        assert len(self.sdk) > 300  # the SDK packages were read
        assert len(self.every_sdk_operation) > 1000
        assert {"marketplace_orders_list", "marketplace_service_providers_keys_list"} <= self.in_scope

    def test_every_operation_we_serve_is_the_sdk_operation_of_that_name(self) -> None:
        """Same method and path, and only success codes the SDK accepts (it raises on any other)."""
        assert set(NOT_IN_SDK) <= set(self.served)
        for name, ours in self.served.items():
            sdk = self.every_sdk_operation.get(name)
            if name in NOT_IN_SDK:
                assert sdk is None, f"{name} is in the SDK after all"
                continue
            assert sdk is not None, f"{name}: our operation id names no SDK operation"
            assert (ours.method, ours.path) == (sdk.method, sdk.path), name
            if name in NO_SUCCESS:
                assert not ours.success_codes, name
                continue
            assert ours.success_codes, f"{name} documents no success code"
            if sdk.success_codes:  # HEAD count operations accept any code that carries the header
                assert ours.success_codes <= sdk.success_codes, (name, ours.success_codes, sdk.success_codes)

    def test_the_contract_suite_calls_every_sdk_operation_we_serve(self) -> None:
        missing = sorted(self.in_scope - catalogue.exercised_operations())
        assert missing == [], f"SDK operations we serve that no SDK test calls: {missing}"

    def test_the_contract_suite_calls_only_operations_we_serve(self) -> None:
        exercised = catalogue.exercised_operations()
        unserved = sorted(name for name in exercised if name in self.sdk and name not in self.served)
        assert unserved == [], f"SDK tests call operations the schema does not list: {unserved}"

    def test_docs_list_exactly_the_sdk_operations_we_do_not_serve(self) -> None:
        expected = catalogue.unserved_section(self.schema)
        fix = "run `.venv/bin/python -m efp.marketplace.tests.sdk_catalogue`"
        assert catalogue.documented_section() == expected, f"docs/compatibility.md is out of date: {fix}"
