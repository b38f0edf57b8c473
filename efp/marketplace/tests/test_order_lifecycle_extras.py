import datetime
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from efp.marketplace.models import Offering, Order, OrderEvent
from efp.marketplace.services.orders import release_orders_of_started_projects
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_project, plan_of
from efp.structure.models import Project


class PendingProjectTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.today = timezone.localdate()
        self.project = make_project(self.org_a, "Starts next week")
        Project.objects.filter(pk=self.project.pk).update(start_date=self.today + datetime.timedelta(days=7))
        self.project.refresh_from_db()

    def test_it_parks_an_approved_order_until_the_project_starts(self) -> None:
        order = make_order(self.alice, self.project, self.offering)
        assert order.state == "pending-project"

        assert release_orders_of_started_projects(today=self.today) == []
        order.refresh_from_db()
        assert order.state == "pending-project"

    def test_it_hands_the_order_to_the_provider_once_the_project_started(self) -> None:
        order = make_order(self.alice, self.project, self.offering)

        released = release_orders_of_started_projects(today=self.today + datetime.timedelta(days=7))

        assert [o.pk for o in released] == [order.pk]
        order.refresh_from_db()
        assert order.state == "pending-provider"
        event = OrderEvent.objects.filter(order=order).last()
        assert event is not None
        assert (event.old_state, event.new_state, event.reason) == (
            "pending-project",
            "pending-provider",
            "project started",
        )

    def test_it_releases_orders_when_the_start_date_is_cleared(self) -> None:
        order = make_order(self.alice, self.project, self.offering)
        Project.objects.filter(pk=self.project.pk).update(start_date=None)

        out = StringIO()
        call_command("release_started_projects", stdout=out)

        assert Order.objects.get(pk=order.pk).state == "pending-provider"
        assert "1 order(s) released." in out.getvalue()


class ResourceSlugTests(MarketplaceTestCase):
    def test_it_gives_resources_of_the_same_name_distinct_slugs(self) -> None:
        first = make_order(self.alice, self.project_a1, self.offering, name="Climate runs").resource
        second = make_order(self.alice, self.project_a1, self.offering, name="Climate runs").resource
        unnamed = make_order(self.alice, self.project_a1, self.offering, name="").resource

        assert first is not None and second is not None and unnamed is not None
        assert (first.slug, second.slug, unnamed.slug) == ("climate-runs", "climate-runs-2", "resource")


class MalformedPluginOptionsTests(MarketplaceTestCase):
    def test_it_treats_a_malformed_stored_option_as_unset_when_ordering(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(
            plugin_options={
                "maximal_resource_count_per_project": "many",
                "max_resource_termination_offset_in_days": 10**12,
                "latest_date_for_resource_termination": "2030-02-31",
            }
        )
        response = self.as_user(self.alice).post(
            "/api/marketplace-orders/",
            {
                "project": self.project_url(self.project_a1),
                "offering": self.offering_url(self.offering),
                "plan": self.plan_url(plan_of(self.offering)),
                "attributes": {"name": "tolerant", "end_date": "2031-01-01"},
                "limits": {"storage": 1},
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert Order.objects.filter(attributes__name="tolerant").count() == 1

    def test_it_refuses_malformed_options_in_the_admin(self) -> None:
        self.client.force_login(self.staff)
        self.staff.is_superuser = True
        self.staff.save()
        response = self.client.post(
            f"/admin/marketplace/offering/{self.offering.pk}/change/",
            {"plugin_options": '{"maximal_resource_count_per_project": "many"}'},
        )
        assert response.status_code == 200
        assert b"maximal_resource_count_per_project must be a whole number" in response.content
        self.offering.refresh_from_db()
        assert self.offering.plugin_options == {}
