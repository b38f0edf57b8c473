"""A member withdraws the order they placed while it waits (DELETE, docs/compatibility.md), and
`can_terminate` says what cancel does.

bob is a member of project A1: he may place orders there but holds no ORDER.DESTROY.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project
from efp.structure.models import Project


def order_path(order: Order) -> str:
    return f"/api/marketplace-orders/{order.uuid.hex}/"


class MemberWithdrawalTests(MarketplaceTestCase):
    def test_it_lets_a_member_withdraw_the_order_he_placed_while_it_awaits_the_consumer(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering, name="bobs")
        assert order.state == "pending-consumer"
        response = self.as_user(self.bob).delete(order_path(order))
        assert response.status_code == 204, response.content
        assert not Order.objects.filter(pk=order.pk).exists()
        assert Resource.objects.get(name="bobs").state == "Terminated"

    def test_it_lets_him_withdraw_it_while_it_awaits_the_provider(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering, name="bobs")
        order_services.approve_order_by_consumer(order=order, user=self.alice)
        assert Order.objects.get(pk=order.pk).state == "pending-provider"
        assert self.as_user(self.bob).delete(order_path(order)).status_code == 204
        assert not Order.objects.filter(pk=order.pk).exists()

    def test_it_refuses_him_an_order_someone_else_placed(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="alices")
        response = self.as_user(self.bob).delete(order_path(order))
        assert response.status_code == 403
        assert response.json() == {
            "detail": "You do not have permission to perform this action. Only organisation owners, "
            "project administrators and project managers, or whoever placed the order, may delete orders."
        }
        assert Order.objects.filter(pk=order.pk).exists()

    def test_it_refuses_once_the_provider_has_started(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering, name="bobs")
        order_services.approve_order_by_consumer(order=order, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        response = self.as_user(self.bob).delete(order_path(order))
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Valid states for operation: pending-consumer, pending-provider."
        }
        assert Order.objects.get(pk=order.pk).state == "executing"


class CanTerminateTests(MarketplaceTestCase):
    def later_project(self) -> Project:
        project = make_project(self.org_a, "Starts later")
        Project.objects.filter(pk=project.pk).update(
            start_date=timezone.localdate() + datetime.timedelta(days=30)
        )
        project.refresh_from_db()
        return project

    def test_it_says_false_for_a_pending_project_order_which_cancel_refuses(self) -> None:
        order = make_order(self.alice, self.later_project(), self.basic, name="later", limits={})
        assert order.state == "pending-project"
        assert self.as_user(self.alice).get(order_path(order)).json()["can_terminate"] is False
        response = self.as_user(self.alice).post(f"{order_path(order)}cancel/")
        assert response.status_code == 409
        assert Order.objects.get(pk=order.pk).state == "pending-project"

    def test_it_says_true_where_cancel_succeeds(self) -> None:
        order = make_order(self.bob, self.project_a1, self.basic, name="basic", limits={})
        assert order.state == "pending-consumer"
        assert self.as_user(self.alice).get(order_path(order)).json()["can_terminate"] is True
        assert self.as_user(self.alice).post(f"{order_path(order)}cancel/").status_code == 202
        assert Order.objects.get(pk=order.pk).state == "canceled"
