"""Two approvers racing for one order: exactly one wins, the other gets 409 (STYLE.md "State machines")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import connection
from django.test import LiveServerTestCase, TransactionTestCase
from rest_framework.test import APIClient

from efp.accounts.models import User
from efp.errors import StateConflict
from efp.marketplace.models import OfferingType, Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.states import ACTIVE_ORDER_STATES
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import (
    make_customer,
    make_offering,
    make_order,
    make_project,
    make_resource,
    make_token,
    make_user,
)
from efp.marketplace.tests.races import ROUNDS, WideBacklogServerThread, needs_postgresql, poster, race
from efp.structure.roles import Role
from efp.structure.services import grant_project_role


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


@needs_postgresql  # the stale-object tests above cover the compare-and-swap on every database
class ThreadedApprovalRaceTests(TransactionTestCase):
    """On PostgreSQL: two threads, two connections, released together by a barrier."""

    ROUNDS = ROUNDS

    def setUp(self) -> None:
        self.alice, self.carol, self.oscar = make_user("alice"), make_user("carol"), make_user("oscar")
        self.project = make_project(make_customer("Organisation A", owner=self.alice), "Project A1")
        self.offering = make_offering(make_customer("Provider P", owner=self.carol), name="Offering O")
        grant_offering_manager(offering=self.offering, user=self.oscar)
        self.tokens = {user.pk: make_token(user) for user in (self.carol, self.oscar)}

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
        from efp.errors import InvalidInput
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


@needs_postgresql
class OrderRacesOverHttpTests(LiveServerTestCase):
    """Every decision on one order sent at once by different people: one wins, the others get 409."""

    server_thread_class = WideBacklogServerThread

    def setUp(self) -> None:
        self.staff = make_user("staff", is_staff=True)
        self.alice, self.bob, self.erin, self.frank, self.carol = (
            make_user(name) for name in ("alice", "bob", "erin", "frank", "carol")
        )
        org_a = make_customer("Organisation A", owner=self.alice)
        self.project = make_project(org_a, "Project A1", members=[self.bob], admins=[self.erin])
        grant_project_role(project=self.project, user=self.frank, role=Role.PROJECT_MANAGER)
        provider = make_customer("Provider P", owner=self.carol)
        self.offering = make_offering(provider, name="Offering O")
        self.basic = make_offering(provider, name="Offering B", offering_type=OfferingType.BASIC)
        self.premium = offering_services.create_plan(offering=self.offering, name="Premium", prices={})
        self.token = {user.username: make_token(user) for user in User.objects.all()}

    def post(self, user: User, path: str, body: dict[str, Any] | None = None) -> Callable[[Any], int]:
        return poster(f"{self.live_server_url}{path}", self.token[user.username], body)

    def decided_once(self, order: Order, decided_from: str) -> None:
        leaving = OrderEvent.objects.filter(order=order, old_state=decided_from)
        assert leaving.count() == 1, list(leaving.values_list("old_state", "new_state"))

    def test_it_lets_one_of_approve_reject_and_cancel_win_on_the_provider_side(self) -> None:
        outcome = {"approve_by_provider": "done", "reject_by_provider": "rejected", "cancel": "canceled"}
        winners = set()
        for round_ in range(ROUNDS):
            order = make_order(self.alice, self.project, self.basic, name=f"p{round_}")
            assert order.state == "pending-provider"
            path = f"/api/marketplace-orders/{order.uuid.hex}/"
            codes = race(
                [
                    self.post(self.carol, f"{path}approve_by_provider/"),
                    self.post(self.staff, f"{path}reject_by_provider/", {"provider_rejection_comment": "no"}),
                    self.post(self.alice, f"{path}cancel/"),
                ]
            )
            won = [action for action, code in zip(outcome, codes, strict=True) if code in (200, 202)]
            assert len(won) == 1 and sorted(codes).count(409) == 2, (round_, codes)
            winners.add(won[0])
            order.refresh_from_db()
            assert order.state == outcome[won[0]], (round_, won, order.state)
            self.decided_once(order, "pending-provider")
            resource = Resource.objects.get(pk=order.resource_id)
            assert resource.state == ("OK" if won[0] == "approve_by_provider" else "Terminated")
        print(f"provider-side decision race: {ROUNDS} rounds, winners seen: {sorted(winners)}")

    def test_it_lets_one_consumer_decision_win(self) -> None:
        """Approve and reject exclude each other; a cancel may also succeed, but only after the approval
        (pending-provider orders may be canceled), never beside a rejection."""
        serial_outcomes = {
            ("approve_by_consumer",): ["pending-provider"],
            ("reject_by_consumer",): ["rejected"],
            ("cancel",): ["canceled"],
            ("approve_by_consumer", "cancel"): ["pending-provider", "canceled"],
        }
        for round_ in range(ROUNDS):
            order = make_order(self.bob, self.project, self.basic, name=f"c{round_}")
            assert order.state == "pending-consumer"
            path = f"/api/marketplace-orders/{order.uuid.hex}/"
            actions = ("approve_by_consumer", "reject_by_consumer", "cancel")
            codes = race(
                [
                    self.post(self.alice, f"{path}approve_by_consumer/"),
                    self.post(self.bob, f"{path}reject_by_consumer/"),
                    self.post(self.erin, f"{path}cancel/"),
                ]
            )
            won = tuple(action for action, code in zip(actions, codes, strict=True) if code in (200, 202))
            assert won in serial_outcomes, (round_, codes)
            assert codes.count(409) == 3 - len(won), (round_, codes)
            self.decided_once(order, "pending-consumer")
            path_taken = list(
                OrderEvent.objects.filter(order=order)
                .exclude(old_state="")
                .order_by("pk")
                .values_list("new_state", flat=True)
            )
            assert path_taken == serial_outcomes[won], (round_, won, path_taken)

    def test_it_lets_one_of_many_equal_approvals_win(self) -> None:
        for round_ in range(ROUNDS):
            order = make_order(self.alice, self.project, self.offering, name=f"a{round_}")
            path = f"/api/marketplace-orders/{order.uuid.hex}/approve_by_provider/"
            codes = race([self.post(user, path) for user in (self.carol, self.staff) * 4])
            assert sorted(codes) == [200] + [409] * 7, (round_, codes)
            order.refresh_from_db()
            assert order.state == "executing"
            self.decided_once(order, "pending-provider")

    def test_it_creates_one_active_order_for_a_resource_whatever_is_asked_at_once(self) -> None:
        for round_ in range(ROUNDS):
            resource = make_resource(self.alice, self.carol, self.project, self.offering, name=f"r{round_}")
            orders_before = Order.objects.filter(resource=resource).count()
            path = f"/api/marketplace-resources/{resource.uuid.hex}/"
            plan_url = f"{self.live_server_url}/api/marketplace-plans/{self.premium.uuid.hex}/"
            codes = race(
                [
                    self.post(self.alice, f"{path}terminate/"),
                    self.post(self.erin, f"{path}update_limits/", {"limits": {"storage": 20}}),
                    self.post(self.frank, f"{path}switch_plan/", {"plan": plan_url}),
                    self.post(self.alice, f"{path}update_limits/", {"limits": {"storage": 30}}),
                    self.post(self.erin, f"{path}terminate/"),
                ]
            )
            assert codes.count(200) == 1, (round_, codes)
            assert all(code in (200, 400, 409) for code in codes), (round_, codes)
            active = Order.objects.filter(resource=resource, state__in=list(ACTIVE_ORDER_STATES))
            assert active.count() == 1, (round_, codes)
            assert Order.objects.filter(resource=resource).count() == orders_before + 1
