"""Extension requests: the consumer asks for more months, larger limits or both with a justification
(My resources → Request extension); the provider decides in Orders beside the usage chart and forecast."""

from __future__ import annotations

import datetime

from django.utils import timezone

from efp.marketplace.models import Order, Resource
from efp.marketplace.services import orders as order_services
from efp.web.tests.base import WebTestCase


class ExtensionRequestTests(WebTestCase):
    def url(self, resource: Resource) -> str:  # type: ignore[override]
        return f"/my/resources/{resource.uuid.hex}/extend/"

    def test_my_resources_offers_request_extension(self) -> None:
        resource = self.resource("climate")
        page = self.login(self.alice).get("/my/resources/").content.decode()
        assert f'href="{self.url(resource)}"' in page and "Request extension" in page
        form = self.login(self.alice).get(self.url(resource)).content.decode()
        assert "Justification" in form and 'name="limit_storage"' in form

    def test_it_places_a_renew_order_with_the_justification_and_the_provider_sees_it(self) -> None:
        resource = self.resource("climate")
        end = timezone.localdate() + datetime.timedelta(days=20)
        Resource.objects.filter(pk=resource.pk).update(end_date=end)
        self.report(resource, cpu=120, storage=4)
        body = {
            "extension_months": "3",
            "limit_storage": "30",
            "justification": "Two more runs for the paper.",
        }
        done = self.login(self.alice).post(self.url(resource), body)
        order = Order.objects.get(type="Update")
        assert done["Location"] == f"/my/orders/{order.uuid.hex}/"
        assert order.attributes["action"] == "renew"
        assert order.attributes["justification"] == "Two more runs for the paper."
        assert (order.limits, order.state) == ({"storage": 30}, "pending-provider")

        listed = self.login(self.carol).get("/provider/orders/").content.decode()
        assert (
            "extension request" in listed
            and "+3 months, ends" in listed
            and "Two more runs for the paper." in listed
        )
        page = self.login(self.carol).get(f"/provider/orders/{order.uuid.hex}/").content.decode()
        assert "Two more runs for the paper." in page
        assert "3 months: ends" in page and f"instead of {end.isoformat()}" in page
        assert "<svg" in page and "Usage of climate" in page  # the chart
        assert self.login(self.quinn).get(f"/provider/orders/{order.uuid.hex}/").status_code == 404

        self.login(self.carol).post(f"/provider/orders/{order.uuid.hex}/approve/")
        order.refresh_from_db()
        if order.state != "done":
            order_services.complete_order(order=order, user=self.carol)
        resource.refresh_from_db()
        assert resource.limits == {"storage": 30}
        assert resource.end_date is not None and resource.end_date > end

    def test_it_refuses_no_justification_no_change_a_lower_limit_and_a_member(self) -> None:
        resource = self.resource("climate")
        client = self.login(self.alice)
        empty = client.post(self.url(resource), {"extension_months": "3", "limit_storage": "10"})
        assert empty.status_code == 400 and "This field is required." in empty.content.decode()
        nothing = {"extension_months": "0", "limit_storage": "10", "justification": "Why not"}
        assert (
            "Ask for more months, larger limits or both."
            in client.post(self.url(resource), nothing).content.decode()
        )
        lower = {"extension_months": "1", "limit_storage": "5", "justification": "Less"}
        assert "must not be below the current 10" in client.post(self.url(resource), lower).content.decode()
        member = {"extension_months": "1", "limit_storage": "10", "justification": "More"}
        assert self.login(self.bob).post(self.url(resource), member).status_code == 403
        assert self.login(self.dave).get(self.url(resource)).status_code == 404
        assert not Order.objects.filter(type="Update").exists()

    def test_larger_limits_alone_keep_the_end_date(self) -> None:
        resource = self.resource("climate")
        body = {"extension_months": "0", "limit_storage": "12", "justification": "Bigger input data"}
        self.login(self.alice).post(self.url(resource), body)
        order = Order.objects.get(type="Update")
        assert (order.attributes["extension_months"], order.attributes["new_end_date"]) == (0, None)
        assert (
            "larger limits only"
            in self.login(self.carol).get(f"/provider/orders/{order.uuid.hex}/").content.decode()
        )


class DemoExtensionRequestTests(WebTestCase):
    def test_the_demo_shows_the_provider_one_pending_extension_request_however_often_it_runs(self) -> None:
        from efp.marketplace import demo

        demo.build()
        demo.build()
        [order] = Order.objects.filter(attributes__action="renew")
        assert (order.state, order.resource_name) == ("pending-provider", "materials-dft")
        provider = demo.users()["provider"]
        page = self.login(provider).get(f"/provider/orders/{order.uuid.hex}/").content.decode()
        assert "DFT screening of the second materials batch" in page and "<svg" in page
