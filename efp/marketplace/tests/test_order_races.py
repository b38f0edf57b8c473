"""Two approvers racing for one order: exactly one wins, the other gets 409 (STYLE.md "State machines")."""

from __future__ import annotations

import threading
import unittest
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import connection
from django.test import TransactionTestCase
from rest_framework.test import APIClient

from efp.accounts.services import get_or_create_token
from efp.marketplace.exceptions import StateConflict
from efp.marketplace.models import Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_order, make_project, make_user


class StaleApprovalTests(MarketplaceTestCase):
    """On any database: the loser holds an in-memory order that was pending when it looked."""

    def setUp(self) -> None:
        self.order = make_order(self.alice, self.project_a1, self.offering)

    def test_it_lets_only_the_first_of_two_approvals_win(self) -> None:
        carols_view = Order.objects.get(pk=self.order.pk)
        oscars_view = Order.objects.get(pk=self.order.pk)
        order_services.approve_order_by_provider(order=carols_view, user=self.carol)
        with self.assertRaises(StateConflict):
            order_services.approve_order_by_provider(order=oscars_view, user=self.oscar)
        order = Order.objects.get(pk=self.order.pk)
        assert (order.state, order.provider_reviewed_by) == ("executing", self.carol)
        assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1

    def test_it_lets_an_approval_and_a_rejection_not_both_win(self) -> None:
        carols_view = Order.objects.get(pk=self.order.pk)
        oscars_view = Order.objects.get(pk=self.order.pk)
        order_services.reject_order_by_provider(order=oscars_view, user=self.oscar, comment="no")
        with self.assertRaises(StateConflict):
            order_services.approve_order_by_provider(order=carols_view, user=self.carol)
        order = Order.objects.get(pk=self.order.pk)
        assert (order.state, order.provider_reviewed_by, order.provider_rejection_comment) == (
            "rejected",
            self.oscar,
            "no",
        )
        assert Resource.objects.get(pk=order.resource_id).state == "Terminated"

    def test_it_answers_409_to_the_second_approval_over_the_api(self) -> None:
        path = f"/api/marketplace-orders/{self.order.uuid.hex}/approve_by_provider/"
        assert self.as_user(self.carol).post(path).status_code == 200
        response = self.as_user(self.oscar).post(path)
        assert response.status_code == 409
        assert response.json() == {"detail": "Valid states for operation: pending-provider."}
        assert OrderEvent.objects.filter(order=self.order, new_state="executing").count() == 1

    def test_it_rolls_back_the_losers_side_effects(self) -> None:
        """A stale Basic approval would complete the order; it must not touch the resource at all."""
        basic = make_order(self.alice, self.project_a1, self.basic)
        stale = Order.objects.get(pk=basic.pk)
        order_services.cancel_order(order=Order.objects.get(pk=basic.pk), user=self.alice)
        events = ResourceEvent.objects.count()
        with self.assertRaises(StateConflict):
            order_services.approve_order_by_provider(order=stale, user=self.carol)
        assert Order.objects.get(pk=basic.pk).state == "canceled"
        assert Resource.objects.get(pk=basic.resource_id).state == "Terminated"
        assert ResourceEvent.objects.count() == events


@unittest.skipUnless(
    connection.vendor == "postgresql",
    "SQLite serialises all writers behind one database lock, so two threads cannot truly race there; "
    "the stale-object tests above cover the compare-and-swap on every database.",
)
class ThreadedApprovalRaceTests(TransactionTestCase):
    """On PostgreSQL: two threads, two connections, released together by a barrier."""

    ROUNDS = 5

    def setUp(self) -> None:
        self.alice, self.carol, self.oscar = make_user("alice"), make_user("carol"), make_user("oscar")
        self.project = make_project(make_customer("Organisation A", owner=self.alice), "Project A1")
        self.offering = make_offering(make_customer("Provider P", owner=self.carol), name="Offering O")
        grant_offering_manager(offering=self.offering, user=self.oscar)
        self.tokens = {user.pk: get_or_create_token(user=user) for user in (self.carol, self.oscar)}

    def race(self, *contenders: Callable[[], Any]) -> list[Any]:
        barrier = threading.Barrier(len(contenders))
        results: list[Any] = [None] * len(contenders)

        def run(index: int, contender: Callable[[], Any]) -> None:
            try:
                barrier.wait(timeout=10)
                results[index] = contender()
            except Exception as error:  # the outcome under test
                results[index] = error
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=pair) for pair in enumerate(contenders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        return results

    def test_it_lets_exactly_one_of_two_service_approvals_win(self) -> None:
        for round_ in range(self.ROUNDS):
            order = make_order(self.alice, self.project, self.offering, name=f"r{round_}")
            views = [Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)]
            results = self.race(
                partial(order_services.approve_order_by_provider, order=views[0], user=self.carol),
                partial(order_services.approve_order_by_provider, order=views[1], user=self.oscar),
            )
            winners = [r for r in results if isinstance(r, Order)]
            losers = [r for r in results if isinstance(r, StateConflict)]
            assert (len(winners), len(losers)) == (1, 1), results
            order.refresh_from_db()
            assert order.state == "executing"
            assert order.provider_reviewed_by == winners[0].provider_reviewed_by
            assert OrderEvent.objects.filter(order=order, new_state="executing").count() == 1

    def test_it_answers_one_200_and_one_409_over_the_api(self) -> None:
        for round_ in range(self.ROUNDS):
            order = make_order(self.alice, self.project, self.offering, name=f"api{round_}")
            path = f"/api/marketplace-orders/{order.uuid.hex}/"

            def call(user: Any, action: str, path: str = path) -> int:
                client = APIClient()
                client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[user.pk]}")
                return client.post(f"{path}{action}/", {}, format="json").status_code

            codes = self.race(
                lambda: call(self.carol, "approve_by_provider"),
                lambda: call(self.oscar, "reject_by_provider"),
            )
            assert sorted(codes) == [200, 409], codes
            order.refresh_from_db()
            assert order.state in ("executing", "rejected")
            assert (
                OrderEvent.objects.filter(order=order).exclude(old_state="").count() == 2
            )  # routed, decided

    def test_it_creates_only_one_active_order_for_a_resource(self) -> None:
        from efp.marketplace.exceptions import InvalidInput
        from efp.marketplace.tests.factories import make_resource

        for round_ in range(self.ROUNDS):
            resource = make_resource(self.alice, self.carol, self.project, self.offering, name=f"res{round_}")
            views = [Resource.objects.get(pk=resource.pk), Resource.objects.get(pk=resource.pk)]
            results = self.race(
                partial(order_services.terminate_resource, resource=views[0], user=self.alice),
                partial(
                    order_services.update_resource_limits,
                    resource=views[1],
                    user=self.alice,
                    limits={"storage": 1},
                ),
            )
            assert sum(isinstance(r, Order) for r in results) == 1, results
            assert all(isinstance(r, Order | InvalidInput | StateConflict) for r in results), results
            active = Order.objects.filter(resource=resource).exclude(
                state__in=["done", "rejected", "canceled", "erred"]
            )
            assert active.count() == 1
