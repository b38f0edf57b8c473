"""The bad input catalogue: every entry is refused with a 4xx and a message that says what is wrong, and
nothing in the database changes. Text that is merely unusual (SQL, HTML, any Unicode) is not bad input:
it is stored exactly as sent and shown escaped in the GUI. Each test counts what it tried (`TRIED`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, ClassVar

from django.apps import apps

from efp.accounts.models import ApiToken
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Order, Resource
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.tests.factories import make_order, make_resource
from efp.structure.models import Customer, Project
from efp.structure.names import NAME_MESSAGE
from efp.web.tests.base import WebTestCase

SET_USAGE = "/api/marketplace-component-usages/set_usage/"
ORDERS = "/api/marketplace-orders/"
HOSTILE_TEXTS = [
    "Robert'); DROP TABLE marketplace_resource;--",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10)",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(1)>",
    "{{ 7*7 }} {% now 'Y' %}",
    "Zürich 研究 🚀 ÅÄÖ ǅ ﷽",
]
TRIED: dict[str, int] = {}


def everything() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model of ours, and the API tokens: the 'nothing written' check."""
    labels = ("accounts", "structure", "marketplace")
    state = {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.app_label in labels and model is not ApiToken
    }
    # A request notes when and from where its token was used; nothing else of a token may change.
    unused = ("last_used", "last_used_from")
    fields = [field.name for field in ApiToken._meta.fields if field.name not in unused]
    state["tokens"] = list(ApiToken.objects.order_by("pk").values_list(*fields))
    return state


class CatalogueTestCase(WebTestCase):
    counted: ClassVar[str] = ""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alloc = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        usage_services.set_usage(
            user=cls.carol,
            resource=cls.alloc,
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal(5))],
        )
        cls.pending = make_order(cls.alice, cls.project_a1, cls.offering, name="pending")
        cls.cpu_usage = ComponentUsage.objects.get(resource=cls.alloc, component__type="cpu")

    def assert_refused(
        self, user: Any, path: str, body: Any, *, status: int = 400, content_type: str = "application/json"
    ) -> Any:
        """Sends `body` (JSON unless bytes or str): `status`, a message, and nothing written."""
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        client = self.as_user(user)  # creates the token, so before the snapshot
        before = everything()
        data = raw.encode() if isinstance(raw, str) else raw
        response = client.generic("POST", path, data, content_type=content_type)
        assert response.status_code == status, (
            path,
            str(raw)[:200],
            response.status_code,
            response.content[:300],
        )
        message = response.json()
        assert message and any(text for text in flatten(message)), message
        assert everything() == before, (path, str(raw)[:200])
        TRIED[self.counted] = TRIED.get(self.counted, 0) + 1
        return message


def flatten(message: Any) -> list[str]:
    if isinstance(message, dict):
        return [text for value in message.values() for text in flatten(value)]
    if isinstance(message, list):
        return [text for value in message for text in flatten(value)]
    return [str(message)]


def usage_body(resource: Resource, **item: Any) -> dict[str, Any]:
    return {"resource": resource.uuid.hex, "usages": [{"type": "cpu", "amount": "1", **item}]}


