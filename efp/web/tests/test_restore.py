"""Restore in the provider workspace: carol, owner of provider P, brings back `alloc`, an allocation of
project A1 on offering O (which allows restore) that was terminated. oscar manages O but may not restore
(Waldur asks for RESOURCE.SET_STATE on the provider's side); alice (owner of A1's organisation) and bob
(a member of A1) have no provider role at all."""

from __future__ import annotations

from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.tests.factories import terminate_now
from efp.web.tests.base import WebTestCase


class RestorePageTestCase(WebTestCase):
    def setUp(self) -> None:
        super().setUp()
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        self.offering.refresh_from_db()
        self.alloc = terminate_now(self.resource("alloc"), self.carol)

    def url(self, resource: Resource | None = None) -> str:  # type: ignore[override]
        return f"/provider/resources/{(resource or self.alloc).uuid.hex}/restore/"

    def state_of(self, resource: Resource) -> str:
        return Resource.objects.get(pk=resource.pk).state


class RestoreTests(RestorePageTestCase):
    def test_it_asks_carol_to_confirm_then_places_the_restore_order(self) -> None:
        client = self.login(self.carol)
        page = client.get(self.url())
        html = page.content.decode()
        assert page.status_code == 200
        assert "<h1>Restore alloc?</h1>" in html
        assert '<button type="submit" class="primary">Restore</button>' in html

        response = client.post(self.url())

        assert response.status_code == 302
        assert response["Location"] == f"/provider/resources/{self.alloc.uuid.hex}/"
        order = Order.objects.get(resource=self.alloc, type="Restore")
        assert (order.created_by, self.state_of(self.alloc)) == (self.carol, "Creating")
        assert "Restore of alloc requested" in client.get(response["Location"]).content.decode()

    def test_it_links_restore_from_the_terminated_resources_page(self) -> None:
        html = self.login(self.carol).get(f"/provider/resources/{self.alloc.uuid.hex}/").content.decode()
        assert f'<a role="menuitem" tabindex="-1" class="menuitem" href="{self.url()}">Restore</a>' in html
        live = self.resource("live")
        html = self.login(self.carol).get(f"/provider/resources/{live.uuid.hex}/").content.decode()
        assert ">Restore<" not in html  # only a terminated resource may be restored

    def test_it_refuses_the_offering_manager_and_says_who_may(self) -> None:
        client = self.login(self.oscar)
        page = client.get(self.url()).content.decode()
        assert "owners" in page and '<button type="submit" class="primary">Restore</button>' not in page
        html = self.login(self.oscar).get(f"/provider/resources/{self.alloc.uuid.hex}/").content.decode()
        assert 'aria-disabled="true"' in html and ">Restore</span>" in html

        response = client.post(self.url())

        assert response.status_code == 403
        assert self.state_of(self.alloc) == "Terminated"
        assert not Order.objects.filter(type="Restore").exists()

    def test_it_refuses_the_consumer_side_with_403(self) -> None:
        for person in (self.alice, self.bob):
            client = self.login(person)
            assert client.get(self.url()).status_code == 403, person
            assert client.post(self.url()).status_code == 403, person
        assert self.state_of(self.alloc) == "Terminated"

    def test_it_refuses_a_resource_that_is_not_terminated_with_409(self) -> None:
        live = self.resource("live")
        response = self.login(self.carol).post(self.url(live))
        assert response.status_code == 409
        assert "Terminated" in response.content.decode()
        assert self.state_of(live) == "OK"

    def test_it_refuses_an_offering_that_does_not_allow_restore(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={})
        client = self.login(self.carol)
        assert 'class="primary">Restore</button>' not in client.get(self.url()).content.decode()
        response = client.post(self.url())
        assert response.status_code == 400
        assert "restore" in response.content.decode().lower()
        assert self.state_of(self.alloc) == "Terminated"

    def test_it_answers_404_for_another_providers_resource(self) -> None:
        assert self.login(self.quinn).get(self.url()).status_code == 404
        assert self.login(self.quinn).post(self.url()).status_code == 404
