"""`?format=csv` on the lists of the API (efp.rest.csv_export): every matching row with a header, the
same filters, order and visibility as the JSON pages, streamed, and the fast usage pages written from the
same fields as their generic path."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.marketplace.models import Order
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project, make_resource
from efp.rest import csv_export
from efp.rest.pagination import DEFAULT_PAGE_SIZE
from efp.urls import router

ORDERS = "/api/marketplace-orders/"


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def header(response: Any) -> list[str]:
    return next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


class CsvListTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.other_project = make_project(cls.org_a, "Project A2")
        cls.orders = [
            make_order(cls.alice, cls.project_a1 if n % 3 else cls.other_project, cls.offering, name=f"o{n}")
            for n in range(DEFAULT_PAGE_SIZE + 5)
        ]

    def test_it_lists_every_row_not_a_page_with_a_header(self) -> None:
        response = self.as_user(self.alice).get(f"{ORDERS}?format=csv")
        assert response["Content-Disposition"] == 'attachment; filename="marketplace-order.csv"'
        rows = read_csv(response)
        assert len(rows) == len(self.orders) > DEFAULT_PAGE_SIZE
        assert [row["uuid"] for row in rows] == [order.uuid.hex for order in self.orders]
        json_keys = list(self.as_user(self.alice).get(ORDERS).json()[0])
        assert list(rows[0]) == json_keys

    def test_it_writes_values_as_the_json_does(self) -> None:
        [first] = self.as_user(self.alice).get(f"{ORDERS}?page_size=1").json()
        row = read_csv(self.as_user(self.alice).get(f"{ORDERS}?format=csv"))[0]
        assert row["attributes"] == '{"name":"o0"}'  # nested objects as compact JSON text
        assert row["limits"] == '{"storage":10}'
        assert row["created"] == first["created"]  # datetimes as in JSON (ISO 8601, Z)
        assert row["offering_shared"] == "true"
        assert row["error_message"] == first["error_message"] == ""
        assert row["completed_at"] == "" and first["completed_at"] is None

    def test_it_applies_the_same_filters_and_order(self) -> None:
        query = f"project_uuid={self.other_project.uuid.hex}&o=-created"
        json_rows = self.as_user(self.alice).get(f"{ORDERS}?{query}&page_size=50").json()
        rows = read_csv(self.as_user(self.alice).get(f"{ORDERS}?{query}&format=csv"))
        assert [row["uuid"] for row in rows] == [row["uuid"] for row in json_rows]
        assert len(rows) == 5

    def test_it_keeps_the_named_fields_only(self) -> None:
        response = self.as_user(self.alice).get(f"{ORDERS}?format=csv&field=uuid&field=state")
        assert header(response) == ["uuid", "state"]

    def test_it_shows_each_user_only_their_rows(self) -> None:
        assert len(read_csv(self.as_user(self.bob).get(f"{ORDERS}?format=csv"))) == 10  # project A1 only
        assert read_csv(self.as_user(self.dave).get(f"{ORDERS}?format=csv")) == []
        response = self.as_user(self.dave).get(f"{ORDERS}?format=csv")
        assert header(response)[:2] == ["offering", "offering_name"]  # a header even without a row
        assert self.as_user(None).get(f"{ORDERS}?format=csv").status_code == 401

    def test_it_runs_no_more_queries_for_every_row_than_for_a_page_of_one(self) -> None:
        client = self.as_user(self.carol)
        client.get(f"{ORDERS}?page_size=1")
        with CaptureQueriesContext(connection) as page:
            client.get(f"{ORDERS}?page_size=1")
        with CaptureQueriesContext(connection) as download:
            rows = read_csv(client.get(f"{ORDERS}?format=csv"))
        assert len(rows) == len(self.orders)
        assert len(download) <= len(page), (len(download), len(page))

    def test_it_fetches_in_chunks(self) -> None:
        with mock.patch.object(csv_export, "CHUNK", 4):
            rows = read_csv(self.as_user(self.alice).get(f"{ORDERS}?format=csv"))
        assert [row["uuid"] for row in rows] == [order.uuid.hex for order in self.orders]

    def test_it_answers_unknown_formats_and_errors_in_json(self) -> None:
        client = self.as_user(self.alice)
        response = client.get(f"{ORDERS}?format=xml")
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
        response = client.get(f"{ORDERS}?format=csv&state=junk")
        assert response.status_code == 400 and response["Content-Type"] == "application/json"
        assert "state" in response.json()
        detail = client.get(f"{ORDERS}{self.orders[0].uuid.hex}/?format=csv")
        assert detail.status_code == 200 and detail.json()["uuid"] == self.orders[0].uuid.hex
        assert (
            self.as_user(self.dave).get(f"{ORDERS}{self.orders[0].uuid.hex}/?format=csv").status_code == 404
        )

    def test_it_counts_for_head(self) -> None:
        response = self.as_user(self.alice).head(f"{ORDERS}?format=csv")
        assert response["X-Result-Count"] == str(len(self.orders))

    def test_it_answers_csv_on_every_list_of_the_api(self) -> None:
        lists = [prefix for prefix, viewset, _ in router.registry if hasattr(viewset, "list")]
        assert len(lists) > 15
        for prefix in lists:
            response = self.as_user(self.staff).get(f"/api/{prefix}/?format=csv")
            assert response.status_code == 200, (prefix, response.content)
            assert response["Content-Type"] == "text/csv; charset=utf-8", prefix
            assert len(header(response)) > 1, prefix

    def test_it_answers_csv_on_list_actions(self) -> None:
        plans = self.as_user(self.dave).get(
            f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/plans/?format=csv"
        )
        assert [row["uuid"] for row in read_csv(plans)] == [
            plan.uuid.hex for plan in self.offering.plans.all()
        ]
        team = self.as_user(self.alice).get(
            f"/api/projects/{self.project_a1.uuid.hex}/list_users/?format=csv"
        )
        assert {row["user_username"] for row in read_csv(team)} == {"bob", "erin"}
        refused = self.as_user(self.dave).get(
            f"/api/projects/{self.project_a1.uuid.hex}/list_users/?format=csv"
        )
        assert refused.status_code == 404 and refused["Content-Type"] == "application/json"


class CsvUsageTests(MarketplaceTestCase):
    """The two usage lists a site agent reads have a fast path (api/usage/pages.py): the CSV it streams
    is the generic path's, byte for byte."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resources = [
            make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name=f"r{n}") for n in range(3)
        ]
        for resource in cls.resources:
            [cpu, _] = usage_services.set_usage(
                user=cls.carol,
                resource=resource,
                usages=[UsageItem("cpu", Decimal("-1.5") + 10), UsageItem("storage", Decimal(1))],
            )
            user_usage_services.set_user_usages(
                user=cls.carol,
                component_usage=cpu,
                items=[UserUsageItem(username=f"=u{n}", usage=Decimal(n)) for n in range(5)],
            )

    def both_ways(self, user: Any, base: str, query: str) -> tuple[bytes, bytes]:
        client = self.as_user(user)
        fast = client.get(f"{base}?{query}&format=csv")
        generic = client.get(f"{base}?{query}&format=csv&o=usage")  # `o` is not a fast-path key
        assert fast.status_code == generic.status_code == 200
        return b"".join(fast.streaming_content), b"".join(generic.streaming_content)

    def test_it_writes_the_fast_path_as_the_generic_path(self) -> None:
        resource = self.resources[0].uuid.hex
        for base, query in (
            ("/api/marketplace-component-usages/", f"resource_uuid={resource}"),
            ("/api/marketplace-component-usages/", "type=cpu"),
            ("/api/marketplace-component-user-usages/", f"resource_uuid={resource}"),
            ("/api/marketplace-component-user-usages/", "type=cpu&field=username&field=usage"),
        ):
            for user in (self.carol, self.alice, self.dave):
                fast, generic = self.both_ways(user, base, query)
                fast_rows = sorted(csv.reader(io.StringIO(fast.decode())))
                assert fast_rows == sorted(csv.reader(io.StringIO(generic.decode()))), (base, query, user)

    def test_it_lists_every_user_usage_row(self) -> None:
        response = self.as_user(self.alice).get("/api/marketplace-component-user-usages/?format=csv")
        rows = read_csv(response)
        assert len(rows) == 15 > DEFAULT_PAGE_SIZE
        assert {row["usage"] for row in rows} == {"0.00", "1.00", "2.00", "3.00", "4.00"}
        assert rows[0]["username"].startswith("'=u")  # a spreadsheet would run "=u0" as a formula

    def test_it_runs_one_query_for_a_fast_download(self) -> None:
        client = self.as_user(self.carol)
        url = f"/api/marketplace-component-user-usages/?resource_uuid={self.resources[0].uuid.hex}&format=csv"
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            rows = read_csv(client.get(url))
        assert len(rows) == 5
        [query] = [q["sql"] for q in queries if "marketplace_componentuserusage" in q["sql"]]
        assert "uu.username ASC" in query and "LIMIT" not in query  # the fast path's one statement


class CsvCellTests(MarketplaceTestCase):
    def test_it_writes_cells(self) -> None:
        cell = csv_export.cell
        assert [cell(None), cell(True), cell(3), cell(Decimal("-2.50")), cell("-2.50")] == [
            "",
            "true",
            "3",
            "-2.50",
            "-2.50",
        ]
        assert [cell("=SUM(A1)"), cell("@x"), cell("+1"), cell("a=b")] == ["'=SUM(A1)", "'@x", "+1", "a=b"]
        assert cell({"b": [1, "é"]}) == '{"b":[1,"é"]}'
        assert Order.objects.count() == 0
