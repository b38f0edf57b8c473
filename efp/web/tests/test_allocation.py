"""The allocation page of a resource (issue 17, point 1): `/provider/resources/<uuid>/` for the provider,
`/my/resources/<uuid>/` for the consumer; the lists link a resource's name to it."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from efp.accounts.models import User
from efp.marketplace.models import OfferingComponent, Order, ResourceEndpoint
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests.factories import make_user
from efp.structure.roles import Role
from efp.structure.services import grant_project_role
from efp.web.tests.base import WebTestCase


class AllocationPageTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("climate")
        self.provider_page = f"/provider/resources/{self.alloc.uuid.hex}/"
        self.consumer_page = f"/my/resources/{self.alloc.uuid.hex}/"

    def status(self, user: User | None, path: str) -> int:
        return self.login(user).get(path).status_code

    def test_it_shows_the_provider_page_to_the_provider_side_only(self) -> None:
        for user in (self.carol, self.oscar, self.rita, self.staff):
            assert self.status(user, self.provider_page) == 200, user
        assert self.status(self.quinn, self.provider_page) == 404  # another provider
        for user in (self.alice, self.erin, self.bob, self.dave):  # no provider role at all
            assert self.status(user, self.provider_page) == 403, user
        assert self.status(None, self.provider_page) == 302

    def test_it_shows_the_consumer_page_to_the_project_side_only(self) -> None:
        for user in (self.alice, self.erin, self.bob, self.staff):
            assert self.status(user, self.consumer_page) == 200, user
        for user in (self.dave, self.carol, self.oscar, self.quinn):
            assert self.status(user, self.consumer_page) == 404, user
        assert self.status(None, self.consumer_page) == 302

    def test_it_answers_404_for_an_unknown_or_malformed_uuid(self) -> None:
        for path in ("/provider/resources/0123456789abcdef0123456789abcdef/", "/provider/resources/nope/"):
            assert self.status(self.carol, path) == 404, path
        for path in ("/my/resources/0123456789abcdef0123456789abcdef/", "/my/resources/nope/"):
            assert self.status(self.alice, path) == 404, path

    def test_it_labels_usage_with_the_limit_period(self) -> None:
        OfferingComponent.objects.filter(offering=self.offering, type="storage").update(
            limit_period=OfferingComponent.LimitPeriod.TOTAL
        )
        self.alloc.limits = {"storage": 10}
        self.alloc.save(update_fields=["limits"])
        self.report(self.alloc, cpu=3, storage=4)
        html = self.login(self.carol).get(self.provider_page).content.decode()
        assert '4.00 TB <span class="period">in total</span>' in html
        assert '3.00 core-hours <span class="period">this month</span>' in html
        assert "40 % (within the limit)" in html

    def test_it_shows_the_forecast_and_the_usage_flags(self) -> None:
        self.alloc.limits = {"storage": 2}
        self.alloc.save(update_fields=["limits"])
        self.report(self.alloc, storage=5)
        refresh_forecasts(resource_ids=[self.alloc.pk])
        html = self.login(self.alice).get(self.consumer_page).content.decode()
        assert "Over a limit" in html
        assert "runs out on <strong>" in html

    def test_it_shows_team_accounts_endpoints_and_metadata(self) -> None:
        create_offering_user(actor=self.carol, offering=self.offering, user=self.bob, username="bob_o")
        ResourceEndpoint.objects.create(resource=self.alloc, name="Login node", url="ssh://login.example")
        self.alloc.backend_metadata = {"cluster": "aurora"}
        self.alloc.attributes = {"purpose": "ensembles"}
        self.alloc.save(update_fields=["backend_metadata", "attributes"])
        html = self.login(self.carol).get(self.provider_page).content.decode()
        for text in ("bob_o", "erin", "ssh://login.example", "aurora", "ensembles", "purpose"):
            assert text in html, text

    def test_it_lists_the_orders_newest_first_linked_to_their_side(self) -> None:
        update = order_services.update_resource_limits(
            resource=self.alloc, user=self.alice, limits={"storage": 7}
        )
        create = Order.objects.filter(resource=self.alloc).exclude(pk=update.pk).get()
        provider = self.login(self.carol).get(self.provider_page).content.decode()
        assert provider.index(f"/provider/orders/{update.uuid.hex}/") < provider.index(
            f"/provider/orders/{create.uuid.hex}/"
        )
        consumer = self.login(self.bob).get(self.consumer_page).content.decode()
        assert f"/my/orders/{update.uuid.hex}/" in consumer
        assert "/provider/orders/" not in consumer

    def test_it_says_the_states_in_words(self) -> None:
        update = order_services.update_resource_limits(
            resource=self.alloc, user=self.alice, limits={"storage": 7}
        )
        assert update.state == "pending-provider"
        html = self.login(self.carol).get(self.provider_page).content.decode()
        assert "Waiting for the provider" in html and "Pending Provider" not in html
        assert ">Active</span>" in html and ">OK</span>" not in html  # the resource's own state, in words

    def test_it_shows_the_timeline(self) -> None:
        self.report(self.alloc, cpu=3)
        html = self.login(self.carol).get(self.provider_page).content.decode()
        assert 'class="timeline"' in html
        assert "No events recorded." not in html

    def test_it_offers_the_lists_actions_with_their_refusals(self) -> None:
        provider = self.login(self.rita).get(self.provider_page).content.decode()  # a reader: may not act
        assert "Set backend ID" in provider and 'aria-disabled="true"' in provider
        assert f"/provider/resources/{self.alloc.uuid.hex}/usage/" in provider
        member = self.login(self.bob).get(self.consumer_page).content.decode()
        assert "Terminate" in member and 'aria-disabled="true"' in member
        owner = self.login(self.alice).get(self.consumer_page).content.decode()
        assert f"/my/resources/{self.alloc.uuid.hex}/terminate/" in owner

    def test_it_keeps_the_query_count_flat(self) -> None:
        def queries(user: User, path: str) -> int:
            client = self.login(user)
            client.get(path)
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200
            return len(captured.captured_queries)

        few = (queries(self.carol, self.provider_page), queries(self.alice, self.consumer_page))
        for i in range(6):
            grant_project_role(
                project=self.project_a1, user=make_user(f"member{i}"), role=Role.PROJECT_MEMBER
            )
            ResourceEndpoint.objects.create(resource=self.alloc, name=f"node {i}", url=f"ssh://n{i}")
            self.report(self.alloc, cpu=i + 1)
        order_services.update_resource_limits(resource=self.alloc, user=self.alice, limits={"storage": 9})
        many = (queries(self.carol, self.provider_page), queries(self.alice, self.consumer_page))
        assert few == many, (few, many)
        assert max(many) <= 30, many


class ListsLinkToTheAllocationPageTests(WebTestCase):
    def test_it_links_resource_names_in_both_lists(self) -> None:
        alloc = self.resource("climate")
        provider = self.login(self.carol).get("/provider/resources/").content.decode()
        assert f'href="/provider/resources/{alloc.uuid.hex}/"' in provider
        consumer = self.login(self.alice).get("/my/resources/").content.decode()
        assert f'href="/my/resources/{alloc.uuid.hex}/"' in consumer

    def test_it_links_the_resource_from_orders_and_order_pages(self) -> None:
        alloc = self.resource("climate")
        order = Order.objects.get(resource=alloc)
        for path, link in (
            ("/provider/orders/?filtered=1&state=done", f"/provider/resources/{alloc.uuid.hex}/"),
            (f"/provider/orders/{order.uuid.hex}/", f"/provider/resources/{alloc.uuid.hex}/"),
        ):
            assert f'href="{link}"' in self.login(self.carol).get(path).content.decode(), path
        for path in ("/my/orders/", f"/my/orders/{order.uuid.hex}/"):
            html = self.login(self.alice).get(path).content.decode()
            assert f'href="/my/resources/{alloc.uuid.hex}/"' in html, path

    def test_it_labels_the_big_number_of_the_expanded_row(self) -> None:
        alloc = self.resource("climate")
        self.report(alloc, cpu=3)
        html = self.login(self.carol).get("/provider/resources/").content.decode()
        assert '<span class="period">this month</span>' in html
