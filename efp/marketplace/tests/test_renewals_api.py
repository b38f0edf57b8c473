"""Renewals and end dates on the wire: `renew`, the consumer's `PATCH end_date` and `set_end_date_by_staff`
(docs/compatibility.md "Renewals and end dates")."""

from __future__ import annotations

import datetime
from typing import Any

import time_machine

from efp.events.models import Event
from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.renewal_dates import new_end_date, plus_months
from efp.marketplace.states import OrderState, OrderType
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

BASE = "/api/marketplace-resources/"
TODAY = datetime.date(2026, 3, 10)


@time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=False)
class RenewTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=False):
            cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alpha")
        Resource.objects.filter(pk=cls.resource.pk).update(end_date=datetime.date(2026, 4, 30))

    def post(self, user: Any, action: str, data: Any = None) -> Any:
        return self.as_user(user).post(f"{BASE}{self.resource.uuid.hex}/{action}/", data or {}, format="json")

    def test_it_places_a_renew_update_order_with_the_dates(self) -> None:
        response = self.post(
            self.erin, "renew", {"extension_months": 3, "justification": "Thesis runs late."}
        )
        assert response.status_code == 200, response.content
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert order.type == OrderType.UPDATE
        assert order.state == OrderState.PENDING_CONSUMER  # an admin's order waits for the owner
        assert order.attributes["action"] == "renew"
        assert order.attributes["old_end_date"] == "2026-04-30"
        assert order.attributes["new_end_date"] == "2026-07-30"
        assert order.attributes["justification"] == "Thesis runs late."
        assert "old_limits" not in order.attributes
        self.resource.refresh_from_db()
        assert self.resource.end_date == datetime.date(2026, 4, 30)  # nothing changes before approval

    def test_it_moves_the_end_date_and_limits_once_the_provider_completes(self) -> None:
        response = self.post(self.alice, "renew", {"extension_months": 2, "limits": {"storage": 40}})
        order = Order.objects.get(uuid=response.json()["order_uuid"])
        assert order.state == OrderState.PENDING_PROVIDER  # the owner's: the provider reviews (Slurm)
        assert order.attributes["old_limits"] == {"storage": 10}
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.complete_order(order=order, user=self.carol)
        self.resource.refresh_from_db()
        assert self.resource.end_date == datetime.date(2026, 6, 30)
        assert self.resource.limits == {"storage": 40}
        assert self.resource.state == "OK"
        assert Event.objects.filter(event_type="marketplace_resource_update_end_date_succeeded").exists()

    def test_it_leaves_the_end_date_when_the_provider_rejects(self) -> None:
        order = Order.objects.get(
            uuid=self.post(self.alice, "renew", {"extension_months": 2}).json()["order_uuid"]
        )
        order_services.reject_order_by_provider(order=order, user=self.carol, comment="No capacity")
        self.resource.refresh_from_db()
        assert (self.resource.end_date, self.resource.state) == (datetime.date(2026, 4, 30), "OK")

    def test_it_refuses_bad_months_and_lower_limits_changing_nothing(self) -> None:
        for body in ({}, {"extension_months": 0}, {"extension_months": 61}, {"extension_months": "x"}):
            response = self.post(self.alice, "renew", body)
            assert response.status_code == 400, body
            assert "extension_months" in response.json(), body
        response = self.post(self.alice, "renew", {"extension_months": 1, "limits": {"storage": 5}})
        assert response.status_code == 400
        assert "limits" in response.json()
        assert not Order.objects.filter(type=OrderType.UPDATE).exists()

    def test_it_refuses_who_may_not_and_a_second_open_order(self) -> None:
        assert self.post(self.bob, "renew", {"extension_months": 1}).status_code == 403  # a member
        assert self.post(self.carol, "renew", {"extension_months": 1}).status_code == 404  # the provider
        assert self.post(self.dave, "renew", {"extension_months": 1}).status_code == 404
        assert self.post(None, "renew", {"extension_months": 1}).status_code == 401
        assert self.post(self.alice, "renew", {"extension_months": 1}).status_code == 200
        second = self.post(self.alice, "renew", {"extension_months": 1})
        assert second.status_code == 400
        assert Order.objects.filter(type=OrderType.UPDATE).count() == 1

    def test_a_retried_renew_with_the_same_idempotency_key_places_one_order(self) -> None:
        url = f"{BASE}{self.resource.uuid.hex}/renew/"
        client = self.as_user(self.alice)
        first = client.post(url, {"extension_months": 2}, format="json", HTTP_IDEMPOTENCY_KEY="renew-1")
        again = client.post(url, {"extension_months": 2}, format="json", HTTP_IDEMPOTENCY_KEY="renew-1")
        assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
        assert Order.objects.filter(type=OrderType.UPDATE).count() == 1

    def test_it_counts_from_today_when_there_is_no_end_date(self) -> None:
        Resource.objects.filter(pk=self.resource.pk).update(end_date=None)
        order = Order.objects.get(
            uuid=self.post(self.alice, "renew", {"extension_months": 1}).json()["order_uuid"]
        )
        assert order.attributes["old_end_date"] is None
        assert order.attributes["new_end_date"] == "2026-04-10"

    def test_it_answers_409_for_a_terminated_resource(self) -> None:
        Resource.objects.filter(pk=self.resource.pk).update(state="Terminated")
        assert self.post(self.alice, "renew", {"extension_months": 1}).status_code == 409

    # --- PATCH end_date and set_end_date_by_staff ----------------------------------------------

    def patch(self, user: Any, data: Any) -> Any:
        return self.as_user(user).patch(f"{BASE}{self.resource.uuid.hex}/", data, format="json")

    def test_it_lets_the_consumer_patch_the_end_date(self) -> None:
        response = self.patch(self.erin, {"end_date": "2026-05-15"})
        assert response.status_code == 200, response.content
        assert response.json()["end_date"] == "2026-05-15"
        self.resource.refresh_from_db()
        assert (self.resource.end_date, self.resource.end_date_requested_by) == (
            datetime.date(2026, 5, 15),
            self.erin,
        )

    def test_it_refuses_a_past_end_date_other_fields_and_other_people(self) -> None:
        assert self.patch(self.alice, {"end_date": "2026-03-09"}).json() == {
            "end_date": ["The end date must not be in the past."]
        }
        response = self.patch(self.alice, {"end_date": "2026-05-15", "name": "renamed"})
        assert response.status_code == 400 and "name" in response.json()
        assert self.patch(self.bob, {"end_date": "2026-05-15"}).status_code == 403
        assert self.patch(self.carol, {"end_date": "2026-05-15"}).status_code == 404
        assert self.as_user(self.alice).put(f"{BASE}{self.resource.uuid.hex}/", {}).status_code == 405
        self.resource.refresh_from_db()
        assert (self.resource.end_date, self.resource.name) == (datetime.date(2026, 4, 30), "alpha")

    def test_it_lets_only_staff_set_the_end_date_by_staff(self) -> None:
        for user in (self.alice, self.erin, self.bob):
            assert self.post(user, "set_end_date_by_staff", {"end_date": "2026-03-11"}).status_code == 403
        response = self.post(self.staff, "set_end_date_by_staff", {"end_date": "2026-03-11"})
        assert response.status_code == 200
        self.resource.refresh_from_db()
        assert self.resource.end_date == datetime.date(2026, 3, 11)
        assert self.post(self.staff, "set_end_date_by_staff", {"end_date": "2026-03-01"}).status_code == 400


def test_months_are_added_to_the_day_or_the_months_last_day() -> None:
    assert plus_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert plus_months(datetime.date(2026, 11, 15), 3) == datetime.date(2027, 2, 15)
    assert new_end_date(datetime.date(2026, 1, 1), 1, today=TODAY) == datetime.date(2026, 4, 10)
    assert new_end_date(None, 12, today=TODAY) == datetime.date(2027, 3, 10)
