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

from efp.marketplace.tests.matrix_world import MATRIX_PERSONAS, MatrixWorld, Row, fill, routes

PRES = "/provider/resources/{resource}"
ORDER = "/provider/orders/{order_pp}"
REPORT_BODY = {"month": "{month}", "amount_cpu": "3"}
BULK_BODY = {"action": "approve", "order": ["{order_pp}"], "confirm": "1"}

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
    Row("GET",  "/profile/",                   "302 200 200 200 200 200 200 200 200 200"),
    Row("GET",  "/profile/token/",             "302 200 200 200 200 200 200 200 200 200"),
    Row("POST", "/profile/token/",             "302 302 302 302 302 302 302 302 302 302"),
    Row("GET",  "/provider/",                  "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  "/provider/resources/",        "302 403 403 403 403 403 200 200 200 200"),
    Row("GET",  f"{PRES}/usage/",              "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{PRES}/usage.csv",           "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{PRES}/report/",             "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/report/",             "302 403 403 403 403 403 302 302 404 302", REPORT_BODY),
    Row("GET",  f"{PRES}/backend-id/",         "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/backend-id/",         "302 403 403 403 403 403 302 302 404 302", {"backend_id": "acc-9"}),
    Row("GET",  f"{PRES}/end-date/",           "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{PRES}/end-date/",           "302 403 403 403 403 403 302 302 404 302", {"end_date": "2099-01-01"}),
    Row("GET",  "/provider/orders/",           "302 403 403 403 403 403 200 200 200 200"),
    Row("POST", "/provider/orders/bulk/",      "302 403 403 403 403 403 200 200 302 200", BULK_BODY,
        note="another provider's order is skipped: nothing selected is left, so quinn is sent back"),
    Row("GET",  f"{ORDER}/",                   "302 403 403 403 403 403 200 200 404 200"),
    Row("GET",  f"{ORDER}/approve/",           "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{ORDER}/approve/",           "302 403 403 403 403 403 302 302 404 302"),
    Row("GET",  f"{ORDER}/reject/",            "302 403 403 403 403 403 200 200 404 200"),
    Row("POST", f"{ORDER}/reject/",            "302 403 403 403 403 403 302 302 404 302", {"comment": "No capacity."}),
]
# fmt: on


class GuiPermissionMatrixTests(MatrixWorld):
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

    def test_it_has_a_row_for_every_page(self) -> None:
        pages = {name for name, _method in routes() if name.startswith("web:")}
        covered = {resolve(re.sub(r"\{\w+\}", "0" * 32, row.path)).view_name for row in GUI}
        assert not pages - covered, f"pages without a row in the GUI matrix: {sorted(pages - covered)}"
        class_methods = {(name, method) for name, method in routes() if name.startswith("web:") and method}
        rows = {(resolve(re.sub(r"\{\w+\}", "0" * 32, row.path)).view_name, row.method) for row in GUI}
        assert not class_methods - rows, f"methods without a row: {sorted(class_methods - rows)}"
