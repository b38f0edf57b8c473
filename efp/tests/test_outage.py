"""Faults answered, not crashed on (issue 20, point 6). While the database cannot be reached, every
request is answered 503 with `Retry-After` (JSON under /api/, a page in the GUI), never 500, and logged in
one line; once it answers again the service serves as before, with no restart. Expected refusals (401,
403, 404, 409) log one line, never a traceback."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import httpx
from django.db import connection
from django.test import TransactionTestCase

from efp.marketplace.models import ComponentUsage
from efp.marketplace.tests import served
from efp.marketplace.tests.factories import make_project
from efp.marketplace.tests.live_world import build_world
from efp.marketplace.tests.served import Server, needs_postgresql
from efp.tests.db_proxy import DatabaseProxy

POLL = "/api/marketplace-orders/?state=pending-provider&state=executing"
SET_USAGE = "/api/marketplace-component-usages/set_usage/"


@contextmanager
def unreachable_database() -> Iterator[None]:
    """Connecting fails with the driver's own error, as during a restart: on PostgreSQL this process's
    connection is pointed at a port where nothing listens ("connection refused"); the test's SQLite
    database lives in memory and cannot be closed, so its connection is set aside and opening a new one
    fails as a file that cannot be opened does."""
    if connection.vendor == "sqlite":
        held = connection.connection
        connection.connection = None

        def refuse(conn_params: dict[str, object]) -> None:
            raise sqlite3.OperationalError("unable to open database file")

        try:
            with mock.patch.object(connection, "get_new_connection", refuse):
                yield
        finally:
            connection.connection = held
        return
    settings = connection.settings_dict
    port = settings["PORT"]
    connection.close()
    settings["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        settings["PORT"] = port


class WhileTheDatabaseIsGone(TransactionTestCase):
    """Carol, the provider's site agent, polls and reports; Alice browses. The database goes away and
    comes back."""

    def setUp(self) -> None:
        self.world = build_world()
        self.token = self.world.token(self.world.carol)
        self.client.force_login(self.world.alice)
        self.client.raise_request_exception = False  # answered as in production, by the error handlers

    def agent_get(self, path: str) -> Any:  # the test client's response
        return self.client.get(path, HTTP_AUTHORIZATION=f"Token {self.token}")

    def test_the_agent_and_the_person_are_told_to_come_back_and_the_service_recovers_by_itself(self) -> None:
        body = {"resource": self.world.resource.uuid.hex, "usages": [{"type": "cpu", "amount": "7"}]}
        with self.assertLogs("django.request", level="WARNING") as logs, unreachable_database():
            poll = self.agent_get(POLL)
            report = self.client.post(
                SET_USAGE, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {self.token}"
            )
            page = self.client.get("/provider/resources/")

        for response in (poll, report):
            assert response.status_code == 503, response.content
            assert response["Content-Type"] == "application/json"
            assert response["Retry-After"] == "5"
            assert "cannot reach its database" in response.json()["detail"]
        assert page.status_code == 503
        assert page["Retry-After"] == "5"
        assert b"briefly unavailable" in page.content
        assert len(logs.records) == 3
        for record in logs.records:
            assert record.exc_info is None, record.getMessage()
            assert "Service Unavailable" in record.getMessage()
            assert "\n" not in record.getMessage()

        # Back: the same requests succeed, and the report refused during the outage was not written.
        assert not ComponentUsage.objects.filter(resource=self.world.resource).exists()
        assert self.agent_get(POLL).status_code == 200
        again = self.client.post(
            SET_USAGE, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {self.token}"
        )
        assert again.status_code == 201, again.content
        assert ComponentUsage.objects.get(resource=self.world.resource).usage == Decimal(7)

    def test_a_bug_that_sqlite_reports_as_operational_error_stays_a_500(self) -> None:
        from efp import outage

        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT * FROM no_such_table_here")
            except Exception as exc:
                error = exc
        assert outage.is_outage(error) is False


class RefusalsLogOneLine(TransactionTestCase):
    """Oscar, who manages another offering and administers a project of Alice's, is refused things:
    each refusal is one line in the log."""

    def setUp(self) -> None:
        self.world = build_world()
        self.project = make_project(
            self.world.resource.project.customer, "Project A2", admins=[self.world.oscar]
        )

    def test_a_refusal_is_one_line_and_carries_no_traceback(self) -> None:
        self.client.force_login(self.world.oscar)
        with self.assertLogs("django.request", level="WARNING") as logs:
            # The GUI's PermissionDenied: Django logs it with its traceback unless told otherwise.
            self.client.post(f"/projects/{self.project.uuid.hex}/delete/")
            self.client.get(f"/api/marketplace-provider-resources/{uuid.uuid4().hex}/")  # 404
            self.client.logout()
            self.client.get("/api/marketplace-orders/", HTTP_AUTHORIZATION="Token not-a-token")  # 401
        statuses = [getattr(record, "status_code", None) for record in logs.records]
        assert sorted(statuses) == [401, 403, 404], statuses
        for record, line in zip(logs.records, logs.output, strict=True):
            assert record.exc_info is None, line
            assert "Traceback" not in line and "\n" not in line, line
        assert "Only organisation owners may remove projects." in logs.output[0]


def _hammer(url: str, token: str, stop: threading.Event, answers: Counter[int | str]) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=15) as client:
        while not stop.is_set():
            try:
                answers[client.get(POLL).status_code] += 1
            except httpx.TransportError as exc:
                answers[type(exc).__name__] += 1
            time.sleep(0.01)


@needs_postgresql
class PostgreSQLRestartsUnderLoad(TransactionTestCase):
    """`efp serve` (two gunicorn workers) reaches PostgreSQL through a link the test cuts for two seconds,
    as a restart does, while four agents poll."""

    def setUp(self) -> None:
        self.world = build_world()
        self.token = self.world.token(self.world.carol)
        settings = connection.settings_dict
        self.proxy = DatabaseProxy(settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432))
        url = served.test_database_url().replace(f":{settings.get('PORT') or 5432}/", f":{self.proxy.port}/")
        self.server = Server(workers=2, database_url=url)

    def tearDown(self) -> None:
        self.server.kill()
        self.proxy.close()

    def test_it_answers_503_while_the_database_is_down_never_500_and_recovers_by_itself(self) -> None:
        self.server.start()
        before: Counter[int | str] = Counter()
        during: Counter[int | str] = Counter()
        after: Counter[int | str] = Counter()
        for phase, seconds, cut in ((before, 2, False), (during, 2, True), (after, 3, False)):
            if cut:
                self.proxy.cut()
            stop = threading.Event()
            threads = [
                threading.Thread(target=_hammer, args=(self.server.url, self.token, stop, phase))
                for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            if cut:
                self.proxy.mend()
                time.sleep(0.5)  # the database accepts connections again

        assert set(before) == {200}, before
        assert 500 not in during and set(during) <= {200, 503}, during
        assert during[503] > 0, during
        assert 500 not in after and after[200] > 0, after
        # Recovered by itself: after the first second back, every answer is 200.
        settled: Counter[int | str] = Counter()
        stop = threading.Event()
        thread = threading.Thread(target=_hammer, args=(self.server.url, self.token, stop, settled))
        thread.start()
        time.sleep(1)
        stop.set()
        thread.join(timeout=30)
        assert set(settled) == {200}, settled
        assert "Traceback" not in self.server.output(), self.server.output()