class MalformedBodyTests(CatalogueTestCase):
    counted = "malformed JSON and wrong content types"

    def test_it_refuses_malformed_json_everywhere_with_a_parse_error(self) -> None:
        bodies = [
            "{", '{"usages": [}', "[1, 2", '{"a": 1} trailing', "{'single': 'quotes'}", '{"a": 1,}', "\x00",
            b"\xff\xfe\xfd", "[" * 100_000 + "]" * 100_000, '{"usages": ' + "[" * 5000 + "]" * 5000 + "}",
        ]  # fmt: skip
        paths = [
            (self.carol, SET_USAGE),
            (self.carol, f"/api/marketplace-component-usages/{self.cpu_usage.uuid.hex}/set_user_usages/"),
            (self.alice, ORDERS),
            (self.carol, f"{ORDERS}{self.pending.uuid.hex}/reject_by_provider/"),
            (self.carol, f"{ORDERS}{self.pending.uuid.hex}/approve_by_provider/"),
            (self.staff, "/api/customers/"),
            (self.staff, "/api/projects/"),
            (None, "/api-auth/password/"),
        ]
        for user, path in paths:
            for body in bodies:
                message = self.assert_refused(user, path, body)
                assert message["detail"].startswith("JSON parse error"), (path, body[:20], message)

    def test_it_refuses_bodies_that_are_json_but_not_an_object(self) -> None:
        for body in ('"just a string"', "null", "[]", "42", "true"):
            message = self.assert_refused(self.carol, SET_USAGE, body)
            assert "non_field_errors" in message or "usages" in message, (body, message)
            message = self.assert_refused(self.alice, ORDERS, body)

    def test_it_answers_other_content_types_with_415(self) -> None:
        body = json.dumps(usage_body(self.alloc))
        for content_type in ("text/plain", "application/xml", "text/csv", "application/octet-stream",
                             "application/json-patch+json", "image/png"):  # fmt: skip
            message = self.assert_refused(self.carol, SET_USAGE, body, status=415, content_type=content_type)
            assert message == {"detail": f'Unsupported media type "{content_type}" in request.'}

    def test_it_refuses_a_form_encoded_body_that_lacks_the_json_structure(self) -> None:
        body = f"resource={self.alloc.uuid.hex}&usages=cpu"
        message = self.assert_refused(
            self.carol, SET_USAGE, body, content_type="application/x-www-form-urlencoded"
        )
        assert "usages" in message


class HugeBodyTests(CatalogueTestCase):
    counted = "huge bodies and long lists"

    def test_it_answers_a_body_over_the_limit_with_413_before_reading_it(self) -> None:
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        assert limit == 1024 * 1024
        padding = "x" * (limit + 1)
        for user, path in ((self.carol, SET_USAGE), (self.alice, ORDERS), (None, "/api-auth/password/")):
            body = json.dumps({**usage_body(self.alloc), "padding": padding})
            message = self.assert_refused(user, path, body, status=413)
            assert message == {
                "detail": f"Request body is too large: {len(body)} bytes; the limit is {limit} bytes."
            }

    def test_it_answers_a_huge_gui_form_with_413_too(self) -> None:
        client = self.login(self.carol)
        before = everything()
        response = client.post(
            f"/provider/orders/{self.pending.uuid.hex}/reject/", {"comment": "x" * (2 * 1024 * 1024)}
        )
        assert response.status_code == 413
        assert b"Request body is too large" in response.content
        assert everything() == before
        TRIED[self.counted] = TRIED.get(self.counted, 0) + 1

    def test_it_refuses_ten_thousand_usages_in_one_report(self) -> None:
        items = [{"type": f"c{n}", "amount": "1"} for n in range(10_000)]
        message = self.assert_refused(
            self.carol, SET_USAGE, {"resource": self.alloc.uuid.hex, "usages": items}
        )
        assert message == {"usages": ["Ensure this field has no more than 100 elements."]}

    def test_it_refuses_ten_thousand_user_usages_in_one_report(self) -> None:
        path = f"/api/marketplace-component-usages/{self.cpu_usage.uuid.hex}/set_user_usages/"
        items = [{"username": f"user{n}", "usage": "1"} for n in range(10_000)]
        message = self.assert_refused(self.carol, path, {"usages": items})
        assert message == {"usages": ["Ensure this field has no more than 1000 elements."]}

    def test_it_refuses_too_many_items_in_the_services_too(self) -> None:
        """The GUI and other callers go through the same verbs."""
        from efp.errors import InvalidInput

        before = everything()
        with self.assertRaises(InvalidInput):
            usage_services.set_usage(
                user=self.carol,
                resource=self.alloc,
                usages=[usage_services.UsageItem(type=f"c{n}", amount=Decimal(1)) for n in range(101)],
            )
        with self.assertRaises(InvalidInput):
            user_usage_services.set_user_usages(
                user=self.carol,
                component_usage=self.cpu_usage,
                items=[usage_services.UserUsageItem(username=f"u{n}", usage=Decimal(1)) for n in range(1001)],
            )
        assert everything() == before


