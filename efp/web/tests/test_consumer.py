"""The consumer's workspace: catalogue, order form, my orders, my resources (issue 5).

alice owns organisation A; erin is admin and bob a member of project A1; carol owns provider P, which sells
offering O (Slurm; storage is limit-billed, at most 1000 TB) and B (Basic); dave owns organisation Z and
is an outsider to A.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from efp.marketplace.models import Offering, Order, Plan, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.tests.factories import make_order, plan_of
from efp.web.tests.base import WebTestCase


class CatalogueTests(WebTestCase):
    def test_it_lists_active_offerings_by_category_and_shows_components_and_plans(self) -> None:
        Offering.objects.filter(pk=self.basic.pk).update(state=Offering.State.PAUSED)
        page = self.login(self.bob).get("/marketplace/")
        assert page.status_code == 200
        assert b"Offering O" in page.content and b"Offering B" not in page.content
        detail = self.login(self.bob).get(f"/marketplace/offerings/{self.offering.uuid.hex}/")
        body = detail.content.decode()
        assert "Storage" in body and "Limit-based" in body and "up to 1,000 TB" in body
        assert "Standard" in body and "8.00 per TB" in body
        assert "Order this offering" in body

    def test_it_searches_names_and_descriptions(self) -> None:
        Offering.objects.filter(pk=self.basic.pk).update(description="Help from engineers")
        page = self.login(self.bob).get("/marketplace/?q=ENGINEERS").content.decode()
        assert "Offering B" in page and "Offering O" not in page

    def test_an_offering_i_cannot_see_is_404(self) -> None:
        private = offering_services.create_offering(
            customer=self.provider_q,
            category=self.offering.category,
            name="Private Q",
            offering_type="Marketplace.Basic",
            shared=False,
            billable=False,
        )
        assert self.login(self.bob).get(f"/marketplace/offerings/{private.uuid.hex}/").status_code == 404
        assert (
            self.login(self.bob).get(f"/marketplace/offerings/{private.uuid.hex}/order/").status_code == 404
        )


class OrderFormTests(WebTestCase):
    def order(
        self, user: Any, project: Any = None, offering: Any = None, client: Any = None, **fields: Any
    ) -> Any:
        offering = offering or self.offering
        body = {
            "project": (project or self.project_a1).uuid.hex,
            "plan": plan_of(offering).uuid.hex,
            "name": "from-the-form",
            "limit_storage": "10",
            **fields,
        }
        return (client or self.login(user)).post(f"/marketplace/offerings/{offering.uuid.hex}/order/", body)

    def test_a_projects_page_leads_to_order_forms_with_the_project_chosen(self) -> None:
        catalogue = self.login(self.bob).get(f"/marketplace/?project={self.project_a1.uuid.hex}")
        link = f"/marketplace/offerings/{self.offering.uuid.hex}/order/?project={self.project_a1.uuid.hex}"
        assert link in catalogue.content.decode()
        form = self.login(self.bob).get(link).content.decode()
        assert f'<option value="{self.project_a1.uuid.hex}" selected>' in form

    def test_a_member_orders_and_the_order_waits_for_the_owner(self) -> None:
        client = self.login(self.bob)
        response = self.order(self.bob, client=client, comment="For the spring campaign")
        order = Order.objects.get(attributes__name="from-the-form")
        assert response.status_code == 302 and response["Location"] == f"/my/orders/{order.uuid.hex}/"
        assert (order.state, order.created_by, order.limits) == (
            "pending-consumer",
            self.bob,
            {"storage": 10},
        )
        assert order.request_comment == "For the spring campaign"
        assert order.resource is not None and order.resource.state == "Creating"
        page = client.get(response["Location"])
        assert "it waits for approval by an owner of the organisation" in page.content.decode()

    def test_the_owners_own_order_skips_consumer_approval(self) -> None:
        self.order(self.alice)
        assert Order.objects.get(attributes__name="from-the-form").state == "pending-provider"

    def test_the_form_and_the_api_give_the_same_state(self) -> None:
        self.order(self.erin, name="by-form")
        body = {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(plan_of(self.offering)),
            "attributes": {"name": "by-api"},
            "limits": {"storage": 10},
        }
        assert (
            self.as_user(self.erin).post("/api/marketplace-orders/", body, format="json").status_code == 201
        )
        states = dict(Order.objects.values_list("attributes__name", "state"))
        assert states["by-form"] == states["by-api"] == "pending-consumer"

    def test_an_outsider_cannot_order_for_a_project_they_cannot_see(self) -> None:
        response = self.order(self.dave)
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()
        body = {
            "project": self.project_url(self.project_a1),
            "offering": self.offering_url(self.offering),
            "plan": self.plan_url(plan_of(self.offering)),
            "attributes": {"name": "by-api"},
        }
        api = self.as_user(self.dave).post("/api/marketplace-orders/", body, format="json")
        assert api.status_code == 400 and "project" in api.json()
        assert not Order.objects.exists()

    def assert_refused(self, response: Any, message: str, field: str) -> None:
        """The error is shown beside `field` (its error block follows the input) and nothing was created."""
        assert response.status_code == 400, response.status_code
        body = response.content.decode()
        assert message in body, body
        error_block = body.index(f'id="id_{field}_error"')
        assert body.index(f'name="{field}"') < error_block
        assert message in body[error_block : error_block + 400]
        assert not Order.objects.exists() and not Resource.objects.exists()

    def test_a_limit_outside_the_bounds_is_refused_beside_the_field(self) -> None:
        self.assert_refused(
            self.order(self.alice, limit_storage="5000"),
            "The limit of storage must be at most 1000.",
            "limit_storage",
        )

    def test_an_archived_plan_is_refused_beside_the_field(self) -> None:
        Plan.objects.filter(offering=self.offering).update(archived=True)
        self.assert_refused(self.order(self.alice), "Plan is archived.", "plan")

    def test_an_expired_project_is_refused_beside_the_field(self) -> None:
        self.project_a1.end_date = timezone.localdate() - datetime.timedelta(days=1)
        self.project_a1.save()
        page = self.login(self.alice).get(f"/marketplace/offerings/{self.offering.uuid.hex}/order/")
        assert "Project A1 (ended" in page.content.decode()
        self.assert_refused(self.order(self.alice), "Project &#x27;Project A1&#x27; is expired.", "project")

    def test_a_blocked_organisation_is_refused_beside_the_field(self) -> None:
        self.org_a.blocked = True
        self.org_a.save()
        self.assert_refused(self.order(self.alice), "Blocked organization is not available.", "project")

    def test_the_api_refuses_the_same_four_and_creates_nothing(self) -> None:
        def post(**changes: Any) -> Any:
            body = {
                "project": self.project_url(self.project_a1),
                "offering": self.offering_url(self.offering),
                "plan": self.plan_url(plan_of(self.offering)),
                "attributes": {"name": "api"},
                "limits": {"storage": 10},
                **changes,
            }
            return self.as_user(self.alice).post("/api/marketplace-orders/", body, format="json")

        assert post(limits={"storage": 5000}).json() == {
            "limits": ["The limit of storage must be at most 1000."]
        }
        Plan.objects.filter(offering=self.offering).update(archived=True)
        assert post().json() == {"plan": ["Plan is archived."]}
        Plan.objects.filter(offering=self.offering).update(archived=False)
        self.org_a.blocked = True
        self.org_a.save()
        assert post().json() == ["Blocked organization is not available."]
        self.org_a.blocked = False
        self.org_a.save()
        self.project_a1.end_date = timezone.localdate()
        self.project_a1.save()
        assert post().json() == ["Project 'Project A1' is expired."]
        assert not Order.objects.exists() and not Resource.objects.exists()

    def test_a_missing_name_and_a_non_number_stay_in_the_form(self) -> None:
        response = self.order(self.alice, name="", limit_storage="lots")
        body = response.content.decode()
        assert response.status_code == 400
        assert "Give the resource a name." in body and "Enter a whole number." in body
        assert not Order.objects.exists()

    def test_an_end_date_is_asked_where_the_offering_requires_one(self) -> None:
        options = {"is_resource_termination_date_required": True}
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options=options)
        missing = self.order(self.alice)
        assert missing.status_code == 400 and "End date of the resource" in missing.content.decode()
        assert not Order.objects.exists()
        day = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
        assert self.order(self.alice, end_date=day).status_code == 302
        assert str(Resource.objects.get().end_date) == day

    def test_terms_of_service_must_be_accepted(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(terms_of_service="Be nice.")
        refused = self.order(self.alice)
        assert (
            refused.status_code == 400 and "Accept the terms of service to order." in refused.content.decode()
        )
        assert self.order(self.alice, accept_terms="on").status_code == 302
        assert Order.objects.count() == 1


class MyOrdersTests(WebTestCase):
    def test_orders_waiting_for_my_approval_come_first_and_i_approve_one(self) -> None:
        waiting = make_order(self.bob, self.project_a1, self.offering, name="bobs-request")
        assert waiting.state == "pending-consumer"
        page = self.login(self.alice).get("/my/orders/").content.decode()
        assert page.index("Waiting for my approval (1)") < page.index("bobs-request")
        confirm = self.login(self.alice).get(f"/my/orders/{waiting.uuid.hex}/approve/")
        assert "Approve this order for your organisation?" in confirm.content.decode()
        done = self.login(self.alice).post(f"/my/orders/{waiting.uuid.hex}/approve/")
        assert done.status_code == 302
        waiting.refresh_from_db()
        assert (waiting.state, waiting.consumer_reviewed_by) == ("pending-provider", self.alice)

    def test_a_member_may_not_approve_and_is_told_why(self) -> None:
        waiting = make_order(self.bob, self.project_a1, self.offering, name="bobs-request")
        page = self.login(self.bob).get(f"/my/orders/{waiting.uuid.hex}/approve/")
        assert "Only organisation owners may approve orders." in page.content.decode()
        refused = self.login(self.bob).post(f"/my/orders/{waiting.uuid.hex}/approve/")
        assert refused.status_code == 403
        waiting.refresh_from_db()
        assert waiting.state == "pending-consumer"

    def test_rejecting_needs_a_reason_which_whoever_asked_sees(self) -> None:
        waiting = make_order(self.bob, self.project_a1, self.offering, name="bobs-request")
        url = f"/my/orders/{waiting.uuid.hex}/reject/"
        assert self.login(self.alice).post(url, {"comment": " "}).status_code == 400
        waiting.refresh_from_db()
        assert waiting.state == "pending-consumer"
        self.login(self.alice).post(url, {"comment": "Use the shared allocation."})
        waiting.refresh_from_db()
        assert (waiting.state, waiting.consumer_rejection_comment) == (
            "rejected",
            "Use the shared allocation.",
        )
        page = self.login(self.bob).get(f"/my/orders/{waiting.uuid.hex}/").content.decode()
        assert "Rejected by the organisation:</strong> Use the shared allocation." in page

    def test_the_providers_reason_is_shown_on_a_rejected_order(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="too-big")
        from efp.marketplace.services import orders as order_services

        order_services.reject_order_by_provider(order=order, user=self.carol, comment="Cluster is full.")
        page = self.login(self.bob).get(f"/my/orders/{order.uuid.hex}/").content.decode()
        assert "Rejected by the provider:</strong> Cluster is full." in page
        assert "rejected by provider" not in page or "Cluster is full." in page

    def test_cancel_and_delete_through_the_services(self) -> None:
        basic = make_order(self.alice, self.project_a1, self.basic, name="consulting", limits={})
        assert self.login(self.erin).post(f"/my/orders/{basic.uuid.hex}/cancel/").status_code == 302
        basic.refresh_from_db()
        assert basic.state == "canceled"
        pending = make_order(self.alice, self.project_a1, self.offering, name="to-delete")
        refused = self.login(self.bob).post(f"/my/orders/{pending.uuid.hex}/delete/")
        assert refused.status_code == 403  # alice placed it: bob, a member, may not withdraw it
        assert "or whoever placed the order, may delete orders." in refused.content.decode()
        response = self.login(self.erin).post(f"/my/orders/{pending.uuid.hex}/delete/")
        assert response.status_code == 302 and response["Location"] == "/my/orders/"
        assert not Order.objects.filter(pk=pending.pk).exists()
        resource = Resource.objects.get(name="to-delete")
        assert resource.state == "Terminated"

    def test_a_member_withdraws_the_order_he_placed_and_is_told_why_not_another(self) -> None:
        his = make_order(self.bob, self.project_a1, self.offering, name="bobs-order")
        hers = make_order(self.alice, self.project_a1, self.offering, name="alices-order")
        page = self.login(self.bob).get("/my/orders/").content.decode()
        mine = page.split('aria-label="Actions for order bobs-order"')[1].split("</ul>")[0]
        assert re.search(r'<a role="menuitem"[^>]*>Delete order</a>', mine)
        theirs = page.split('aria-label="Actions for order alices-order"')[1].split("</ul>")[0]
        assert re.search(r'aria-disabled="true"[^>]*>Delete order</span>', theirs)
        assert "or whoever placed the order, may delete orders." in theirs
        withdrawn = self.login(self.bob).post(f"/my/orders/{his.uuid.hex}/delete/")
        assert withdrawn.status_code == 302 and withdrawn["Location"] == "/my/orders/"
        assert not Order.objects.filter(pk=his.pk).exists()
        assert Order.objects.filter(pk=hers.pk).exists()

    def test_an_outsider_gets_404_on_my_orders(self) -> None:
        order = make_order(self.bob, self.project_a1, self.offering)
        assert self.login(self.dave).get(f"/my/orders/{order.uuid.hex}/").status_code == 404
        assert self.login(self.dave).post(f"/my/orders/{order.uuid.hex}/approve/").status_code == 404
        assert "alloc" not in self.login(self.dave).get("/my/orders/").content.decode()


class MyResourcesTests(WebTestCase):
    def test_it_lists_my_resources_with_usage_against_limits(self) -> None:
        resource = self.resource("climate")
        self.report(resource, cpu=120, storage=4)
        page = self.login(self.bob).get("/my/resources/").content.decode()
        assert "climate" in page and "Storage: 4.00 / 10 TB · 40 %" in page
        assert self.login(self.dave).get("/my/resources/").content.decode().count("climate") == 0
        usage = self.login(self.bob).get(f"/my/resources/{resource.uuid.hex}/usage/")
        assert usage.status_code == 200 and "Report usage" not in usage.content.decode()
        assert self.login(self.dave).get(f"/my/resources/{resource.uuid.hex}/usage/").status_code == 404

    def test_change_limits_asks_to_confirm_then_creates_an_update_order(self) -> None:
        resource = self.resource("climate")
        url = f"/my/resources/{resource.uuid.hex}/limits/"
        review = self.login(self.erin).post(url, {"limit_storage": "25"})
        assert review.status_code == 200 and "Request this change?" in review.content.decode()
        assert not Order.objects.filter(type="Update").exists()
        done = self.login(self.erin).post(url, {"limit_storage": "25", "confirm": "1"})
        order = Order.objects.get(type="Update")
        assert done["Location"] == f"/my/orders/{order.uuid.hex}/"
        assert (order.state, order.limits, order.attributes["old_limits"]) == (
            "pending-consumer",
            {"storage": 25},
            {"storage": 10},
        )

    def test_change_limits_refuses_bounds_and_sameness_and_a_member(self) -> None:
        resource = self.resource("climate")
        url = f"/my/resources/{resource.uuid.hex}/limits/"
        out = self.login(self.erin).post(url, {"limit_storage": "5000", "confirm": "1"})
        assert "The limit of storage must be at most 1000." in out.content.decode()
        same = self.login(self.erin).post(url, {"limit_storage": "10", "confirm": "1"})
        assert "exactly the same" in same.content.decode()
        member = self.login(self.bob).post(url, {"limit_storage": "20", "confirm": "1"})
        assert member.status_code == 403
        assert not Order.objects.filter(type="Update").exists()

    def test_terminate_asks_then_creates_a_terminate_order(self) -> None:
        resource = self.resource("climate")
        url = f"/my/resources/{resource.uuid.hex}/terminate/"
        assert "Terminate climate?" in self.login(self.alice).get(url).content.decode()
        assert self.login(self.alice).post(url).status_code == 302
        order = Order.objects.get(type="Terminate")
        assert (order.resource, order.state) == (resource, "pending-provider")
        again = self.login(self.alice).post(url)
        assert (
            again.status_code == 400
            and "Pending order for resource already exists." in again.content.decode()
        )


class ConsumerListQueryTests(WebTestCase):
    """The number of SQL queries of a list page does not grow with the number of rows."""

    def queries_for(self, user: Any, path: str) -> int:
        client = self.login(user)
        client.get(path)  # warm up the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured.captured_queries)

    def test_my_orders_and_my_resources_keep_the_query_count_flat(self) -> None:
        self.resource("first")
        make_order(self.bob, self.project_a1, self.offering, name="waiting-1")
        few = (self.queries_for(self.alice, "/my/orders/"), self.queries_for(self.erin, "/my/resources/"))
        for i in range(8):
            self.resource(f"more-{i}")
            make_order(self.bob, self.project_a1, self.offering, name=f"waiting-more-{i}")
        many = (self.queries_for(self.alice, "/my/orders/"), self.queries_for(self.erin, "/my/resources/"))
        assert few == many
