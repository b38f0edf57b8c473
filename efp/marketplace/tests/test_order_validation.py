"""Bad input gets the contract's 4xx and changes nothing (docs/contract.md §5.7, §1.6)."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from efp.marketplace.models import Offering, Order, OrderEvent, Plan, Resource, ResourceEvent
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.offerings import create_plan
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order, plan_of
from efp.structure.models import Customer, Project
from efp.structure.services import remove_project

ORDERS = "/api/marketplace-orders/"


class OrderValidationTestCase(MarketplaceTestCase):
    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(plan_of(self.offering)),
            "attributes": {"name": "alloc"},
            "limits": {"storage": 5},
            **extra,
        }

    def snapshot(self) -> tuple[int, ...]:
        return (
            Order.objects.count(),
            Resource.objects.count(),
            OrderEvent.objects.count(),
            ResourceEvent.objects.count(),
        )

    def assert_refused(
        self, body: dict[str, Any], expected: Any, *, user: Any = None, code: int = 400
    ) -> None:
        before = self.snapshot()
        response = self.as_user(user or self.alice).post(ORDERS, body, format="json")
        assert response.status_code == code, response.content
        if expected is not None:
            assert response.json() == expected
        assert self.snapshot() == before


class CreateOrderValidationTests(OrderValidationTestCase):
    def test_it_refuses_an_unknown_offering(self) -> None:
        unknown = f"http://testserver/api/marketplace-public-offerings/{'a' * 32}/"
        self.assert_refused(
            self.body(offering=unknown), {"offering": ["Invalid hyperlink - Object does not exist."]}
        )

    def test_it_refuses_a_url_of_the_wrong_kind(self) -> None:
        wrong = self.project_url(self.project_a1)
        self.assert_refused(
            self.body(offering=wrong), {"offering": ["Invalid hyperlink - Incorrect URL match."]}
        )
        self.assert_refused(
            self.body(offering="http://testserver/nowhere/"),
            {"offering": ["Invalid hyperlink - Incorrect URL match."]},
        )
        self.assert_refused(
            self.body(offering=42), {"offering": ["Incorrect type. Expected URL string, received int."]}
        )

    def test_it_refuses_missing_project_and_offering(self) -> None:
        self.assert_refused(
            {"attributes": {}},
            {"project": ["This field is required."], "offering": ["This field is required."]},
        )

    def test_it_refuses_a_plan_of_another_offering(self) -> None:
        self.assert_refused(
            self.body(plan=self.plan_url(plan_of(self.basic))),
            {"plan": ["This plan is not available for selected offering."]},
        )

    def test_it_refuses_a_missing_plan(self) -> None:
        body = self.body()
        del body["plan"]
        self.assert_refused(body, {"plan": ["Plan is required when creating resources for this offering."]})

    def test_it_refuses_an_archived_plan_and_a_full_plan(self) -> None:
        Plan.objects.filter(pk=plan_of(self.offering).pk).update(archived=True)
        self.assert_refused(self.body(), {"plan": ["Plan is archived."]})
        small = create_plan(offering=self.offering, name="Small", max_amount=1)
        order_services.create_order(
            user=self.alice,
            project=self.project_a1,
            offering=self.offering,
            plan=small,
            attributes={"name": "s1"},
        )
        self.assert_refused(
            self.body(plan=self.plan_url(small)),
            {"plan": ["The plan has reached its maximum number of resources."]},
        )

    def test_it_refuses_limits_on_a_usage_component(self) -> None:
        self.assert_refused(self.body(limits={"cpu": 10}), {"limits": ["Invalid types: cpu"]})
        self.assert_refused(
            self.body(limits={"gpu": 1, "cpu": 1, "storage": 1}), {"limits": ["Invalid types: cpu, gpu"]}
        )
        self.assert_refused(self.body(limits={"ram": 1}), {"limits": ["Invalid types: ram"]})

    def test_it_refuses_limits_out_of_bounds_or_not_whole(self) -> None:
        for limits, message in (
            ({"storage": 1001}, "The limit of storage must be at most 1000."),
            ({"storage": -1}, "The limit of storage must not be negative."),
            ({"storage": "many"}, "The limit of storage must be a whole number."),
            ({"storage": 1.5}, "The limit of storage must be a whole number."),
            ({"storage": True}, "The limit of storage must be a whole number."),
            ({"storage": None}, "The limit of storage must be a whole number."),
        ):
            self.assert_refused(self.body(limits=limits), {"limits": [message]})
        self.assert_refused(self.body(limits=["storage"]), None)

    def test_it_refuses_a_name_longer_than_150_characters(self) -> None:
        self.assert_refused(
            self.body(attributes={"name": "x" * 151}),
            {"attributes": ["Name is too long. Maximum length is 150 characters."]},
        )
        self.assert_refused(self.body(attributes={"name": 7}), {"attributes": ["Name must be a string."]})

    def test_it_counts_a_unicode_name_by_characters(self) -> None:
        response = self.as_user(self.alice).post(
            ORDERS, self.body(attributes={"name": "ü" * 150}), format="json"
        )
        assert response.status_code == 201, response.content
        assert Resource.objects.get().name == "ü" * 150

    def test_it_requires_accepting_the_terms_of_service(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(terms_of_service="Be nice.")
        self.assert_refused(
            self.body(),
            {"non_field_errors": ["Terms of service for offering 'Offering O' have not been accepted."]},
        )
        response = self.as_user(self.alice).post(
            ORDERS, self.body(accepting_terms_of_service=True), format="json"
        )
        assert response.status_code == 201
        assert Order.objects.count() == 1

    def test_it_refuses_a_blocked_or_archived_organisation_with_a_bare_list(self) -> None:
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=True)
        self.assert_refused(self.body(), ["Blocked organization is not available."])
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=False, archived=True)
        self.assert_refused(self.body(), ["Archived organization is not available."])

    def test_it_refuses_an_expired_project(self) -> None:
        Project.objects.filter(pk=self.project_a1.pk).update(end_date=timezone.localdate())
        self.assert_refused(self.body(), ["Project 'Project A1' is expired."])
        self.assert_refused(self.body(), ["Project 'Project A1' is expired."], user=self.staff)

    def test_it_refuses_a_removed_project(self) -> None:
        remove_project(project=self.project_a1)
        self.assert_refused(self.body(), {"project": ["Invalid hyperlink - Object does not exist."]})

    def test_it_refuses_offerings_that_are_not_active(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(state=Offering.State.PAUSED)
        self.assert_refused(self.body(), {"offering": ["Offering is not available."]})
        for state in (Offering.State.ARCHIVED, Offering.State.DRAFT, Offering.State.UNAVAILABLE):
            Offering.objects.filter(pk=self.offering.pk).update(state=state)
            response = self.as_user(self.alice).post(ORDERS, self.body(), format="json")
            assert response.status_code == 400, state
        assert not Order.objects.exists()

    def test_it_only_creates_create_orders_here(self) -> None:
        self.assert_refused(self.body(type="Terminate"), None)
        self.assert_refused(self.body(type="Explode"), {"type": ['"Explode" is not a valid choice.']})

    def test_it_refuses_malformed_fields_without_a_500(self) -> None:
        for extra in (
            {"attributes": "name"},
            {"attributes": {"end_date": "yesterday"}},
            {"attributes": {"end_date": "2000-01-01"}},
            {"callback_url": "not a url"},
            {"start_date": "soon"},
            {"request_comment": "x" * 256},
            {
                "plan": f"http://testserver/api/marketplace-public-offerings/{self.offering.uuid.hex}/plans/nope/"
            },
            {"project": None},
            {"accepting_terms_of_service": "maybe"},
        ):
            self.assert_refused(self.body(**extra), None)

    def test_it_refuses_a_malformed_json_body(self) -> None:
        response = self.as_user(self.alice).post(ORDERS, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert "detail" in response.json()
        assert not Order.objects.exists()

    def test_it_answers_401_before_validating(self) -> None:
        response = self.as_user(None).post(ORDERS, {"project": "nonsense"}, format="json")
        assert response.status_code == 401
        assert not Order.objects.exists()

    def test_it_keeps_to_the_maximum_resource_count_per_project(self) -> None:
        limited = make_offering(
            self.provider_p, name="Limited", plugin_options={"maximal_resource_count_per_project": 1}
        )
        make_order(self.alice, self.project_a1, limited)
        body = self.body(offering=self.offering_url(limited), plan=self.plan_url(plan_of(limited)))
        before = self.snapshot()
        response = self.as_user(self.alice).post(ORDERS, body, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["non_field_errors"]
        assert self.snapshot() == before

    def test_it_fills_and_bounds_the_end_date(self) -> None:
        dated = make_offering(
            self.provider_p,
            name="Dated",
            plugin_options={
                "is_resource_termination_date_required": True,
                "default_resource_termination_offset_in_days": 30,
                "max_resource_termination_offset_in_days": 60,
            },
        )
        body = self.body(offering=self.offering_url(dated), plan=self.plan_url(plan_of(dated)))
        response = self.as_user(self.alice).post(ORDERS, body, format="json")
        assert response.status_code == 201, response.content
        resource = Resource.objects.get(offering=dated)
        assert resource.end_date == timezone.localdate() + datetime.timedelta(days=30)
        too_late = (timezone.localdate() + datetime.timedelta(days=61)).isoformat()
        self.assert_refused({**body, "attributes": {"name": "b", "end_date": too_late}}, None)


class ActionValidationTests(OrderValidationTestCase):
    def test_it_answers_409_to_approving_a_done_order(self) -> None:
        order = make_order(self.alice, self.project_a1, self.basic)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        assert Order.objects.get(pk=order.pk).state == "done"
        for action in ("approve_by_provider", "approve_by_consumer", "reject_by_provider", "set_state_done"):
            user = self.alice if action == "approve_by_consumer" else self.carol
            before = self.snapshot()
            response = self.as_user(user).post(f"{ORDERS}{order.uuid.hex}/{action}/", {}, format="json")
            assert response.status_code == 409, action
            assert response.json()["detail"].startswith("Valid states for operation: ")
            assert self.snapshot() == before
        assert Order.objects.get(pk=order.pk).state == "done"

    def test_it_answers_403_to_a_consumer_approving_as_provider(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        before = self.snapshot()
        response = self.as_user(self.alice).post(
            f"{ORDERS}{order.uuid.hex}/approve_by_provider/", {}, format="json"
        )
        assert response.status_code == 403
        assert response.json() == {
            "detail": "You do not have permission to perform this action. "
            "Only the provider's organisation owners and offering managers may approve orders."
        }
        assert self.snapshot() == before
        order.refresh_from_db()
        assert (order.state, order.provider_reviewed_by) == ("pending-provider", None)

    def test_it_answers_404_to_malformed_uuids_in_paths(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        before = self.snapshot()
        assert self.as_user(self.staff).get(f"{ORDERS}xyz/").status_code == 404
        for path in (
            f"{ORDERS}xyz/approve_by_provider/",
            f"{ORDERS}{'g' * 32}/cancel/",
            f"{ORDERS}{order.pk}/unlink/",
        ):
            assert self.as_user(self.staff).post(path).status_code == 404, path
        assert self.snapshot() == before

    def test_it_answers_400_to_malformed_uuids_in_filters(self) -> None:
        response = self.as_user(self.alice).get(ORDERS + "?offering_uuid=xyz")
        assert response.status_code == 400
        assert response.json() == {"offering_uuid": ["Enter a valid UUID."]}
        for key in ("project_uuid", "customer_uuid", "provider_uuid", "resource_uuid", "category_uuid"):
            response = self.as_user(self.alice).get(f"{ORDERS}?{key}=123")
            assert (response.status_code, response.json()) == (400, {key: ["Enter a valid UUID."]}), key
        response = self.as_user(self.alice).get(ORDERS + "?state=nope")
        assert response.status_code == 400
        assert response.json() == {
            "state": ["Select a valid choice. nope is not one of the available choices."]
        }
        assert self.as_user(self.alice).get(ORDERS + "?service_manager_uuid=1").status_code == 400
        assert self.as_user(self.alice).get(ORDERS + "?created=yesterday").status_code == 400

    def test_it_refuses_an_expired_project_even_for_staff_approving(self) -> None:
        order = make_order(self.erin, self.project_a1, self.offering)
        Project.objects.filter(pk=self.project_a1.pk).update(end_date=timezone.localdate())
        before = self.snapshot()
        response = self.as_user(self.staff).post(f"{ORDERS}{order.uuid.hex}/approve_by_consumer/")
        assert (response.status_code, response.json()) == (400, ["Project 'Project A1' is expired."])
        assert self.snapshot() == before


class NoServerErrorTests(OrderValidationTestCase):
    """Odd input gets a 4xx, never a 500, on SQLite and PostgreSQL (which refuses NUL bytes in text)."""

    def client_for(self, user: Any) -> Any:
        client = self.as_user(user)
        client.raise_request_exception = False  # see the status code instead of the exception
        return client

    def test_it_answers_odd_filter_values_with_4xx_or_200(self) -> None:
        make_order(self.alice, self.project_a1, self.offering)
        client = self.client_for(self.carol)
        params = (
            "query", "resource_name", "offering_slug", "offering_type", "offering", "resource", "created",
            "modified", "state", "type", "o", "field", "page", "page_size", "can_approve_as_consumer",
            "offering_uuid", "service_manager_uuid", "created_before",
        )  # fmt: skip
        for param in params:
            for value in ("%00", "a%00b", "%ff", "'", "%", "1e309", "[]", "\\", "x" * 3000):
                response = client.get(f"{ORDERS}?{param}={value}")
                assert response.status_code in (200, 400, 404), (param, value, response.status_code)
        response = client.get(f"{ORDERS}?offering_type=a%00b")
        assert response.json() == {"offering_type": ["Null characters are not allowed."]}

    def test_it_answers_odd_bodies_with_400(self) -> None:
        for extra in (
            {"attributes": {"name": "a\u0000b"}},
            {"attributes": {"name": "ok", "nested": ["\u0000"]}},
            {"attributes": {"name": "ok", "end_date": "2999-02-31"}},
            {"attributes": {"name": "ok", "end_date": ["x"]}},
            {"limits": {"\u0000": 1}},
            {"limits": {"storage": 10**30}},
            {"request_comment": "a\u0000b"},
            {"project": "http://[::1"},
            {"project": "http://testserver/api/projects/\u0000/"},
        ):
            before = self.snapshot()
            response = self.client_for(self.alice).post(ORDERS, self.body(**extra), format="json")
            assert response.status_code == 400, (extra, response.status_code)
            assert self.snapshot() == before
        response = self.client_for(self.alice).post(
            ORDERS, self.body(attributes={"x": "\u0000"}), format="json"
        )
        assert response.json() == {"attributes": ["Null characters are not allowed."]}

    def test_it_answers_odd_action_bodies_with_400(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        for action, body in (
            ("reject_by_provider", {"provider_rejection_comment": "a\u0000b"}),
            ("set_backend_id", {"backend_id": "a\u0000b"}),
            ("set_backend_id", ["x"]),
            ("set_state_erred", {"error_message": "a\u0000b"}),
            ("approve_by_provider", {"attributes": "x"}),
        ):
            response = self.client_for(self.carol).post(
                f"{ORDERS}{order.uuid.hex}/{action}/", body, format="json"
            )
            assert response.status_code == 400, (action, response.status_code)
        order.refresh_from_db()
        assert (order.state, order.backend_id) == ("pending-provider", "")


class UnavailableOrganisationTests(OrderValidationTestCase):
    """Blocked or archived organisations and expired projects stop every consumer verb with a bare list."""

    def setUp(self) -> None:
        self.order = make_order(self.erin, self.project_a1, self.basic)  # pending-consumer

    def post(self, user: Any, action: str) -> Any:
        return self.as_user(user).post(f"{ORDERS}{self.order.uuid.hex}/{action}/", {}, format="json")

    def test_it_refuses_consumer_verbs_for_a_blocked_organisation(self) -> None:
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=True)
        before = self.snapshot()
        for user, action in ((self.alice, "approve_by_consumer"), (self.erin, "reject_by_consumer")):
            response = self.post(user, action)
            assert (response.status_code, response.json()) == (
                400,
                ["Blocked organization is not available."],
            )
        response = self.as_user(self.erin).delete(f"{ORDERS}{self.order.uuid.hex}/")
        assert (response.status_code, response.json()) == (400, ["Blocked organization is not available."])
        assert self.snapshot() == before
        assert Order.objects.get(pk=self.order.pk).state == "pending-consumer"

    def test_it_refuses_consumer_verbs_for_an_archived_organisation(self) -> None:
        Customer.objects.filter(pk=self.org_a.pk).update(archived=True)
        before = self.snapshot()
        response = self.post(self.alice, "approve_by_consumer")
        assert (response.status_code, response.json()) == (400, ["Archived organization is not available."])
        response = self.as_user(self.alice).delete(f"{ORDERS}{self.order.uuid.hex}/")
        assert response.status_code == 400
        assert self.snapshot() == before

    def test_it_checks_permission_and_state_before_availability(self) -> None:
        Customer.objects.filter(pk=self.org_a.pk).update(blocked=True)
        assert self.post(self.erin, "approve_by_consumer").status_code == 403
        assert self.post(self.carol, "approve_by_provider").status_code == 409
        assert self.post(self.dave, "approve_by_consumer").status_code == 404

    def test_it_refuses_a_blocked_provider_to_approve_or_reject(self) -> None:
        order_services.approve_order_by_consumer(order=self.order, user=self.alice)
        Customer.objects.filter(pk=self.provider_p.pk).update(blocked=True)
        before = self.snapshot()
        for action in ("approve_by_provider", "reject_by_provider"):
            response = self.post(self.carol, action)
            assert (response.status_code, response.json()) == (
                400,
                ["Blocked organization is not available."],
            )
        assert self.snapshot() == before
        assert Order.objects.get(pk=self.order.pk).state == "pending-provider"
