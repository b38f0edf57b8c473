"""The GUI permission matrix: every page and form of the web front, for every persona.

The personas and objects are those of the API matrix (efp/marketplace/tests/matrix_world.py). Anonymous
visitors are sent to the login page (302); the provider workspace refuses users without a provider role
(403) before it looks anything up, and a provider user asking for another provider's object gets 404.
A successful form post redirects (302). Each cell runs in a savepoint rolled back afterwards.
"""
# ruff: noqa: E501  (the table reads best one row a line)

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import resolve
from django.utils import timezone

from efp.accounts.services import issue_token
from efp.hooks import services as hook_services
from efp.marketplace.tests.matrix_world import MATRIX_PERSONAS, MatrixWorld, Row, fill, routes

PRES = "/provider/resources/{resource}"
ORDER = "/provider/orders/{order_pp}"
REPORT_BODY = {"month": "{month}", "amount_cpu": "3"}
CORRECT_BODY = {"component": "cpu", "month": "{month}", "amount": "2", "reason": "Counted twice"}
POLICY_BODY = {"usage_corrected_by": "owners", "usage_correction_months": "4"}
BULK_BODY = {"action": "approve", "order": ["{order_pp}"], "confirm": "1"}
ORDER_FORM_BODY = {"project": "{project_a1}", "plan": "{plan}", "name": "gui-alloc", "limit_storage": "5"}
MY_ORDER = "/my/orders"
MY_RES = "/my/resources/{resource}"
ORG = "/organisations/{org_a}"
PROJ = "/projects/{project_a1}"
HOOK = "/provider/hooks/{hook}"
HOOK_BODY = {"destination_url": "http://93.184.215.14/hook/", "event_groups": "users", "content_type": "json"}

