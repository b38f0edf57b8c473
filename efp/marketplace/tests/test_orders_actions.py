"""Order actions (docs/contract.md §5.4 rows 6-16) with their refusals, and their effects on the
resource (§5.3)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from efp.marketplace.models import Offering, Order, OrderEvent, Resource, ResourcePlanPeriod
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource, plan_of
from efp.structure.models import Customer, Project

APPROVABLE_BY_PROVIDER = "Valid states for operation: pending-provider."


def path(order: Order, action: str) -> str:
    return f"/api/marketplace-orders/{order.uuid.hex}/{action}/"


class OrderActionTestCase(MarketplaceTestCase):
    def pending_consumer(self, offering: Offering | None = None) -> Order:
        order = make_order(self.erin, self.project_a1, offering or self.offering)
        assert order.state == "pending-consumer"
        return order

    def pending_provider(self, offering: Offering | None = None) -> Order:
        order = make_order(self.alice, self.project_a1, offering or self.offering)
        assert order.state == "pending-provider"
        return order

    def executing(self) -> Order:
        order = order_services.approve_order_by_provider(order=self.pending_provider(), user=self.carol)
        assert order.state == "executing"
        return order

    def erred(self) -> Order:
        order = order_services.fail_order(order=self.executing(), user=self.carol, error_message="boom")
        assert order.state == "erred"
        return order

    def post(self, user: Any, order: Order, action: str, body: Any = None) -> Any:
        return self.as_user(user).post(path(order, action), body, format="json")

    def state_of(self, obj: Order | Resource) -> str:
        return type(obj).objects.get(pk=obj.pk).state

    def assert_refused(
        self, order: Order, action: str, cases: list[tuple[Any, int]], body: Any = None
    ) -> None:
        before = self.state_of(order)
        events = OrderEvent.objects.filter(order=order).count()
        for user, code in cases:
            response = self.post(user, order, action, body)
            assert response.status_code == code, (getattr(user, "username", None), code, response.content)
            if code == 401:
                assert response["WWW-Authenticate"] == "Token"
            if code == 404:
                assert response.json() == {"detail": "No Order matches the given query."}
            if code == 403:
                detail = response.json()["detail"]
                assert detail.startswith("You do not have permission to perform this action. Only ")
        assert self.state_of(order) == before
        assert OrderEvent.objects.filter(order=order).count() == events


class ApproveByConsumerTests(OrderActionTestCase):
    def test_it_lets_the_owner_approve(self) -> None:
        order = self.pending_consumer()
        response = self.post(self.alice, order, "approve_by_consumer")
        assert response.status_code == 200
        assert response.json() == {"detail": "Order has been approved by consumer."}
        order.refresh_from_db()
        assert order.state == "pending-provider"
        assert order.consumer_reviewed_by == self.alice
        assert order.consumer_reviewed_at is not None

    def test_it_lets_staff_approve(self) -> None:
        order = self.pending_consumer()
        assert self.post(self.staff, order, "approve_by_consumer").status_code == 200
        assert self.state_of(order) == "pending-provider"

    def test_it_refuses_project_roles_the_provider_outsiders_and_anonymous(self) -> None:
        order = self.pending_consumer()
        cases = [
            (self.erin, 403),
            (self.bob, 403),
            (self.carol, 403),
            (self.oscar, 403),
            (self.dave, 404),
            (None, 401),
        ]
        self.assert_refused(order, "approve_by_consumer", cases)
        assert Order.objects.get(pk=order.pk).consumer_reviewed_by is None

    def test_it_refuses_an_order_already_past_consumer_review(self) -> None:
        order = self.executing()
        response = self.post(self.alice, order, "approve_by_consumer")
        assert response.status_code == 409
        assert response.json() == {"detail": "Valid states for operation: pending-consumer."}
        assert self.state_of(order) == "executing"
        assert Order.objects.get(pk=order.pk).provider_reviewed_by == self.carol

    def test_it_checks_permission_before_state(self) -> None:
        order = self.executing()
        assert self.post(self.erin, order, "approve_by_consumer").status_code == 403

    def test_it_parks_the_order_when_the_project_starts_later(self) -> None:
        import datetime

        order = self.pending_consumer()
        Project.objects.filter(pk=self.project_a1.pk).update(
            start_date=timezone.localdate() + datetime.timedelta(5)
        )
        assert self.post(self.alice, order, "approve_by_consumer").status_code == 200
        assert self.state_of(order) == "pending-project"


class RejectByConsumerTests(OrderActionTestCase):
    def test_it_lets_the_creator_reject_and_terminates_the_new_resource(self) -> None:
        order = self.pending_consumer()
        response = self.post(self.erin, order, "reject_by_consumer", {"consumer_rejection_comment": "wrong"})
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.state == "rejected"
        assert order.consumer_rejection_comment == "wrong"
        assert order.consumer_reviewed_by == self.erin
        assert self.state_of(order.resource) == "Terminated"
        assert (
            self.as_user(self.erin)
            .get(f"/api/marketplace-orders/{order.uuid}/")
            .json()["consumer_rejection_comment"]
            == "wrong"
        )

    def test_it_lets_the_owner_reject_without_a_body(self) -> None:
        order = self.pending_consumer()
        assert self.post(self.alice, order, "reject_by_consumer").status_code == 200
        assert self.state_of(order) == "rejected"

    def test_it_refuses_other_members_the_provider_outsiders_and_anonymous(self) -> None:
        order = self.pending_consumer()
        cases = [(self.bob, 403), (self.carol, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "reject_by_consumer", cases)
        assert self.state_of(order.resource) == "Creating"

    def test_it_refuses_an_order_that_has_moved_on(self) -> None:
        order = self.pending_provider()
        response = self.post(self.alice, order, "reject_by_consumer")
        assert response.status_code == 409
        assert self.state_of(order) == "pending-provider"


class ApproveByProviderTests(OrderActionTestCase):
    def test_it_lets_the_provider_owner_approve(self) -> None:
        order = self.pending_provider()
        response = self.post(self.carol, order, "approve_by_provider", {})
        assert response.status_code == 200
        assert response.json() == {"detail": "Order has been approved by provider."}
        order.refresh_from_db()
        assert order.state == "executing"
        assert order.provider_reviewed_by == self.carol
        assert self.state_of(order.resource) == "Creating"  # Slurm: the site agent creates it

    def test_it_lets_the_offering_manager_and_staff_approve(self) -> None:
        first, second = (
            self.pending_provider(),
            make_order(self.alice, self.project_a1, self.offering, name="b"),
        )
        assert self.post(self.oscar, first, "approve_by_provider").status_code == 200
        assert self.post(self.staff, second, "approve_by_provider").status_code == 200
        assert self.state_of(first) == self.state_of(second) == "executing"

    def test_it_completes_a_basic_order_at_once(self) -> None:
        order = self.pending_provider(self.basic)
        assert self.post(self.carol, order, "approve_by_provider").status_code == 200
        order.refresh_from_db()
        assert order.state == "done"
        assert order.completed_at is not None
        assert self.state_of(order.resource) == "OK"
        assert ResourcePlanPeriod.objects.filter(resource=order.resource, end__isnull=True).count() == 1

    def test_it_refuses_consumers_outsiders_and_anonymous(self) -> None:
        order = self.pending_provider()
        cases = [(self.alice, 403), (self.erin, 403), (self.bob, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "approve_by_provider", cases)

    def test_it_refuses_wrong_states(self) -> None:
        for order in (self.pending_consumer(), self.executing()):
            response = self.post(self.carol, order, "approve_by_provider")
            assert response.status_code == 409
            assert response.json() == {"detail": APPROVABLE_BY_PROVIDER}
        assert self.state_of(order) == "executing"

    def test_it_refuses_a_blocked_consumer_and_an_expired_project(self) -> None:

        order = self.pending_provider()
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=True)
        response = self.post(self.carol, order, "approve_by_provider")
        assert (response.status_code, response.json()) == (400, ["Blocked organization is not available."])
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=False)
        Project.objects.filter(pk=self.project_a1.pk).update(end_date=timezone.localdate())
        response = self.post(self.carol, order, "approve_by_provider")
        assert (response.status_code, response.json()) == (400, ["Project 'Project A1' is expired."])
        assert self.state_of(order) == "pending-provider"


class RejectByProviderTests(OrderActionTestCase):
    def test_it_stores_and_shows_the_rejection_comment(self) -> None:
        order = self.pending_provider()
        response = self.post(
            self.carol, order, "reject_by_provider", {"provider_rejection_comment": "No budget."}
        )
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.state == "rejected"
        assert order.provider_rejection_comment == "No budget."
        assert order.provider_reviewed_by == self.carol
        assert self.state_of(order.resource) == "Terminated"
        shown = self.as_user(self.alice).get(f"/api/marketplace-orders/{order.uuid.hex}/").json()
        assert shown["provider_rejection_comment"] == "No budget."
        assert shown["state"] == "rejected"

    def test_it_lets_the_offering_manager_reject_without_comment(self) -> None:
        order = self.pending_provider()
        assert self.post(self.oscar, order, "reject_by_provider").status_code == 200
        assert Order.objects.get(pk=order.pk).provider_rejection_comment == ""

    def test_it_refuses_consumers_outsiders_and_anonymous(self) -> None:
        order = self.pending_provider()
        cases = [(self.alice, 403), (self.erin, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "reject_by_provider", cases, {"provider_rejection_comment": "x"})

    def test_it_refuses_executing_and_canceled_orders(self) -> None:
        order = self.executing()
        assert self.post(self.carol, order, "reject_by_provider").status_code == 409
        basic = self.pending_provider(self.basic)
        order_services.cancel_order(order=basic, user=self.alice)
        assert self.post(self.carol, basic, "reject_by_provider").status_code == 409
        assert self.state_of(order) == "executing"
        assert self.state_of(basic) == "canceled"

    def test_it_checks_permission_and_state_before_the_body(self) -> None:
        order = self.pending_provider()
        long_comment = {"provider_rejection_comment": "x" * 5000}
        assert self.post(self.alice, order, "reject_by_provider", long_comment).status_code == 403
        executing = self.executing()
        assert self.post(self.carol, executing, "reject_by_provider", long_comment).status_code == 409
        assert self.post(self.carol, order, "reject_by_provider", long_comment).status_code == 400
        assert self.state_of(order) == "pending-provider"


class CancelTests(OrderActionTestCase):
    def test_it_cancels_a_basic_order_with_202(self) -> None:
        order = self.pending_provider(self.basic)
        response = self.post(self.alice, order, "cancel")
        assert response.status_code == 202
        assert self.state_of(order) == "canceled"
        assert self.state_of(order.resource) == "Terminated"

    def test_it_lets_the_project_admin_and_staff_cancel(self) -> None:
        first = self.pending_consumer(self.basic)
        second = make_order(self.alice, self.project_a1, self.basic, name="b")
        assert self.post(self.erin, first, "cancel").status_code == 202
        assert self.post(self.staff, second, "cancel").status_code == 202
        assert self.state_of(first) == self.state_of(second) == "canceled"

    def test_it_answers_405_for_slurm(self) -> None:
        order = self.pending_provider()
        response = self.post(self.alice, order, "cancel")
        assert response.status_code == 405
        assert response.json() == {
            "detail": "The order's offering with Marketplace.Slurm type does not support this action"
        }
        assert self.state_of(order) == "pending-provider"

    def test_it_answers_409_before_405(self) -> None:
        order = self.erred()
        assert self.post(self.alice, order, "cancel").status_code == 409

    def test_it_refuses_finished_orders(self) -> None:
        order = self.pending_provider(self.basic)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert self.state_of(order) == "done"
        response = self.post(self.alice, order, "cancel")
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Valid states for operation: pending-consumer, pending-provider, executing."
        }

    def test_it_refuses_members_the_provider_outsiders_and_anonymous(self) -> None:
        order = self.pending_provider(self.basic)
        cases = [(self.bob, 403), (self.carol, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "cancel", cases)


class SetStateExecutingTests(OrderActionTestCase):
    def test_it_lets_the_provider_move_a_pending_order_to_executing(self) -> None:
        for user, order in ((self.carol, self.pending_provider()), (self.oscar, self.pending_consumer())):
            response = self.post(user, order, "set_state_executing")
            assert response.status_code == 200, response.content
            assert self.state_of(order) == "executing"

    def test_it_restarts_an_erred_order_and_its_resource(self) -> None:
        order = self.pending_provider()
        Resource.objects.filter(pk=order.resource_id).update(backend_id="job-2")
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.fail_order(order=Order.objects.get(pk=order.pk), user=self.carol, error_message="x")
        assert self.state_of(order.resource) == "Erred"
        assert self.post(self.carol, order, "set_state_executing").status_code == 200
        assert self.state_of(order) == "executing"
        assert self.state_of(order.resource) == "Creating"

    def test_it_refuses_consumers_outsiders_and_anonymous(self) -> None:
        order = self.pending_provider()
        cases = [(self.alice, 403), (self.erin, 403), (self.bob, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "set_state_executing", cases)

    def test_it_refuses_wrong_states_and_types(self) -> None:
        order = self.executing()
        response = self.post(self.carol, order, "set_state_executing")
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Valid states for operation: pending-consumer, pending-provider, erred."
        }
        basic = self.pending_provider(self.basic)
        response = self.post(self.carol, basic, "set_state_executing")
        assert response.status_code == 405
        assert self.state_of(basic) == "pending-provider"


class SetStateDoneTests(OrderActionTestCase):
    def test_it_completes_the_order_and_the_resource(self) -> None:
        order = self.executing()
        response = self.post(self.carol, order, "set_state_done", {})
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.state == "done"
        assert order.completed_at is not None
        resource = Resource.objects.get(pk=order.resource_id)
        assert resource.state == "OK"
        period = ResourcePlanPeriod.objects.get(resource=resource)
        assert (period.plan, period.end) == (plan_of(self.offering), None)

    def test_it_accepts_an_empty_post_from_the_offering_manager(self) -> None:
        order = self.executing()
        assert self.as_user(self.oscar).post(path(order, "set_state_done")).status_code == 200
        assert self.state_of(order) == "done"

    def test_it_refuses_consumers_outsiders_and_anonymous(self) -> None:
        order = self.executing()
        self.assert_refused(
            order, "set_state_done", [(self.alice, 403), (self.erin, 403), (self.dave, 404), (None, 401)]
        )
        assert self.state_of(order.resource) == "Creating"

    def test_it_refuses_a_pending_order(self) -> None:
        order = self.pending_provider()
        response = self.post(self.carol, order, "set_state_done")
        assert response.status_code == 409
        assert response.json() == {"detail": "Valid states for operation: executing."}
        assert self.state_of(order) == "pending-provider"


class SetStateErredTests(OrderActionTestCase):
    def test_it_stores_the_error_and_leaves_the_resource_erred_even_without_backend_id(self) -> None:
        order = self.executing()
        body = {"error_message": "Slurm said no", "error_traceback": "  Traceback...\n  line 1\n"}
        response = self.post(self.carol, order, "set_state_erred", body)
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.state == "erred"
        assert order.error_message == "Slurm said no"
        assert order.error_traceback == "Traceback...\n  line 1"
        assert order.error_updated_at is not None
        assert self.state_of(order.resource) == "Erred"  # Waldur's: kept for a retry, not terminated

    def test_it_marks_a_resource_with_backend_id_erred(self) -> None:
        order = self.executing()
        Resource.objects.filter(pk=order.resource_id).update(backend_id="acct-1")
        assert self.post(self.carol, order, "set_state_erred", {}).status_code == 200
        assert self.state_of(order.resource) == "Erred"

    def test_it_works_from_pending_provider_with_an_empty_body(self) -> None:
        order = self.pending_provider()
        assert self.as_user(self.oscar).post(path(order, "set_state_erred")).status_code == 200
        assert self.state_of(order) == "erred"

    def test_it_refuses_consumers_outsiders_anonymous_done_orders_and_basic(self) -> None:
        order = self.executing()
        cases = [(self.alice, 403), (self.erin, 403), (self.dave, 404), (None, 401)]
        self.assert_refused(order, "set_state_erred", cases, {"error_message": "x"})
        order_services.complete_order(order=order, user=self.carol)
        assert self.post(self.carol, order, "set_state_erred").status_code == 409
        assert self.state_of(order) == "done"
        basic = self.pending_provider(self.basic)
        assert self.post(self.carol, basic, "set_state_erred").status_code == 405
        assert self.state_of(basic) == "pending-provider"

    def test_it_checks_permission_before_the_body(self) -> None:
        order = self.executing()
        assert (
            self.post(self.alice, order, "set_state_erred", {"error_message": ["not", "text"]}).status_code
            == 403
        )
        assert (
            self.post(self.carol, order, "set_state_erred", {"error_message": ["not", "text"]}).status_code
            == 400
        )
        assert self.state_of(order) == "executing"


class SetBackendIdTests(OrderActionTestCase):
    def test_it_sets_and_reports_unchanged_values(self) -> None:
        order = self.executing()
        response = self.post(self.carol, order, "set_backend_id", {"backend_id": "job-42"})
        assert (response.status_code, response.json()) == (
            200,
            {"status": "Order backend_id has been changed."},
        )
        assert Order.objects.get(pk=order.pk).backend_id == "job-42"
        response = self.post(self.oscar, order, "set_backend_id", {"backend_id": "job-42"})
        assert (response.status_code, response.json()) == (
            200,
            {"status": "Order backend_id is not changed."},
        )
        assert self.post(self.staff, order, "set_backend_id", {"backend_id": "job-43"}).status_code == 200
        assert Order.objects.get(pk=order.pk).backend_id == "job-43"

    def test_it_refuses_bad_values(self) -> None:
        order = self.executing()
        for body in ({"backend_id": ""}, {"backend_id": None}, {}, {"backend_id": "x" * 256}):
            response = self.post(self.carol, order, "set_backend_id", body)
            assert response.status_code == 400, body
            assert "backend_id" in response.json()
        assert Order.objects.get(pk=order.pk).backend_id == ""

    def test_it_refuses_consumers_outsiders_and_anonymous(self) -> None:
        order = self.executing()
        for user, code in ((self.alice, 403), (self.erin, 403), (self.dave, 404), (None, 401)):
            assert self.post(user, order, "set_backend_id", {"backend_id": "x"}).status_code == code
        assert self.post(self.erin, order, "set_backend_id", {}).status_code == 403  # 403 before 400
        assert Order.objects.get(pk=order.pk).backend_id == ""

    def test_it_refuses_a_blocked_provider(self) -> None:
        order = self.executing()
        Customer.objects.filter(pk=self.provider_p.pk).update(blocked=True)
        response = self.post(self.carol, order, "set_backend_id", {"backend_id": "x"})
        assert (response.status_code, response.json()) == (400, ["Blocked organization is not available."])
        assert Order.objects.get(pk=order.pk).backend_id == ""

    def test_it_answers_404_for_an_unknown_order(self) -> None:
        response = self.as_user(self.carol).post(
            f"/api/marketplace-orders/{'1' * 32}/set_backend_id/", {"backend_id": "x"}, format="json"
        )
        assert response.status_code == 404


class RetryTests(OrderActionTestCase):
    def test_it_retries_an_erred_order_and_clears_its_errors(self) -> None:
        order = self.pending_provider()
        Resource.objects.filter(pk=order.resource_id).update(backend_id="acct")
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order_services.fail_order(order=Order.objects.get(pk=order.pk), user=self.carol, error_message="boom",
                                  error_traceback="tb")  # fmt: skip
        response = self.post(self.oscar, order, "retry")
        assert response.status_code == 200
        order.refresh_from_db()
        assert (order.state, order.error_message, order.error_traceback) == ("executing", "", "")
        assert order.completed_at is None
        assert self.state_of(order.resource) == "Creating"

    def test_it_refuses_non_erred_orders_and_consumers(self) -> None:
        order = self.pending_provider()
        assert self.post(self.carol, order, "retry").status_code == 409
        erred = self.erred()
        self.assert_refused(
            erred, "retry", [(self.alice, 403), (self.erin, 403), (self.dave, 404), (None, 401)]
        )

    def test_it_answers_405_for_support_offerings(self) -> None:
        from efp.marketplace.tests.factories import make_offering

        support = make_offering(self.provider_p, name="Helpdesk", offering_type="Support.OfferingTemplate")
        order = make_order(self.alice, self.project_a1, support)
        assert order.state == "executing"
        order_services.Order.objects.filter(pk=order.pk).update(
            state="erred"
        )  # no service fails Support orders
        assert self.post(self.carol, order, "retry").status_code == 405


class FailedCreationRetryTests(OrderActionTestCase):
    """A failed creation keeps its resource Erred (Waldur's rule); the provider (or its site agent) starts the
    order again and the resource ends OK. Creations that failed before this rule left a Terminated resource:
    no retry brings that back (`restore/` does, see test_restore.py)."""

    def test_carol_sets_a_failed_creation_executing_again_and_completes_it(self) -> None:
        order = self.erred()
        assert self.state_of(order.resource) == "Erred"
        assert self.post(self.carol, order, "set_state_executing").status_code == 200
        assert (self.state_of(order), self.state_of(order.resource)) == ("executing", "Creating")
        assert self.post(self.carol, order, "set_state_done").status_code == 200
        assert (self.state_of(order), self.state_of(order.resource)) == ("done", "OK")
        assert ResourcePlanPeriod.objects.filter(resource_id=order.resource_id, end__isnull=True).count() == 1

    def test_oscar_retries_a_failed_creation_and_the_errors_are_cleared(self) -> None:
        order = self.erred()
        assert Resource.objects.get(pk=order.resource_id).error_message == "boom"
        assert self.post(self.oscar, order, "retry").status_code == 200
        resource = Resource.objects.get(pk=order.resource_id)
        assert (resource.state, resource.error_message) == ("Creating", "")
        assert self.post(self.oscar, order, "set_state_done").status_code == 200
        assert self.state_of(order.resource) == "OK"

    def test_it_refuses_to_restart_a_creation_whose_resource_was_terminated_by_the_old_rule(self) -> None:
        for action in ("retry", "set_state_executing"):
            order = self.erred()
            Resource.objects.filter(pk=order.resource_id).update(
                state="Terminated"
            )  # as the old rule left it
            response = self.post(self.carol, order, action)
            assert response.status_code == 409, (action, response.content)
            assert response.json() == {
                "detail": "The resource of this order is terminated; restore it or create a new order."
            }
            assert self.state_of(order) == "erred"


class ResourceEffectsTests(OrderActionTestCase):
    """Update and Terminate orders (created through the resource verbs) and what they do to the resource."""

    def setUp(self) -> None:
        self.resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)

    def test_it_updates_limits_through_updating_to_ok(self) -> None:
        order = order_services.update_resource_limits(
            resource=self.resource, user=self.alice, limits={"storage": 20}
        )
        assert order.state == "pending-provider"
        assert order.attributes["old_limits"] == {"storage": 10}
        assert self.post(self.carol, order, "approve_by_provider").status_code == 200
        assert self.state_of(self.resource) == "Updating"
        assert self.post(self.carol, order, "set_state_done").status_code == 200
        resource = Resource.objects.get(pk=self.resource.pk)
        assert (resource.state, resource.limits) == ("OK", {"storage": 20})

    def test_it_marks_the_resource_erred_when_an_update_fails(self) -> None:
        order = order_services.update_resource_limits(
            resource=self.resource, user=self.alice, limits={"storage": 20}
        )
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert self.post(self.carol, order, "set_state_erred", {"error_message": "quota"}).status_code == 200
        resource = Resource.objects.get(pk=self.resource.pk)
        assert (resource.state, resource.limits) == ("Erred", {"storage": 10})

    def test_it_returns_the_resource_to_ok_when_an_update_is_rejected(self) -> None:
        order = order_services.update_resource_limits(
            resource=self.resource, user=self.alice, limits={"storage": 20}
        )
        assert self.post(self.carol, order, "reject_by_provider").status_code == 200
        resource = Resource.objects.get(pk=self.resource.pk)
        assert (resource.state, resource.limits) == ("OK", {"storage": 10})

    def test_it_switches_the_plan_when_done(self) -> None:
        from efp.marketplace.services.offerings import create_plan

        bigger = create_plan(offering=self.offering, name="Bigger")
        order = order_services.switch_resource_plan(resource=self.resource, user=self.alice, plan=bigger)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert self.state_of(self.resource) == "OK"  # plan switches do not pass through Updating
        assert self.post(self.carol, order, "set_state_done").status_code == 200
        resource = Resource.objects.get(pk=self.resource.pk)
        assert resource.plan == bigger
        periods = ResourcePlanPeriod.objects.filter(resource=resource).order_by("pk")
        assert [(p.plan_id, p.end is None) for p in periods] == [
            (plan_of(self.offering).pk, False),
            (bigger.pk, True),
        ]

    def test_it_terminates_through_terminating(self) -> None:
        order = order_services.terminate_resource(resource=self.resource, user=self.alice)
        assert order.type == "Terminate"
        assert self.post(self.carol, order, "approve_by_provider").status_code == 200
        assert self.state_of(self.resource) == "Terminating"
        assert self.post(self.carol, order, "set_state_done").status_code == 200
        assert self.state_of(self.resource) == "Terminated"
        assert not ResourcePlanPeriod.objects.filter(resource=self.resource, end__isnull=True).exists()

    def test_it_returns_the_resource_to_ok_when_termination_fails_or_is_rejected(self) -> None:
        order = order_services.terminate_resource(resource=self.resource, user=self.alice)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert self.post(self.carol, order, "set_state_erred").status_code == 200
        assert self.state_of(self.resource) == "OK"
        again = order_services.terminate_resource(
            resource=Resource.objects.get(pk=self.resource.pk), user=self.alice
        )
        assert self.post(self.carol, again, "reject_by_provider").status_code == 200
        assert self.state_of(self.resource) == "OK"

    def test_it_allows_one_active_order_per_resource(self) -> None:
        first = order_services.update_resource_limits(
            resource=self.resource, user=self.alice, limits={"storage": 20}
        )
        before = Order.objects.count()
        from efp.errors import InvalidInput

        with self.assertRaises(InvalidInput) as caught:
            order_services.terminate_resource(resource=self.resource, user=self.alice)
        assert caught.exception.as_data() == ["Pending order for resource already exists."]
        assert Order.objects.count() == before
        order_services.approve_order_by_provider(order=first, user=self.carol)
        with self.assertRaises(InvalidInput):
            order_services.terminate_resource(resource=self.resource, user=self.alice)
        order_services.complete_order(order=Order.objects.get(pk=first.pk), user=self.carol)
        order_services.terminate_resource(resource=Resource.objects.get(pk=self.resource.pk), user=self.alice)
        assert Order.objects.count() == before + 1


class MoreApprovalRulesTests(OrderActionTestCase):
    def test_it_sends_a_consumer_approved_basic_order_to_the_provider(self) -> None:
        order = self.pending_consumer(self.basic)
        assert self.post(self.alice, order, "approve_by_consumer").status_code == 200
        assert self.state_of(order) == "pending-provider"
        assert self.state_of(order.resource) == "Creating"

    def test_it_skips_consumer_review_when_the_provider_terminates(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        order = order_services.terminate_resource(resource=resource, user=self.carol)
        assert (order.type, order.state, order.consumer_reviewed_by) == (
            "Terminate",
            "pending-provider",
            self.carol,
        )
        assert self.state_of(resource) == "OK"

    def test_it_keeps_a_project_admins_termination_for_consumer_review(self) -> None:
        resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        order = order_services.terminate_resource(resource=resource, user=self.erin)
        assert order.state == "pending-consumer"


class SupportUserTests(OrderActionTestCase):
    """`is_support` sees everything and may do nothing (docs/contract.md §2.1)."""

    def setUp(self) -> None:
        from efp.marketplace.tests.factories import make_user

        self.support = make_user("sue", is_support=True)

    def test_it_lets_support_see_every_order_and_its_traceback(self) -> None:
        order = self.erred()
        Order.objects.filter(pk=order.pk).update(error_traceback="tb")
        response = self.as_user(self.support).get(f"/api/marketplace-orders/{order.uuid.hex}/")
        assert response.status_code == 200
        assert response.json()["error_traceback"] == "tb"
        assert self.as_user(self.support).get("/api/marketplace-orders/")["X-Result-Count"] == "1"

    def test_it_refuses_support_every_action(self) -> None:
        pending_consumer, pending_provider = self.pending_consumer(), self.pending_provider()
        self.assert_refused(pending_consumer, "approve_by_consumer", [(self.support, 403)])
        self.assert_refused(pending_consumer, "reject_by_consumer", [(self.support, 403)])
        self.assert_refused(pending_provider, "approve_by_provider", [(self.support, 403)])
        self.assert_refused(pending_provider, "reject_by_provider", [(self.support, 403)])
        self.assert_refused(pending_provider, "set_state_executing", [(self.support, 403)])
        self.assert_refused(pending_provider, "unlink", [(self.support, 403)])
        response = self.as_user(self.support).delete(f"/api/marketplace-orders/{pending_provider.uuid.hex}/")
        assert response.status_code == 403
        assert Order.objects.filter(pk=pending_provider.pk).exists()
