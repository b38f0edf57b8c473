"""`GET /api/events/` as Waldur serves it: who sees which events, the filters, the page headers.

alice owns A (projects A1 and A2); bob is a member of A1 only; carol owns provider P, oscar manages its
offering O; dave holds no role; staff see everything. Orders: bob's in A1 and alice's in A2, both on O.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from efp.events.models import Event
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project

EVENTS = "/api/events/"


class EventsApiTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.project_a2 = make_project(cls.org_a, "Project A2")
        cls.bobs = make_order(cls.bob, cls.project_a1, cls.offering, name="bobs")
        cls.alices = make_order(cls.alice, cls.project_a2, cls.offering, name="alices")
        cls.alices = order_services.approve_order_by_provider(order=cls.alices, user=cls.carol)

    def get(self, user: Any, query: dict[str, Any] | str = "", path: str = EVENTS) -> Any:
        text = query if isinstance(query, str) else urlencode(query, doseq=True)
        return self.as_user(user).get(f"{path}?{text}" if text else path)

    def listed(self, user: Any, query: dict[str, Any] | str = "") -> list[dict[str, Any]]:
        response = self.get(user, query)
        assert response.status_code == 200, response.content
        return response.json()

    def uuids(self, events: Any) -> set[str]:
        return {event.uuid.hex for event in events}


class EventVisibilityTests(EventsApiTestCase):
    def test_it_shows_the_owner_every_event_of_their_organisation(self) -> None:
        seen = {row["uuid"] for row in self.listed(self.alice, {"page_size": 300})}
        assert self.uuids(Event.objects.filter(customer_id=self.org_a.pk)) <= seen
        assert (
            not self.uuids(Event.objects.filter(offering_id=self.basic.pk)) & seen
        )  # the provider's catalogue

    def test_it_shows_a_member_only_their_projects_events(self) -> None:
        seen = {row["uuid"] for row in self.listed(self.bob, {"page_size": 300})}
        assert self.uuids(Event.objects.filter(order_id=self.bobs.pk)) <= seen
        assert not self.uuids(Event.objects.filter(project_id=self.project_a2.pk)) & seen
        org_level = Event.objects.filter(customer_id=self.org_a.pk, project_id=None).exclude(
            user_id=self.bob.pk
        )
        assert org_level.exists() and not self.uuids(org_level) & seen

    def test_it_shows_the_provider_and_the_offering_manager_their_offerings_orders(self) -> None:
        for user in (self.carol, self.oscar):
            seen = {row["uuid"] for row in self.listed(user, {"page_size": 300})}
            assert self.uuids(Event.objects.filter(offering_id=self.offering.pk)) <= seen, user.username

    def test_it_shows_a_stranger_nothing_and_staff_everything(self) -> None:
        assert self.listed(self.dave) == []
        response = self.get(self.staff, {"page_size": 1})
        assert response["X-Result-Count"] == str(Event.objects.count())

    def test_it_refuses_anonymous_callers(self) -> None:
        assert self.as_user(None).get(EVENTS).status_code == 401

    def test_it_retrieves_a_visible_event_and_hides_the_others(self) -> None:
        event = Event.objects.filter(order_id=self.bobs.pk).earliest("pk")
        response = self.get(self.bob, path=f"{EVENTS}{event.uuid.hex}/")
        assert response.status_code == 200
        assert response.json() == {
            "uuid": event.uuid.hex,
            "created": event.created.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "event_type": "marketplace_order_created",
            "message": "Marketplace order has been created.",
            "context": event.context,
        }
        assert self.get(self.dave, path=f"{EVENTS}{event.uuid.hex}/").status_code == 404
        other = Event.objects.filter(order_id=self.alices.pk).earliest("pk")
        assert self.get(self.bob, path=f"{EVENTS}{other.uuid}/").status_code == 404


class EventFilterTests(EventsApiTestCase):
    def test_it_filters_by_repeated_event_types(self) -> None:
        rows = self.listed(
            self.alice,
            {"event_type": ["marketplace_order_created", "marketplace_order_approved"], "page_size": 100},
        )
        assert sorted(row["event_type"] for row in rows) == [
            "marketplace_order_approved",
            "marketplace_order_created",
            "marketplace_order_created",
        ]

    def test_it_filters_by_the_url_of_each_scope_we_serve(self) -> None:
        resource = self.bobs.resource
        assert resource is not None
        base = "http://testserver/api"
        cases = [
            (f"{base}/marketplace-orders/{self.bobs.uuid.hex}/", self.alice, {"order_id": self.bobs.pk}),
            (f"{base}/marketplace-resources/{resource.uuid.hex}/", self.bob, {"resource_id": resource.pk}),
            (
                f"{base}/marketplace-provider-resources/{resource.uuid}/",
                self.carol,
                {"resource_id": resource.pk},
            ),
            (f"{base}/projects/{self.project_a2.uuid.hex}/", self.alice, {"project_id": self.project_a2.pk}),
            (f"{base}/customers/{self.org_a.uuid.hex}/", self.alice, {"customer_id": self.org_a.pk}),
            (
                f"{base}/marketplace-provider-offerings/{self.offering.uuid.hex}/",
                self.oscar,
                {"offering_id": self.offering.pk},
            ),
            (
                f"/api/marketplace-public-offerings/{self.offering.uuid.hex}/",
                self.carol,
                {"offering_id": self.offering.pk},
            ),
        ]
        for scope, user, where in cases:
            rows = self.listed(user, {"scope": scope, "page_size": 300})
            expected = {event.uuid.hex for event in Event.objects.filter(**where)}
            assert expected and {row["uuid"] for row in rows} == expected, scope

    def test_a_scope_the_user_cannot_see_gives_an_empty_list(self) -> None:
        scope = f"http://testserver/api/marketplace-orders/{self.alices.uuid.hex}/"
        assert self.listed(self.bob, {"scope": scope}) == []
        scope = f"http://testserver/api/projects/{self.project_a1.uuid.hex}/"
        assert self.listed(self.dave, {"scope": scope}) == []
        unknown = "http://testserver/api/marketplace-orders/00000000000000000000000000000000/"
        assert self.listed(self.staff, {"scope": unknown}) == []

    def test_a_malformed_scope_is_a_400(self) -> None:
        for scope in (
            "http://testserver/api/marketplace-orders/not-a-uuid/",
            "http://testserver/api/users/" + self.alice.uuid.hex + "/",
            "nonsense",
        ):
            response = self.get(self.alice, {"scope": scope})
            assert response.status_code == 400, scope
            assert "scope" in response.json(), scope

    def test_it_filters_by_time_in_unix_seconds_or_iso(self) -> None:
        later = timezone.now() + datetime.timedelta(hours=1)
        for value in (str(int(later.timestamp())), later.isoformat()):
            assert self.listed(self.staff, {"created_from": value}) == []
            assert self.get(self.staff, {"created_to": value, "page_size": 1})["X-Result-Count"] == str(
                Event.objects.count()
            )
        assert self.get(self.staff, {"created_from": "yesterday"}).status_code == 400

    def test_it_filters_by_message_customer_project_and_orders_by_created(self) -> None:
        rows = self.listed(self.staff, {"message": "CREATION HAS BEEN", "page_size": 100})
        assert rows and all("creation has been" in row["message"] for row in rows)
        rows = self.listed(self.staff, {"project_uuid": self.project_a2.uuid.hex, "page_size": 100})
        assert {row["uuid"] for row in rows} == self.uuids(
            Event.objects.filter(project_id=self.project_a2.pk)
        )
        rows = self.listed(self.staff, {"customer_uuid": self.provider_p.uuid.hex, "page_size": 100})
        assert {row["uuid"] for row in rows} == self.uuids(
            Event.objects.filter(customer_id=self.provider_p.pk)
        )
        newest = self.listed(self.staff, {"page_size": 300})
        oldest = self.listed(self.staff, {"o": "created", "page_size": 300})
        assert [row["uuid"] for row in newest] == [row["uuid"] for row in reversed(oldest)]
        assert newest[0]["created"] >= newest[-1]["created"]

    def test_it_filters_by_event_group(self) -> None:
        rows = self.listed(self.staff, {"feature": "users", "page_size": 100})
        assert rows and {row["event_type"] for row in rows} <= {
            "role_granted",
            "role_revoked",
            "role_updated",
        }

    def test_it_pages_like_every_list_and_counts_with_head(self) -> None:
        response = self.get(self.staff, {"page_size": 2})
        assert len(response.json()) == 2
        assert 'rel="next"' in response["Link"]
        head = self.as_user(self.alice).head(EVENTS)
        assert head.status_code == 200
        assert head["X-Result-Count"] == str(len(self.listed(self.alice, {"page_size": 300})))

    def test_it_lists_the_event_groups(self) -> None:
        response = self.get(self.alice, path=f"{EVENTS}event_groups/")
        assert response.status_code == 200
        assert "marketplace_order_created" in response.json()["resources"]
        assert "role_granted" in response.json()["users"]


class FilteredEventListQueryCountTests(EventsApiTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        for index in range(20):
            make_order(cls.alice, cls.project_a1, cls.offering, name=f"bulk-{index}")  # 3 events each

    def count(self, user: Any, query: str) -> tuple[int, int]:
        client = self.as_user(user)
        client.get(EVENTS + "?page_size=1")  # warm up caches (token) outside the count
        with CaptureQueriesContext(connection) as captured:
            response = client.get(EVENTS + query)
        assert response.status_code == 200
        return len(captured), len(response.json())

    def test_a_filtered_list_runs_as_many_queries_for_300_events_as_for_10(self) -> None:
        query = f"&scope=/api/marketplace-provider-offerings/{self.offering.uuid.hex}/&o=created"
        query += "&event_type=marketplace_order_created&event_type=marketplace_order_updated&message=order"
        small, small_rows = self.count(self.carol, "?page_size=10" + query)
        large, large_rows = self.count(self.carol, "?page_size=300" + query)
        assert small_rows == 10 < large_rows
        assert large <= small