# fmt: off
GUI: list[Row] = [
    #   method   path                          anon out mem pm padm cown om pown other staff
    Row("GET",  "/",                           "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/login/",                     "200 302 302 302 302 302 302 302 302 302",
        note="a signed-in user is sent on to the home page"),
    Row("POST", "/login/",                     "302 302 302 302 302 302 302 302 302 302", {"username": "dave", "password": "dave"}),
    Row("PUT",  "/login/",                     "200 302 302 302 302 302 302 302 302 302",
        note="Django's form views treat PUT as POST; without a body the form is shown again"),
    Row("POST", "/logout/",                    "302 302 302 302 302 302 302 302 302 302"),
    Row("GET",  "/oidc/authenticate/",         "404 404 404 404 404 404 404 404 404 404",
        note="sign-in with the OpenID issuer: 404 while EFP_OIDC_ISSUER is empty; efp/accounts/tests/test_oidc.py walks it"),
    Row("GET",  "/oidc/callback/",             "404 404 404 404 404 404 404 404 404 404"),
    Row("GET",  "/profile/",                   "302 200 200 200 200 200 200 200 200 200"),
    Row("POST", "/profile/tokens/",            "302 200 200 200 200 200 200 200 200 200", {"name": "laptop"},
        note="the new token's key is shown on the page that answers"),
    Row("GET",  "/profile/tokens/{token_mem}/revoke/", "302 404 200 404 404 404 404 404 404 404",
        note="one's own tokens only; staff revoke others' in the admin"),
    Row("POST", "/profile/tokens/{token_mem}/revoke/", "302 404 302 404 404 404 404 404 404 404"),
    Row("POST", "/profile/notifications/",     "302 302 302 302 302 302 302 302 302 302", {"orders": "off", "usage": "off", "end_dates": "off", "roles": "off", "hooks": "off"}),
    Row("GET",  "/notifications/",             "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/notifications/bell/",        "302 200 200 200 200 200 200 200 200 200"),
    Row("POST", "/notifications/read-all/",    "302 302 302 302 302 302 302 302 302 302"),
    Row("POST", "/notifications/{order_pc}/read/", "302 404 404 404 404 404 404 404 404 404",
        note="each person marks only their own notifications (efp/web/tests/test_notifications.py); this is nobody's"),
    Row("GET",  "/provider/",                  "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/resources/",        "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/resources/?format=csv", "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  f"{PRES}/",                    "302 403 403 403 403 403 200 200 404 200",
        note="the allocation page: the provider resources list's selector; another provider's is 404"),
    Row("GET",  f"{PRES}/usage/",              "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{PRES}/usage.csv",           "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{PRES}/report/",             "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/report/",             "302 403 403 403 403 403 302 302 404 302", REPORT_BODY),
    Row("GET",  f"{PRES}/correct/",            "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/correct/",            "302 403 403 403 403 403 302 302 404 302", CORRECT_BODY),
    Row("GET",  "/provider/offerings/{offering}/corrections/", "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", "/provider/offerings/{offering}/corrections/", "302 403 403 403 403 403 403 302 404 302", POLICY_BODY,
        note="the offering's managers may not change who corrects (the policy may exclude them)"),
    Row("GET",  f"{PRES}/backend-id/",         "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/backend-id/",         "302 403 403 403 403 403 302 302 404 302", {"backend_id": "acc-9"}),
    Row("GET",  f"{PRES}/end-date/",           "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/end-date/",           "302 403 403 403 403 403 302 302 404 302", {"end_date": "2099-01-01"}),
    Row("GET",  f"{PRES}/restore/",            "302 403 403 403 403 403 200 200 404 200",
        note="the confirmation page says why it is refused (here: the resource is OK, not Terminated)"),
    Row("POST", f"{PRES}/restore/",            "302 403 403 403 403 403 403 409 404 409",
        note="the provider's owners restore (RESOURCE.SET_STATE); `resource` is OK: 409, as the API"),
    Row("GET",  "/provider/coverage/",         "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/usage-report/",     "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/orders/",           "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/orders/?format=csv", "302 403 403 403 403 403 200 200 200 200"),
    Row("POST", "/provider/orders/bulk/",      "302 403 403 403 403 403 200 200 302 200", BULK_BODY,
        note="another provider's order is skipped: nothing selected is left, so quinn is sent back"),
    Row("GET",  f"{ORDER}/",                   "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{ORDER}/approve/",           "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{ORDER}/approve/",           "302 403 403 403 403 403 302 302 404 302"),
    Row("GET",  f"{ORDER}/reject/",            "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{ORDER}/reject/",            "302 403 403 403 403 403 302 302 404 302", {"comment": "No capacity."}),

    # Web hooks: one's own (staff: all); carol's hook is nobody else's business.
    Row("GET",  "/provider/hooks/",            "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/hooks/new/",        "302 403 403 403 403 403 200 200 200 200"),
    Row("POST", "/provider/hooks/new/",        "302 403 403 403 403 403 201 201 201 201", HOOK_BODY,
        note="the answer shows the new hook's secret once, so it is a page, not a redirect"),
    Row("GET",  f"{HOOK}/",                    "302 403 403 403 403 403 404 200 404 200"),
    Row("POST", f"{HOOK}/test/",               "302 403 403 403 403 403 404 302 404 302"),
    Row("POST", f"{HOOK}/active/",             "302 403 403 403 403 403 404 302 404 302", {"active": "0"}),
    Row("GET",  f"{HOOK}/delete/",             "302 403 403 403 403 403 404 200 404 200"),
    Row("POST", f"{HOOK}/delete/",             "302 403 403 403 403 403 404 302 404 302"),
    Row("POST", f"{HOOK}/deliveries/{{hook_delivery}}/resend/", "302 403 403 403 403 403 404 302 404 302"),

    # Import usage: the page and its template for every provider user; what a file may write is per line
    # (efp/marketplace/tests/test_usage_imports.py, efp/web/tests/test_usage_import.py).
    Row("GET",  "/provider/usage-import/",     "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/usage-import/template.csv", "302 403 403 403 403 403 200 200 200 200"),
    Row("POST", "/provider/usage-import/",     "302 403 403 403 403 403 400 400 400 400", {"staged": "none"},
        note="an upload that is not one's own (or has expired) is refused with the form"),

    # The consumer's workspace: orders and resources of one's projects and organisations only.
    Row("GET",  "/marketplace/",                           "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/marketplace/offerings/{offering}/",      "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/marketplace/offerings/{private_q}/",     "302 404 404 404 404 404 404 404 200 200",
        note="a private offering shows only to its own organisation"),
    Row("GET",  "/marketplace/offerings/{offering}/order/", "302 200 200 200 200 200 200 200 200 200"),
    Row("POST", "/marketplace/offerings/{offering}/order/", "302 400 302 302 302 302 400 400 400 302", ORDER_FORM_BODY,
        note="the project must be one where the user may order: others get the form back with an error"),
    Row("GET",  f"{MY_ORDER}/",                            "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  f"{MY_ORDER}/?format=csv",                 "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  f"{MY_ORDER}/{{order_pc}}/",               "302 404 200 200 200 200 404 404 404 200"),
    Row("GET",  f"{MY_ORDER}/{{order_pc}}/approve/",       "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_ORDER}/{{order_pc}}/approve/",       "302 404 403 403 403 302 404 404 404 302"),
    Row("GET",  f"{MY_ORDER}/{{order_pc}}/reject/",        "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_ORDER}/{{order_pc}}/reject/",        "302 404 302 403 403 302 404 404 404 302", {"comment": "Not needed."},
        note="bob asked for the order, so he may withdraw it"),
    Row("GET",  f"{MY_ORDER}/{{order_basic}}/cancel/",     "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_ORDER}/{{order_basic}}/cancel/",     "302 404 403 302 302 302 404 404 404 302"),
    Row("GET",  f"{MY_ORDER}/{{order_pp}}/delete/",        "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_ORDER}/{{order_pp}}/delete/",        "302 404 403 302 302 302 404 404 404 302"),
    Row("GET",  "/my/resources/",                          "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/my/resources/?format=csv",               "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/my/usage-report/",                       "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  f"{MY_RES}/",                              "302 404 200 200 200 200 404 404 404 200",
        note="the allocation page: the consumer resources list's selector"),
    Row("GET",  f"{MY_RES}/usage/",                        "302 404 200 200 200 200 404 404 404 200"),
    Row("GET",  f"{MY_RES}/usage.csv",                     "302 404 200 200 200 200 404 404 404 200"),
    Row("GET",  f"{MY_RES}/limits/",                       "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_RES}/limits/",                       "302 404 403 302 302 302 404 404 404 302", {"limit_storage": "20", "confirm": "1"}),
    Row("GET",  f"{MY_RES}/extend/",                       "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_RES}/extend/",                       "302 404 403 302 302 302 404 404 404 302",
        {"extension_months": "2", "limit_storage": "10", "justification": "More time"}),
    Row("GET",  f"{MY_RES}/terminate/",                    "302 404 200 200 200 200 404 404 404 200"),
    Row("POST", f"{MY_RES}/terminate/",                    "302 404 403 302 302 302 404 404 404 302"),

    # Organisations, projects and teams.
    Row("GET",  "/organisations/",                         "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  f"{ORG}/",                                 "302 404 200 200 200 200 404 404 404 200"),
    Row("GET",  f"{ORG}/projects/new/",                    "302 404 403 403 403 200 404 404 404 200"),
    Row("POST", f"{ORG}/projects/new/",                    "302 404 403 403 403 302 404 404 404 302", {"name": "GUI project"}),
    Row("POST", f"{ORG}/team/add/",                        "302 404 403 403 403 302 404 404 404 302", {"username": "dave", "role": "CUSTOMER.OWNER"}),
    Row("GET",  f"{ORG}/team/{{grant_rita}}/remove/",      "302 404 403 403 403 200 404 404 404 200"),
    Row("POST", f"{ORG}/team/{{grant_rita}}/remove/",      "302 404 403 403 403 302 404 404 404 302"),
    Row("GET",  f"{ORG}/team/{{grant_rita}}/end/",         "302 404 403 403 403 200 404 404 404 200"),
    Row("POST", f"{ORG}/team/{{grant_rita}}/end/",         "302 404 403 403 403 302 404 404 404 302", {"expiration_time": "2099-01-01T00:00"}),
    Row("GET",  f"{PROJ}/",                                "302 404 200 200 200 200 404 404 404 200"),
    Row("GET",  f"{PROJ}/edit/",                           "302 404 403 403 403 200 404 404 404 200"),
    Row("POST", f"{PROJ}/edit/",                           "302 404 403 403 403 302 404 404 404 302", {"name": "A1 renamed"}),
    Row("GET",  f"{PROJ}/delete/",                         "302 404 403 403 403 200 404 404 404 200"),
    Row("POST", f"{PROJ}/delete/",                         "302 404 403 403 403 302 404 404 404 302"),
    Row("POST", f"{PROJ}/team/add/",                       "302 404 403 403 302 302 404 404 404 302", {"username": "dave", "role": "PROJECT.MEMBER"}),
    Row("GET",  f"{PROJ}/team/{{grant_bob}}/end/",         "302 404 403 403 200 200 404 404 404 200"),
    Row("POST", f"{PROJ}/team/{{grant_bob}}/end/",         "302 404 403 403 302 302 404 404 404 302", {"expiration_time": "2099-01-01T00:00"}),
    Row("GET",  f"{PROJ}/team/{{grant_bob}}/remove/",      "302 404 403 403 200 200 404 404 404 200"),
    Row("POST", f"{PROJ}/team/{{grant_bob}}/remove/",      "302 404 403 403 302 302 404 404 404 302"),
]
# fmt: on


class GuiPermissionMatrixTests(MatrixWorld):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        hook = hook_services.create_web_hook(
            user=cls.carol, destination_url="http://93.184.215.14/hook/", event_groups=["users"]
        )
        delivery = hook_services.send_test(hook=hook, user=cls.carol)
        token, _key = issue_token(user=cls.bob, name="laptop")
        cls.names = {
            **cls.names,
            "hook": hook.uuid.hex,
            "hook_delivery": delivery.uuid.hex,
            "token_mem": token.uuid.hex,
        }

    def setUp(self) -> None:
        self.clients = {persona: Client() for persona in MATRIX_PERSONAS}
        for persona in MATRIX_PERSONAS:
            self.sign_in(persona)
        self.names = {**self.names, "month": timezone.localdate().strftime("%Y-%m")}

    def sign_in(self, persona: str) -> None:
        """(Again) sign the persona's client in: a cell that logs in, out or rotates the session undoes it."""
        user = self.personas[persona]
        if user is not None:
            self.clients[persona].force_login(user)
        else:
            self.clients[persona].logout()

    def call(self, persona: str, row: Row) -> Any:
        client = self.clients[persona]
        path = fill(row.path, self.names)
        if row.method == "GET":
            return client.get(path)
        if row.method == "PUT":
            return client.put(path)
        return client.post(path, fill(row.body or {}, self.names))

    def test_it_answers_every_cell_as_the_table_says(self) -> None:
        cells, wrong = self.run_cells(GUI, self.call, after=self.sign_in)
        assert cells == len(GUI) * len(MATRIX_PERSONAS)
        assert not wrong, f"{len(wrong)} of {cells} cells differ:\n" + "\n".join(wrong)

    def test_it_sends_anonymous_visitors_to_the_login_page(self) -> None:
        for row in GUI:
            if row.expected()["anon"] != 302 or row.path in ("/login/", "/logout/"):
                continue
            response = self.call("anon", row)
            assert response["Location"].startswith("/login/?next="), (row.method, row.path)

    @staticmethod
    def route(row: Row) -> str:
        """The row's path with placeholders filled and without its query (`?format=csv`)."""
        return re.sub(r"\{\w+\}", "0" * 32, row.path).split("?")[0]

    def test_it_has_a_row_for_every_page(self) -> None:
        pages = {name for name, _method in routes() if name.startswith("web:")}
        covered = {resolve(self.route(row)).view_name for row in GUI}
        assert not pages - covered, f"pages without a row in the GUI matrix: {sorted(pages - covered)}"
        class_methods = {(name, method) for name, method in routes() if name.startswith("web:") and method}
        rows = {(resolve(self.route(row)).view_name, row.method) for row in GUI}
        assert not class_methods - rows, f"methods without a row: {sorted(class_methods - rows)}"