class ControlCharacterTests(CatalogueTestCase):
    counted = "control characters in names"
    BAD_NAMES: ClassVar[list[str]] = [
        "bell\x07", "line\nbreak", "tab\there", "esc\x1b[31mred", "del\x7f", "c1\x85mid", "nul\x00",
        "\u202eevil.exe", "iso\u2066late", "cr\rmid", "  \x1b  ",
    ]  # fmt: skip

    def test_it_refuses_control_characters_in_resource_names(self) -> None:
        for name in self.BAD_NAMES:
            body = {
                "project": self.project_url(self.project_a1),
                "offering": self.offering_url(self.offering),
                "plan": self.plan_url(self.offering.plans.get()),
                "attributes": {"name": name},
                "limits": {"storage": 5},
            }
            message = self.assert_refused(self.alice, ORDERS, body)
            assert message in (
                {"attributes": [NAME_MESSAGE]},
                {"attributes": ["Null characters are not allowed."]},
            )

    def test_it_refuses_control_characters_in_organisation_and_project_names(self) -> None:
        customer = f"http://testserver/api/customers/{self.org_a.uuid.hex}/"
        for name in self.BAD_NAMES:
            message = self.assert_refused(self.staff, "/api/customers/", {"name": name})
            assert NAME_MESSAGE in message["name"], message
            message = self.assert_refused(self.staff, "/api/projects/", {"name": name, "customer": customer})
            assert NAME_MESSAGE in message["name"], message

    def test_it_refuses_control_characters_in_usage_usernames(self) -> None:
        path = f"/api/marketplace-component-usages/{self.cpu_usage.uuid.hex}/set_user_usages/"
        for name in self.BAD_NAMES:
            message = self.assert_refused(self.carol, path, {"usages": [{"username": name, "usage": "1"}]})
            assert "username" in message["usages"][0], message

    def test_it_refuses_lone_surrogates(self) -> None:
        message = self.assert_refused(self.staff, "/api/customers/", '{"name": "bad \\ud800 half"}')
        assert message == {"name": ["Surrogate characters are not allowed: U+D800."]}

    def test_it_keeps_any_other_unicode_exactly(self) -> None:
        name = "Zürich 研究 🚀 ÅÄÖ ǅ ﷽ ٣"
        response = self.as_user(self.staff).post("/api/customers/", {"name": name}, format="json")
        assert response.status_code == 201
        assert Customer.objects.get(uuid=response.json()["uuid"]).name == name


