import re

from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.tests.factories import make_order, make_resource, terminate_now
from efp.web.tests.base import WebTestCase


def listed(html: str) -> list[str]:
    return re.findall(r'aria-label="Select order ([^"]+)"', html) + re.findall(
        r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>', html
    )


class OrderListTests(WebTestCase):
    def setUp(self) -> None:
        self.pending = make_order(self.alice, self.project_a1, self.offering, name="waiting")
        self.approved = make_order(self.alice, self.project_a1, self.offering, name="approved")
        order_services.approve_order_by_provider(order=self.approved, user=self.carol)

    def test_it_opens_on_orders_pending_provider_approval(self) -> None:
        html = self.login(self.carol).get("/provider/orders/").content.decode()
        names = re.findall(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>', html)
        assert names == ["waiting"]
        assert (
            'value="pending-provider" id="id_state_1" checked' in html or 'value="pending-provider"' in html
        )

    def test_it_shows_all_states_when_asked(self) -> None:
        html = self.login(self.carol).get("/provider/orders/?filtered=1").content.decode()
        names = re.findall(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>', html)
        assert names == ["approved", "waiting"]  # newest first

    def test_it_keeps_the_valid_filters_when_one_is_invalid(self) -> None:
        response = self.login(self.carol).get("/provider/orders/?created_after=yesterday")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Enter a date as YYYY-MM-DD" in html
        assert re.findall(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>', html) == ["waiting"]

    def test_it_filters_by_type_offering_and_search(self) -> None:
        client = self.login(self.carol)
        html = client.get("/provider/orders/?filtered=1&type=Update").content.decode()
        assert "No orders match these filters." in html
        html = client.get("/provider/orders/?filtered=1&q=appro").content.decode()
        assert re.findall(r'<td data-label="Order"><a href="[^"]+">([^<]+)</a>', html) == ["approved"]
        html = client.get(f"/provider/orders/?filtered=1&offering={self.basic.uuid.hex}").content.decode()
        assert "No orders match these filters." in html

    def test_it_shows_consumer_and_provider_decisions_separately(self) -> None:
        html = self.login(self.carol).get("/provider/orders/?filtered=1").content.decode()
        row = html.split(">approved</a>")[1].split("</tr>")[0]
        consumer = row.split('<span class="decision-side">Consumer:</span>')[1].split("</p>")[0]
        provider = row.split('<span class="decision-side">Provider:</span>')[1].split("</p>")[0]
        assert "Approved by alice" in consumer
        assert "Approved by carol" in provider
        assert "storage: 10 TB" in row

    def test_it_says_which_side_an_order_waits_for(self) -> None:
        asked = make_order(self.bob, self.project_a1, self.offering, name="asked")
        assert asked.state == "pending-consumer"
        html = self.login(self.carol).get("/provider/orders/?filtered=1").content.decode()

        def side(name: str, who: str) -> str:
            row = html.split(f">{name}</a>")[1].split("</tr>")[0]
            return row.split(f'<span class="decision-side">{who}:</span> ')[1].split("</p>")[0].strip()

        assert side("asked", "Consumer") == '<span class="muted">waiting</span>'
        assert side("asked", "Provider") == '<span class="muted">no decision</span>'
        assert side("waiting", "Provider") == '<span class="muted">waiting</span>'
        page = self.login(self.carol).get(f"/provider/orders/{asked.uuid.hex}/").content.decode()
        assert '<dt>Consumer decision</dt><dd><span class="muted">waiting</span>' in page

    def test_it_offers_decisions_only_for_orders_waiting_for_the_provider(self) -> None:
        html = self.login(self.carol).get("/provider/orders/?filtered=1").content.decode()
        waiting = html.split('aria-label="Actions for order waiting"')[1].split("</ul>")[0]
        assert f'href="/provider/orders/{self.pending.uuid.hex}/approve/?next=' in waiting
        decided = html.split('aria-label="Actions for order approved"')[1].split("</ul>")[0]
        assert 'aria-disabled="true"' in decided and "/approve/" not in decided
        reason = "Only orders waiting for the provider allow this; this one is being carried out."
        assert decided.count(reason) == 3
        # Approve and Reject share one visible reason (twice in title="..."), both described by it.
        why = re.findall(r'aria-describedby="(why-[^"]+)"', decided)
        assert len(why) == 2 and why[0] == why[1] and decided.count(f'id="{why[0]}"') == 1
        assert f'href="/provider/orders/{self.approved.uuid.hex}/">View</a>' in decided

    def test_it_lists_only_orders_of_my_offerings(self) -> None:
        theirs = make_order(self.alice, self.project_a1, self.offering_q, name="theirs")
        html = self.login(self.carol).get("/provider/orders/?filtered=1").content.decode()
        assert "theirs" not in html
        assert self.login(self.carol).get(f"/provider/orders/{theirs.uuid.hex}/").status_code == 404
        assert self.login(self.carol).post(f"/provider/orders/{theirs.uuid.hex}/approve/").status_code == 404


class OrderPageTests(WebTestCase):
    def test_it_shows_details_and_the_timeline(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="timeline")
        order_services.reject_order_by_provider(order=order, user=self.carol, comment="Too big for us")
        html = self.login(self.carol).get(f"/provider/orders/{order.uuid.hex}/").content.decode()
        assert "Create order: timeline" in html
        # Built from the events, newest first; states named as the lists and filters do.
        rejected = (
            'Marketplace order has been rejected.</span> <span class="states">(Waiting for the provider → '
            '<strong>Rejected</strong>)</span> by carol: <span class="reason">Too big for us'
        )
        routed = "(Waiting for the consumer → <strong>Waiting for the provider</strong>)</span> by alice"
        created = "Marketplace order has been created.</span> by alice"
        assert html.index(rejected) < html.index(routed) < html.index(created)
        assert "Reason: Too big for us" in html

    def test_it_shows_the_approval_on_the_timeline_after_approving(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="approve-me")
        client = self.login(self.carol)
        page = f"/provider/orders/{order.uuid.hex}/"
        assert "has been approved" not in client.get(page).content.decode()
        client.post(f"{page}approve/")
        html = client.get(page).content.decode()
        approved = "Marketplace order has been approved.</span>"
        assert html.index(approved) < html.index("Marketplace order has been created.")
        assert (
            f'{approved} <span class="states">(Waiting for the provider → '
            "<strong>Being carried out</strong>)</span> by carol" in html
        )
        # The consumer's page reads the same events.
        mine = self.login(self.alice).get(f"/my/orders/{order.uuid.hex}/").content.decode()
        assert approved in mine

    def test_carol_reads_a_restore_order_and_approves_it(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        gone = terminate_now(
            make_resource(self.alice, self.carol, self.project_a1, self.offering, name="gone"), self.carol
        )
        order = order_services.restore_resource(resource=gone, user=self.carol)
        order = order_services.approve_order_by_consumer(order=order, user=self.alice)
        client = self.login(self.carol)
        html = client.get(f"/provider/orders/{order.uuid.hex}/").content.decode()
        assert "Restore the terminated resource <strong>gone</strong> with its limits" in html
        approve = client.get(f"/provider/orders/{order.uuid.hex}/approve/").content.decode()
        assert "Approving starts provisioning of the restored resource." in approve
        client.post(f"/provider/orders/{order.uuid.hex}/approve/")
        assert Order.objects.get(pk=order.pk).state == "executing"
        assert Resource.objects.get(pk=gone.pk).state == "Creating"

    def test_it_forbids_the_order_page_to_consumers(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        assert self.login(self.alice).get(f"/provider/orders/{order.uuid.hex}/").status_code == 403


class ApproveTests(WebTestCase):
    def test_it_asks_for_confirmation_showing_what_is_requested(self) -> None:
        order = make_order(
            self.alice, self.project_a1, self.offering, name="confirm-me", limits={"storage": 42}
        )
        response = self.login(self.carol).get(f"/provider/orders/{order.uuid.hex}/approve/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Approve this create order?" in html
        assert '<td class="num">42 TB' in html
        order.refresh_from_db()
        assert order.state == "pending-provider"

    def test_it_shows_current_and_requested_limits_of_an_update_order(self) -> None:
        resource = self.resource("grow")
        order = order_services.update_resource_limits(
            resource=resource, user=self.alice, limits={"storage": 60}
        )
        html = self.login(self.carol).get(f"/provider/orders/{order.uuid.hex}/approve/").content.decode()
        assert "Current limit" in html
        assert '<td class="num">10 TB</td><td class="num">60 TB <strong>(changed)</strong>' in html
        listing = self.login(self.carol).get("/provider/orders/").content.decode()
        assert "storage: 10 → 60 TB" in listing

    def test_it_approves_through_the_service(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        response = self.login(self.carol).post(f"/provider/orders/{order.uuid.hex}/approve/")
        assert response.status_code == 302
        order.refresh_from_db()
        assert order.state == "executing"
        assert order.provider_reviewed_by == self.carol
        assert order.events.filter(new_state="executing", actor=self.carol).exists()

    def test_it_explains_when_another_provider_user_approved_first(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        client = self.login(self.carol)
        assert client.get(f"/provider/orders/{order.uuid.hex}/approve/").status_code == 200
        order_services.approve_order_by_provider(order=order, user=self.oscar)
        response = client.post(f"/provider/orders/{order.uuid.hex}/approve/")
        assert response.status_code == 409
        html = response.content.decode()
        assert "no longer waiting for provider approval" in html
        assert "oscar decided on" in html
        assert "Traceback" not in html

    def test_it_refuses_a_reader(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        response = self.login(self.rita).post(f"/provider/orders/{order.uuid.hex}/approve/")
        assert response.status_code == 403
        assert "You may not approve orders of this offering." in response.content.decode()
        order.refresh_from_db()
        assert order.state == "pending-provider"

    def test_it_refuses_consumers(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        assert self.login(self.alice).post(f"/provider/orders/{order.uuid.hex}/approve/").status_code == 403
        order.refresh_from_db()
        assert order.state == "pending-provider"


class RejectTests(WebTestCase):
    def test_it_requires_a_reason(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        response = self.login(self.carol).post(
            f"/provider/orders/{order.uuid.hex}/reject/", {"comment": "  "}
        )
        assert response.status_code == 400
        assert "Give a reason: the consumer sees it." in response.content.decode()
        order.refresh_from_db()
        assert order.state == "pending-provider"

    def test_it_rejects_and_stores_the_reason(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="nope")
        client = self.login(self.carol)
        assert client.get(f"/provider/orders/{order.uuid.hex}/reject/").status_code == 200
        response = client.post(f"/provider/orders/{order.uuid.hex}/reject/", {"comment": "No capacity left"})
        assert response.status_code == 302
        order.refresh_from_db()
        assert order.state == "rejected"
        assert order.provider_rejection_comment == "No capacity left"
        assert order.provider_reviewed_by == self.carol
        page = client.get(response["Location"]).content.decode()
        assert "Reason: No capacity left" in page

    def test_it_explains_a_reject_after_someone_else_decided(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering)
        order_services.approve_order_by_provider(order=order, user=self.oscar)
        response = self.login(self.carol).post(
            f"/provider/orders/{order.uuid.hex}/reject/", {"comment": "late"}
        )
        assert response.status_code == 409
        assert "can no longer be rejected" in response.content.decode()


class BulkTests(WebTestCase):
    def setUp(self) -> None:
        self.first = make_order(self.alice, self.project_a1, self.offering, name="first")
        self.second = make_order(self.alice, self.project_a1, self.offering, name="second")

    def test_it_confirms_before_a_bulk_approval(self) -> None:
        response = self.login(self.carol).post(
            "/provider/orders/bulk/",
            {"action": "approve", "order": [self.first.uuid.hex, self.second.uuid.hex]},
        )
        assert response.status_code == 200
        assert "Approve 2 orders?" in response.content.decode()
        assert set(Order.objects.values_list("state", flat=True)) == {"pending-provider"}

    def test_it_approves_several_orders_with_a_result_per_order(self) -> None:
        order_services.approve_order_by_provider(order=self.second, user=self.oscar)
        response = self.login(self.carol).post(
            "/provider/orders/bulk/",
            {"action": "approve", "confirm": "1", "order": [self.first.uuid.hex, self.second.uuid.hex]},
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "1 of 2 orders approved" in html
        assert "no longer waiting for provider approval" in html
        self.first.refresh_from_db()
        assert self.first.state == "executing"

    def test_it_needs_a_reason_for_a_bulk_rejection(self) -> None:
        client = self.login(self.carol)
        data = {"action": "reject", "confirm": "1", "order": [self.first.uuid.hex, self.second.uuid.hex]}
        response = client.post("/provider/orders/bulk/", data)
        assert response.status_code == 400
        assert set(Order.objects.values_list("state", flat=True)) == {"pending-provider"}
        response = client.post("/provider/orders/bulk/", {**data, "comment": "Closed for maintenance"})
        assert "2 of 2 orders rejected" in response.content.decode()
        assert set(Order.objects.values_list("provider_rejection_comment", flat=True)) == {
            "Closed for maintenance"
        }

    def test_it_skips_orders_i_cannot_see(self) -> None:
        theirs = make_order(self.alice, self.project_a1, self.offering_q, name="theirs")
        response = self.login(self.carol).post(
            "/provider/orders/bulk/",
            {"action": "approve", "confirm": "1", "order": [theirs.uuid.hex, "junk"]},
        )
        assert response.status_code == 302
        theirs.refresh_from_db()
        assert theirs.state == "pending-provider"

    def test_it_refuses_consumers(self) -> None:
        response = self.login(self.alice).post(
            "/provider/orders/bulk/", {"action": "approve", "confirm": "1", "order": [self.first.uuid.hex]}
        )
        assert response.status_code == 403
