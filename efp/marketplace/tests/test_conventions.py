"""The cross-cutting conventions of docs/contract.md §1 on the orders list, and the §5.5 filters."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.accounts.services import issue_token
from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_order, make_project, plan_of

ORDERS = "/api/marketplace-orders/"
LIST = "http://testserver/api/marketplace-orders/"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


def links(response: Any) -> dict[str, str]:
    found = {}
    for part in response["Link"].split(", "):
        url, rel = re.fullmatch(r'<([^>]*)>; rel="(\w+)"', part).groups()  # type: ignore[union-attr]
        found[rel] = url
    return found


def bulk_orders(test: MarketplaceTestCase, count: int) -> list[Order]:
    """`count` Create orders, each with its own resource, spread over both offerings, creators and states.

    Rows are inserted in bulk (the services would take minutes for hundreds); their states are data here.
    """
    users = [test.alice, test.erin, test.bob, test.staff]
    offerings = [test.offering, test.basic]
    states = ["pending-consumer", "pending-provider", "executing", "done", "erred"]
    resources = Resource.objects.bulk_create(
        Resource(
            name=f"bulk-{index}",
            project=test.project_a1,
            offering=offerings[index % 2],
            plan=plan_of(offerings[index % 2]),
            limits={"storage": index},
        )
        for index in range(count)
    )
    return Order.objects.bulk_create(
        Order(
            offering=resource.offering,
            project=test.project_a1,
            resource=resource,
            plan=resource.plan,
            attributes={"name": resource.name},
            limits=resource.limits,
            created_by=users[index % len(users)],
            consumer_reviewed_by=users[(index + 1) % len(users)],
            provider_reviewed_by=test.carol if index % 3 else None,
            state=states[index % len(states)],
        )
        for index, resource in enumerate(resources)
    )


class PaginationTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.orders = bulk_orders(cls, 25)  # type: ignore[arg-type]

    def test_it_answers_a_bare_array_with_count_and_links(self) -> None:
        response = self.as_user(self.alice).get(ORDERS)
        assert response.status_code == 200
        assert isinstance(response.json(), list)
        assert len(response.json()) == 10
        assert response["X-Result-Count"] == "25"
        assert response["Link"] == (
            f'<{LIST}>; rel="first", <{LIST}?page=2>; rel="next", <{LIST}?page=3>; rel="last"'
        )

    def test_it_links_prev_and_next_from_a_middle_page(self) -> None:
        response = self.as_user(self.alice).get(ORDERS + "?page=2&page_size=3&state=done&state=executing")
        assert response["X-Result-Count"] == "10"
        assert [item["state"] for item in response.json()] == ["done", "executing", "done"]
        found = links(response)
        assert list(found) == ["first", "prev", "next", "last"]
        query = "page_size=3&state=done&state=executing"
        assert found["first"] == f"{LIST}?{query}"
        assert found["prev"] == f"{LIST}?page=1&{query}"
        assert found["next"] == f"{LIST}?page=3&{query}"
        assert found["last"] == f"{LIST}?page=4&{query}"

    def test_it_has_no_next_on_the_last_page(self) -> None:
        response = self.as_user(self.alice).get(ORDERS + "?page=3")
        assert len(response.json()) == 5
        assert list(links(response)) == ["first", "prev", "last"]
        assert links(response)["last"] == f"{LIST}?page=3"

    def test_it_drops_page_from_last_when_there_is_one_page(self) -> None:
        response = self.as_user(self.alice).get(ORDERS + "?page_size=100")
        assert len(response.json()) == 25
        assert response["Link"] == f'<{LIST}?page_size=100>; rel="first", <{LIST}?page_size=100>; rel="last"'

    def test_it_serves_up_to_300_per_page(self) -> None:
        more = bulk_orders(self, 290)
        assert len(more) == 290
        response = self.as_user(self.alice).get(ORDERS + "?page_size=300")
        assert len(response.json()) == 300
        assert response["X-Result-Count"] == "315"
        assert len(self.as_user(self.alice).get(ORDERS + "?page_size=5000").json()) == 300

    def test_it_answers_404_for_a_page_out_of_range(self) -> None:
        for page in ("4", "0", "-1", "abc"):
            response = self.as_user(self.alice).get(f"{ORDERS}?page={page}")
            assert response.status_code == 404, page
            assert response.json() == {"detail": "Invalid page."}

    def test_it_answers_page_one_of_an_empty_list(self) -> None:
        response = self.as_user(self.dave).get(ORDERS + "?page=1")
        assert (response.status_code, response.json(), response["X-Result-Count"]) == (200, [], "0")

    def test_it_counts_with_head_including_filters(self) -> None:
        response = self.as_user(self.alice).head(ORDERS + "?state=done&page_size=2")
        assert response.status_code == 200
        assert response["X-Result-Count"] == "5"
        assert response.content == b""


class OrderListQueryCountTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        bulk_orders(cls, 310)  # type: ignore[arg-type]
        make_order(cls.alice, cls.project_a1, cls.offering)

    def count_queries(self, user: Any, query: str) -> tuple[int, int]:
        client = self.as_user(user)
        client.get(ORDERS + "?page_size=1")  # warm up caches (content types, token) outside the count
        with CaptureQueriesContext(connection) as captured:
            response = client.get(ORDERS + query)
        assert response.status_code == 200
        return len(captured), len(response.json())

    def test_it_runs_as_many_queries_for_300_orders_as_for_10(self) -> None:
        for user in (self.alice, self.carol, self.staff):
            small, small_rows = self.count_queries(user, "?page_size=10")
            large, large_rows = self.count_queries(user, "?page_size=300")
            assert (small_rows, large_rows) == (10, 300), user.username
            assert large <= small, (user.username, small, large)  # a first page with room is not counted

    def test_it_keeps_filtered_lists_flat_too(self) -> None:
        query = f"&state=pending-provider&state=done&offering_uuid={self.offering.uuid}"
        query += "&can_approve_as_provider=false&o=-created"
        small, _ = self.count_queries(self.carol, "?page_size=10" + query)
        large, rows = self.count_queries(self.carol, "?page_size=300" + query)
        assert rows > 10
        assert large <= small  # a first page with room left needs no count query


class RepresentationTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering)

    def test_it_renders_hex_uuids_z_datetimes_and_decimal_strings(self) -> None:
        order_services.approve_order_by_provider(order=self.order, user=self.carol)
        body = self.as_user(self.alice).get(f"{ORDERS}{self.order.uuid}/").json()
        for key in ("uuid", "offering_uuid", "project_uuid", "customer_uuid", "provider_uuid", "plan_uuid"):
            assert re.fullmatch(r"[0-9a-f]{32}", body[key]), key
        for key in ("created", "modified", "consumer_reviewed_at", "provider_reviewed_at"):
            assert ISO_Z.match(body[key]), (key, body[key])
        assert body["cost"] == "80.0000000000"
        assert body["new_cost_estimate"] == "80.0000000000"
        assert body["url"].startswith("http://testserver/api/marketplace-orders/")

    def test_it_never_renders_null_for_objects(self) -> None:
        bare = order_services.create_order(
            user=self.alice, project=self.project_a1, offering=self.offering, plan=plan_of(self.offering)
        )
        for order in (self.order, bare):
            body = self.as_user(self.alice).get(f"{ORDERS}{order.uuid.hex}/").json()
            for key in ("attributes", "limits", "offering_plugin_options"):
                assert isinstance(body[key], dict), key
        assert body["limits"] == {}

    def test_it_serves_sparse_fields(self) -> None:
        response = self.as_user(self.alice).get(ORDERS + "?field=uuid&field=state&field=nonsense")
        assert response.json() == [{"uuid": self.order.uuid.hex, "state": "pending-provider"}]
        detail = self.as_user(self.alice).get(f"{ORDERS}{self.order.uuid.hex}/?field=uuid,backend_id").json()
        assert detail == {"uuid": self.order.uuid.hex, "backend_id": ""}

    def test_it_accepts_dashed_and_hex_uuids_in_paths(self) -> None:
        for key in (str(self.order.uuid), self.order.uuid.hex, str(self.order.uuid).upper()):
            response = self.as_user(self.carol).get(f"{ORDERS}{key}/")
            assert response.status_code == 200, key
            assert response.json()["uuid"] == self.order.uuid.hex
        response = self.as_user(self.carol).post(
            f"{ORDERS}{self.order.uuid}/set_backend_id/", {"backend_id": "j"}
        )
        assert response.status_code == 200
        assert Order.objects.get(pk=self.order.pk).backend_id == "j"

    def test_it_accepts_the_token_as_a_query_parameter(self) -> None:
        token = issue_token(user=self.alice, name="test")[1]
        response = self.client.get(f"{ORDERS}?x-auth-token={token}")
        assert response.status_code == 200
        assert [item["uuid"] for item in response.json()] == [self.order.uuid.hex]
        assert self.client.get(f"{ORDERS}?x-auth-token=nope").status_code == 401

    def test_it_requires_trailing_slashes(self) -> None:
        assert self.as_user(self.alice).get("/api/marketplace-orders").status_code == 404


class OrderFilterTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.org_b = make_customer("Organisation B", owner=cls.dave)
        cls.project_b1 = make_project(cls.org_b, "Project B1")
        cls.o1 = make_order(cls.alice, cls.project_a1, cls.offering, name="alpha")  # pending-provider
        cls.o2 = make_order(cls.erin, cls.project_a1, cls.offering, name="beta")  # pending-consumer
        cls.o3 = make_order(cls.alice, cls.project_a1, cls.basic, name="gamma")  # pending-provider
        cls.o4 = make_order(cls.dave, cls.project_b1, cls.basic, name="delta")  # pending-provider
        base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        for day, order in enumerate((cls.o1, cls.o2, cls.o3, cls.o4)):
            Order.objects.filter(pk=order.pk).update(
                created=base + datetime.timedelta(days=day), modified=base + datetime.timedelta(days=day)
            )
        order_services.approve_order_by_provider(order=cls.o3, user=cls.carol)  # Basic: done at once

    def names(self, query: str, user: Any = None) -> list[str]:
        response = self.as_user(user or self.staff).get(ORDERS + query)
        assert response.status_code == 200, (query, response.content)
        assert response["X-Result-Count"] == str(len(response.json()))
        return [item["resource_name"] for item in response.json()]

    def test_it_filters_by_state_and_type(self) -> None:
        assert self.names("?state=pending-provider") == ["alpha", "delta"]
        assert self.names("?state=pending-provider&state=done") == ["alpha", "gamma", "delta"]
        assert self.names("?state=done&type=Create") == ["gamma"]
        assert self.names("?type=Update&type=Terminate") == []

    def test_it_filters_by_offering(self) -> None:
        hex_, dashed = self.basic.uuid.hex, str(self.basic.uuid)
        assert self.names(f"?offering_uuid={hex_}") == ["gamma", "delta"]
        assert self.names(f"?offering_uuid={dashed}") == ["gamma", "delta"]
        assert self.names(f"?offering_uuid={dashed}&offering_uuid={self.offering.uuid}") == [
            "alpha", "beta", "gamma", "delta",
        ]  # fmt: skip
        assert self.names(f"?offering={self.offering_url(self.basic)}") == ["gamma", "delta"]
        assert self.names(f"?offering=/api/marketplace-provider-offerings/{dashed}/") == ["gamma", "delta"]
        assert self.names("?offering_type=Marketplace.Slurm") == ["alpha", "beta"]
        assert self.names("?offering_type=Marketplace.Slurm&offering_type=Marketplace.Basic") == [
            "alpha", "beta", "gamma", "delta",
        ]  # fmt: skip
        assert self.names(f"?offering_slug={self.basic.slug}") == ["gamma", "delta"]

    def test_it_filters_by_project_customer_provider_and_category(self) -> None:
        assert self.names(f"?project_uuid={self.project_b1.uuid}") == ["delta"]
        assert self.names(f"?customer_uuid={self.org_a.uuid.hex}") == ["alpha", "beta", "gamma"]
        assert self.names(f"?provider_uuid={self.provider_p.uuid}") == ["alpha", "beta", "gamma", "delta"]
        assert self.names(f"?provider_uuid={self.org_a.uuid}") == []
        assert self.names(f"?category_uuid={self.offering.category.uuid}") == [
            "alpha",
            "beta",
            "gamma",
            "delta",
        ]

    def test_it_filters_by_resource(self) -> None:
        resource = self.o2.resource
        assert self.names(f"?resource_uuid={resource.uuid}") == ["beta"]
        assert self.names(f"?resource=http://testserver/api/marketplace-resources/{resource.uuid.hex}/") == [
            "beta"
        ]
        assert self.names("?resource_name=ELT") == ["delta"]

    def test_it_filters_by_created_and_modified(self) -> None:
        assert self.names("?created=2026-01-02T00:00:00Z") == ["beta", "gamma", "delta"]
        assert self.names("?created=2026-01-02T00:00:00%2B00:00&created_before=2026-01-04T00:00:00Z") == [
            "beta",
            "gamma",
        ]
        assert self.names("?modified=2026-01-03T12:00:00Z") == ["gamma", "delta"]  # gamma was just approved
        assert self.names("?modified_before=2026-01-03T00:00:00Z") == ["alpha", "beta"]

    def test_it_filters_by_service_manager(self) -> None:
        assert self.names(f"?service_manager_uuid={self.oscar.uuid}") == ["alpha", "beta"]
        assert self.names(f"?service_manager_uuid={self.oscar.uuid.hex}") == ["alpha", "beta"]
        assert self.names(f"?service_manager_uuid={self.carol.uuid}") == []

    def test_it_filters_what_the_caller_can_approve_as_consumer(self) -> None:
        assert self.names("?can_approve_as_consumer=true", self.alice) == ["beta"]
        assert self.names("?can_approve_as_consumer=True", self.alice) == ["beta"]
        assert self.names("?can_approve_as_consumer=true", self.erin) == []
        assert self.names("?can_approve_as_consumer=true", self.carol) == []
        assert self.names("?can_approve_as_consumer=true", self.staff) == ["beta"]
        assert self.names("?can_approve_as_consumer=false", self.alice) == ["alpha", "gamma"]

    def test_it_filters_what_the_caller_can_approve_as_provider(self) -> None:
        assert self.names("?can_approve_as_provider=true", self.carol) == ["alpha", "delta"]
        assert self.names("?can_approve_as_provider=1", self.oscar) == ["alpha"]
        assert self.names("?can_approve_as_provider=true", self.alice) == []
        assert self.names("?can_approve_as_provider=true", self.dave) == []
        assert self.names("?can_approve_as_provider=true", self.staff) == ["alpha", "delta"]
        assert self.names("?can_approve_as_provider=false", self.carol) == ["beta", "gamma"]

    def test_it_searches_with_query(self) -> None:
        assert self.names(f"?query={self.o2.uuid.hex}") == ["beta"]
        assert self.names(f"?query={self.o2.uuid}") == ["beta"]
        assert self.names(f"?query={self.project_b1.uuid}") == ["delta"]
        assert self.names("?query=project b") == ["delta"]
        assert self.names("?query=GAMM") == ["gamma"]
        assert self.names("?query=nothing-like-this") == []

    def test_it_orders_with_o(self) -> None:
        assert self.names("") == ["alpha", "beta", "gamma", "delta"]
        assert self.names("?o=-created") == ["delta", "gamma", "beta", "alpha"]
        assert self.names("?o=state,-created") == ["gamma", "beta", "delta", "alpha"]
        reviewed = [name for name in self.names("?o=-consumer_reviewed_at") if name != "beta"]  # beta: null
        assert reviewed == ["delta", "gamma", "alpha"]
        assert self.names("?o=cost") == ["alpha", "beta", "gamma", "delta"]  # equal costs: by primary key
        assert self.names("?o=nonsense") == ["alpha", "beta", "gamma", "delta"]

    def test_it_ignores_unknown_parameters(self) -> None:
        assert self.names("?colour=blue") == ["alpha", "beta", "gamma", "delta"]

    def test_it_applies_visibility_before_filters(self) -> None:
        assert self.names(f"?customer_uuid={self.org_b.uuid}", self.alice) == []
        assert self.names("", self.dave) == ["delta"]


class CatalogueQueryCountTests(MarketplaceTestCase):
    """Offerings (with components and plans), plans, organisations and projects: flat query counts too."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from efp.marketplace.tests.factories import make_offering

        for index in range(12):
            make_offering(cls.provider_p, name=f"Offering {index:02}")
            make_project(cls.org_a, f"Project {index:02}")
            make_customer(f"Organisation {index:02}", owner=cls.alice)

    def test_it_runs_as_many_queries_for_a_long_page_as_for_a_short_one(self) -> None:
        client = self.as_user(self.staff)
        for path in (
            "/api/marketplace-public-offerings/",
            "/api/marketplace-provider-offerings/",
            "/api/marketplace-plans/",
            "/api/customers/",
            "/api/projects/",
            "/api/marketplace-service-providers/",
        ):
            counts = []
            for size in (3, 300):
                client.get(f"{path}?page_size=1")
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(f"{path}?page_size={size}")
                assert response.status_code == 200
                counts.append((len(captured), min(len(response.json()), size)))
            assert counts[1][0] <= counts[0][0], (path, counts)  # a first page with room is not counted
            assert counts[1][1] > 3 or path.endswith("service-providers/"), (path, counts)