class NumbersAndStringsTests(CatalogueTestCase):
    counted = "numbers as strings, strings as numbers, NaN and Infinity"

    def test_it_takes_decimal_strings_for_amounts_as_waldur_does(self) -> None:
        response = self.as_user(self.carol).post(
            SET_USAGE, usage_body(self.alloc, amount="7.25"), format="json"
        )
        assert response.status_code == 201
        assert ComponentUsage.objects.get(pk=self.cpu_usage.pk).usage == Decimal("7.25")

    def test_it_refuses_amounts_that_are_not_finite_decimal_numbers(self) -> None:
        for amount in (
            "twelve", "", " ", "1,5", "0x10", "1e400", "-1", "1.234", "NaN", "nan", "Infinity", "-Infinity",
            "sNaN", True, None, [], {}, "12345678901234567890",
        ):  # fmt: skip
            message = self.assert_refused(self.carol, SET_USAGE, usage_body(self.alloc, amount=amount))
            assert list(message) == ["usages"] and "amount" in message["usages"][0], (amount, message)

    def test_it_refuses_nan_and_infinity_as_json_literals(self) -> None:
        for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
            body = json.dumps(usage_body(self.alloc)).replace('"amount": "1"', f'"amount": {literal}')
            message = self.assert_refused(self.carol, SET_USAGE, body)
            assert ("JSON parse error" in message.get("detail", "")) or "usages" in message, (
                literal,
                message,
            )
        body = json.dumps({"attributes": {"name": "x"}, "limits": {"storage": 1}}).replace("1}", "NaN}")
        message = self.assert_refused(self.alice, ORDERS, body)
        assert "Out of range float values are not JSON compliant" in message["detail"]

    def test_it_refuses_strings_and_numbers_in_each_others_place(self) -> None:
        cases = [
            {"resource": self.alloc.uuid.hex, "usages": [{"type": 5, "amount": "1"}]},
            {"resource": self.alloc.uuid.hex, "usages": [{"type": ["cpu"], "amount": "1"}]},
            {"resource": self.alloc.uuid.hex, "usages": "cpu=1"},
            {"resource": self.alloc.uuid.hex, "usages": {"type": "cpu", "amount": "1"}},
            {"resource": 12345, "usages": [{"type": "cpu", "amount": "1"}]},
            usage_body(self.alloc, recurring="maybe"),
            {"resource": self.alloc.uuid.hex, "usages": [{"type": "cpu", "amount": "1", "description": 5.5}],
             "date": 20260101},
        ]  # fmt: skip
        for body in cases:
            self.assert_refused(self.carol, SET_USAGE, body)
        order = {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(self.offering.plans.get()),
            "attributes": {"name": "x"},
        }
        for extra in (
            {"limits": {"storage": "ten"}}, {"limits": {"storage": 1.5}}, {"limits": ["storage", 1]},
            {"limits": {"storage": -1}}, {"attributes": "name"}, {"attributes": {"name": 7}},
            {"project": 17}, {"accepting_terms_of_service": "perhaps"},
        ):  # fmt: skip
            self.assert_refused(self.alice, ORDERS, {**order, **extra})
        path = f"/api/marketplace-component-usages/{self.cpu_usage.uuid.hex}/set_user_usages/"
        for item in (
            {"username": "", "usage": "1"}, {"username": "u", "usage": "lots"},
            {"username": "u", "usage": "1", "date": 5}, {"username": ["u"], "usage": 1},
        ):  # fmt: skip
            self.assert_refused(self.carol, path, {"usages": [item]})


class DateRangeTests(CatalogueTestCase):
    counted = "dates out of range"

    def test_it_refuses_dates_that_do_not_exist_or_are_out_of_range(self) -> None:
        for date in ("10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
                     "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z",
                     "2026-01-01T00:00:00+25:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00",
                     "yesterday", "", "1900-01-01T00:00:00Z"):  # fmt: skip
            message = self.assert_refused(self.carol, SET_USAGE, {**usage_body(self.alloc), "date": date})
            assert "date" in message, (date, message)

    def test_it_refuses_out_of_range_dates_on_orders_and_projects(self) -> None:
        order = {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(self.offering.plans.get()),
            "attributes": {"name": "x"},
            "limits": {"storage": 1},
        }
        for start in ("99999-01-01", "0000-00-00", "2026-02-30", "01/02/2026"):
            self.assert_refused(self.alice, ORDERS, {**order, "start_date": start})
        customer = f"http://testserver/api/customers/{self.org_a.uuid.hex}/"
        for end in ("10000-01-01", "2026-04-31", "0"):
            self.assert_refused(
                self.staff, "/api/projects/", {"name": "p", "customer": customer, "end_date": end}
            )


class HostileTextTests(CatalogueTestCase):
    """SQL and HTML are text: stored exactly, harmless to the database, shown escaped in the GUI."""

    def test_it_stores_sql_and_html_exactly_in_every_text_field(self) -> None:
        client = self.as_user(self.staff)
        for text in HOSTILE_TEXTS:
            response = client.post(
                "/api/customers/", {"name": text, "abbreviation": text[:12]}, format="json"
            )
            assert response.status_code == 201, (text, response.content)
            customer = Customer.objects.get(uuid=response.json()["uuid"])
            assert (customer.name, customer.abbreviation) == (text, text[:12].strip())
            response = client.post(
                "/api/projects/",
                {
                    "name": text,
                    "description": text,
                    "customer": f"http://testserver/api/customers/{customer.uuid.hex}/",
                },
                format="json",
            )
            assert response.status_code == 201, (text, response.content)
            project = Project.objects.get(uuid=response.json()["uuid"])
            assert (project.name, project.description) == (text, text)
            response = self.as_user(self.alice).post(
                ORDERS,
                {
                    "project": self.project_url(self.project_a1),
                    "offering": self.offering_url(self.offering),
                    "plan": self.plan_url(self.offering.plans.get()),
                    "attributes": {"name": text[:150]},
                    "limits": {"storage": 1},
                    "request_comment": text,
                },
                format="json",
            )
            assert response.status_code == 201, (text, response.content)
            order = Order.objects.get(uuid=response.json()["uuid"])
            assert (order.resource.name, order.request_comment) == (text[:150], text)
            response = self.as_user(self.carol).post(
                f"{ORDERS}{order.uuid.hex}/reject_by_provider/",
                {"provider_rejection_comment": text},
                format="json",
            )
            assert response.status_code == 200, response.content
            assert Order.objects.get(pk=order.pk).provider_rejection_comment == text
        path = f"/api/marketplace-component-usages/{self.cpu_usage.uuid.hex}/set_user_usages/"
        items = [{"username": text[:100], "usage": "1"} for text in HOSTILE_TEXTS]
        assert self.as_user(self.carol).post(path, {"usages": items}, format="json").status_code == 201
        stored = set(
            ComponentUserUsage.objects.filter(component_usage=self.cpu_usage).values_list(
                "username", flat=True
            )
        )
        assert stored == {text[:100] for text in HOSTILE_TEXTS}
        response = self.as_user(self.carol).post(
            SET_USAGE, usage_body(self.alloc, description=HOSTILE_TEXTS[0]), format="json"
        )
        assert response.status_code == 201
        assert Resource.objects.filter(pk=self.alloc.pk).exists()  # the table is still there

    def test_it_shows_the_text_escaped_in_the_gui(self) -> None:
        script = "<script>alert('x')</script>"
        image = '"><img src=x onerror=alert(1)>'
        order = make_order(self.alice, self.project_a1, self.offering, name=image)
        response = self.as_user(self.carol).post(
            f"{ORDERS}{order.uuid.hex}/reject_by_provider/",
            {"provider_rejection_comment": script},
            format="json",
        )
        assert response.status_code == 200
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering, name=image)
        usage = usage_services.set_usage(
            user=self.carol, resource=resource,
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal(2), description=script)],
        )[0]  # fmt: skip
        user_usage_services.set_user_usages(
            user=self.carol,
            component_usage=usage,
            items=[usage_services.UserUsageItem(username=script, usage=Decimal(1))],
        )
        client = self.login(self.carol)
        pages = [
            f"/provider/orders/{order.uuid.hex}/",
            "/provider/orders/?state=rejected",
            "/provider/resources/",
            f"/provider/resources/{resource.uuid.hex}/usage/",
            f"/provider/resources/{resource.uuid.hex}/report/",
            "/provider/",
        ]
        shown = 0
        for path in pages:
            html = client.get(path).content.decode()
            assert script not in html and "<img src=x" not in html, path
            shown += html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") + html.count(
                "&lt;img src=x"
            )
        assert shown >= 5
        csv = client.get(f"/provider/resources/{resource.uuid.hex}/usage.csv?months=all").content.decode()
        assert script in csv  # a CSV is data, not HTML: the text is kept as it is


def teardown_module() -> None:
    total = sum(TRIED.values())
    if total:
        print(f"\nbad inputs tried: {total} " + ", ".join(f"{k}: {v}" for k, v in sorted(TRIED.items())))