class FirstPageCountTests(MarketplaceTestCase):
    """A first page that is not full holds every row: its count comes from its rows, with no count query."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        bulk_orders(cls, 25)  # type: ignore[arg-type]

    def get(self, query: str) -> tuple[int, Any, int]:
        client = self.as_user(self.staff)
        client.get(ORDERS + "?page_size=1")  # warm up caches (content types, token) outside the count
        with CaptureQueriesContext(connection) as captured:
            response = client.get(ORDERS + query)
        return response.status_code, response, len(captured)

    def test_a_first_page_with_room_left_is_not_counted(self) -> None:
        total = Order.objects.count()
        full_status, full, full_queries = self.get("?page_size=10")
        whole_status, whole, whole_queries = self.get(f"?page_size={total + 5}")
        assert (full_status, whole_status) == (200, 200)
        assert full["X-Result-Count"] == whole["X-Result-Count"] == str(total)
        assert (len(full.json()), len(whole.json())) == (10, total)
        assert whole_queries == full_queries - 1
        assert 'rel="next"' not in whole["Link"] and 'rel="next"' in full["Link"]

    def test_later_pages_are_counted_before_they_are_read(self) -> None:
        total = Order.objects.count()
        status, last, _ = self.get(f"?page_size=10&page={(total + 9) // 10}")
        assert (status, last["X-Result-Count"], len(last.json())) == (200, str(total), total % 10 or 10)
        for page in (99, 734857460067188867072):  # past the end, even past what OFFSET takes: 404
            status, response, _ = self.get(f"?page_size=10&page={page}")
            assert (status, response.json()) == (404, {"detail": "Invalid page."}), page
