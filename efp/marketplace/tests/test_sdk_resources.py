"""Waldur's SDK against a live server: every resource action we serve, provider and consumer side, and the
usage retrieves. The SDK parses each answer with its own models (a missing or mistyped field throws).

The world (live_world.py): alice owns organisation A with project A1; carol owns provider P, which sells
offering O; oscar manages O; `alloc` is an OK allocation of O in A1.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client.api.marketplace_component_usages import (
    marketplace_component_usages_count,
    marketplace_component_usages_retrieve,
    marketplace_component_usages_set_user_usage,
)
from waldur_api_client.api.marketplace_component_user_usages import (
    marketplace_component_user_usages_count,
    marketplace_component_user_usages_retrieve,
)
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_count,
    marketplace_provider_resources_details_retrieve,
    marketplace_provider_resources_offering_retrieve,
    marketplace_provider_resources_plan_periods_list,
    marketplace_provider_resources_set_as_erred,
    marketplace_provider_resources_set_as_ok,
    marketplace_provider_resources_set_end_date_by_provider,
    marketplace_provider_resources_set_state_ok,
    marketplace_provider_resources_submit_report,
    marketplace_provider_resources_terminate,
    marketplace_provider_resources_unlink,
)
from waldur_api_client.api.marketplace_resources import (
    marketplace_resources_count,
    marketplace_resources_details_retrieve,
    marketplace_resources_list,
    marketplace_resources_offering_retrieve,
    marketplace_resources_plan_periods_list,
    marketplace_resources_retrieve,
    marketplace_resources_switch_plan,
    marketplace_resources_team_list,
    marketplace_resources_update_limits,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    ComponentUserUsageCreateRequest,
    ReportSectionRequest,
    ResourceEndDateByProviderRequest,
    ResourceReportRequest,
    ResourceSetStateErredRequest,
    ResourceState,
    ResourceSwitchPlanRequest,
    ResourceTerminateRequest,
    ResourceUpdateLimitsRequest,
    ResourceUpdateLimitsRequestLimits,
)

from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Order, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.factories import make_resource, make_user
from efp.marketplace.tests.live_world import World, build_world, sdk_client
from efp.structure.roles import Role
from efp.structure.services import grant_project_role


class SdkResourceTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.resource = self.world.resource
        self.carol = sdk_client(self.live_server_url, self.world.carol)
        self.alice = sdk_client(self.live_server_url, self.world.alice)

    def assert_refused(self, call: object, status: int) -> None:
        with self.assertRaises(UnexpectedStatus) as caught:
            call()  # type: ignore[operator]
        assert caught.exception.status_code == status

    def test_it_serves_the_provider_state_actions(self) -> None:
        uuid = self.resource.uuid
        erred = marketplace_provider_resources_set_as_erred.sync_detailed(
            uuid, client=self.carol, body=ResourceSetStateErredRequest(error_message="node down")
        )
        assert erred.status_code == 200
        self.resource.refresh_from_db()
        assert (self.resource.state, self.resource.error_message) == ("Erred", "node down")
        assert marketplace_provider_resources_set_state_ok.sync(uuid, client=self.carol).status
        assert Resource.objects.get(pk=self.resource.pk).state == "OK"
        self.assert_refused(
            lambda: marketplace_provider_resources_set_state_ok.sync(uuid, client=self.carol), 409
        )
        marketplace_provider_resources_set_as_erred.sync_detailed(
            uuid, client=self.carol, body=ResourceSetStateErredRequest()
        )
        assert (
            marketplace_provider_resources_set_as_ok.sync_detailed(uuid, client=self.carol).status_code == 200
        )
        self.resource.refresh_from_db()
        assert (self.resource.state, self.resource.error_message) == ("OK", "")

    def test_it_serves_reports_end_dates_and_plan_periods(self) -> None:
        uuid = self.resource.uuid
        status = marketplace_provider_resources_submit_report.sync(
            uuid,
            client=self.carol,
            body=ResourceReportRequest(report=[ReportSectionRequest(header="Quota", body="Raised to 20 TB")]),
        )
        assert status.status == "Report is submitted"
        end = timezone.localdate() + datetime.timedelta(days=60)
        response = marketplace_provider_resources_set_end_date_by_provider.sync_detailed(
            uuid, client=self.carol, body=ResourceEndDateByProviderRequest(end_date=end)
        )
        assert response.status_code == 200
        self.resource.refresh_from_db()
        assert self.resource.report == [{"header": "Quota", "body": "Raised to 20 TB"}]
        assert self.resource.end_date == end

        usage_services.set_usage(
            user=self.world.carol,
            resource=self.resource,
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal("7.5"))],
        )
        for periods in (
            marketplace_provider_resources_plan_periods_list.sync(uuid, client=self.carol),
            marketplace_resources_plan_periods_list.sync(uuid, client=self.alice),
        ):
            [period] = periods
            assert (period.plan_name, period.end) == ("Standard", None)
            assert [(c.type_, c.usage) for c in period.components] == [("cpu", "7.50")]

    def test_it_serves_the_offering_of_a_resource_on_both_sides(self) -> None:
        uuid = self.resource.uuid
        for offering in (
            marketplace_provider_resources_offering_retrieve.sync(uuid, client=self.carol),
            marketplace_resources_offering_retrieve.sync(uuid, client=self.alice),
        ):
            assert (offering.uuid, offering.name) == (self.world.offering.uuid, "Offering O")
            assert offering.url.endswith(f"/api/marketplace-public-offerings/{self.world.offering.uuid.hex}/")

    def test_it_answers_404_for_details_as_there_are_no_backend_scopes(self) -> None:
        uuid = self.resource.uuid
        self.assert_refused(
            lambda: marketplace_provider_resources_details_retrieve.sync(uuid, client=self.carol), 404
        )
        self.assert_refused(lambda: marketplace_resources_details_retrieve.sync(uuid, client=self.alice), 404)

    def test_it_terminates_from_the_provider_side_and_unlinks_as_staff(self) -> None:
        answer = marketplace_provider_resources_terminate.sync(
            self.resource.uuid, client=self.carol, body=ResourceTerminateRequest()
        )
        order = Order.objects.get(uuid=answer.order_uuid)
        assert (order.type, order.resource_id, order.created_by) == (
            "Terminate",
            self.resource.pk,
            self.world.carol,
        )
        other = make_resource(self.world.alice, self.world.carol, self.resource.project, self.world.offering)
        refused = marketplace_provider_resources_unlink.sync_detailed(other.uuid, client=self.carol)
        assert refused.status_code == 403  # the SDK documents 403 here
        staff = sdk_client(self.live_server_url, self.world.staff)
        assert (
            marketplace_provider_resources_unlink.sync_detailed(other.uuid, client=staff).status_code == 204
        )
        assert not Resource.objects.filter(pk=other.pk).exists()

    def test_it_serves_the_consumer_side(self) -> None:
        member = make_user("bob")
        grant_project_role(project=self.resource.project, user=member, role=Role.PROJECT_MEMBER)
        [listed] = marketplace_resources_list.sync(client=self.alice, state=[ResourceState.OK])
        assert listed.uuid == self.resource.uuid
        assert marketplace_resources_count.sync(client=self.alice) == 1
        assert marketplace_provider_resources_count.sync(client=self.carol) == 1
        assert marketplace_provider_resources_count.sync(client=self.alice) == 0  # not a provider
        detail = marketplace_resources_retrieve.sync(self.resource.uuid, client=self.alice)
        assert (detail.name, detail.state, detail.creation_order.state.value) == (
            "alloc",
            ResourceState.OK,
            "done",
        )
        team = marketplace_resources_team_list.sync(self.resource.uuid, client=self.alice)
        assert [(u.username, u.role) for u in team] == [("bob", Role.PROJECT_MEMBER.value)]

        limits = ResourceUpdateLimitsRequestLimits.from_dict({"storage": 40})
        answer = marketplace_resources_update_limits.sync(
            self.resource.uuid, client=self.alice, body=ResourceUpdateLimitsRequest(limits=limits)
        )
        update = Order.objects.get(uuid=answer.order_uuid)
        assert (update.type, update.limits, update.attributes["old_limits"]) == (
            "Update",
            {"storage": 40},
            {"storage": 10},
        )

        bigger = offering_services.create_plan(offering=self.world.offering, name="Large")
        other = make_resource(
            self.world.alice, self.world.carol, self.resource.project, self.world.offering, name="b"
        )
        offering_url = (
            f"{self.live_server_url}/api/marketplace-public-offerings/{self.world.offering.uuid.hex}"
        )
        plan_url = f"{offering_url}/plans/{bigger.uuid.hex}/"
        answer = marketplace_resources_switch_plan.sync(
            other.uuid, client=self.alice, body=ResourceSwitchPlanRequest(plan=plan_url)
        )
        switch = Order.objects.get(uuid=answer.order_uuid)
        assert (switch.type, switch.plan_id, switch.old_plan_id) == ("Update", bigger.pk, other.plan_id)

    def test_it_serves_usage_retrieves_counts_and_one_users_usage(self) -> None:
        usage_services.set_usage(
            user=self.world.carol,
            resource=self.resource,
            usages=[usage_services.UsageItem(type="cpu", amount=Decimal("12"))],
        )
        usage = ComponentUsage.objects.get(resource=self.resource)
        response = marketplace_component_usages_set_user_usage.sync_detailed(
            usage.uuid, client=self.carol, body=ComponentUserUsageCreateRequest(username="anna", usage="4.25")
        )
        assert response.status_code == 201
        row = ComponentUserUsage.objects.get(component_usage=usage)
        assert (row.username, row.usage) == ("anna", Decimal("4.25"))

        fetched = marketplace_component_usages_retrieve.sync(usage.uuid, client=self.alice)
        assert (fetched.type_, fetched.usage, fetched.resource_uuid) == ("cpu", "12.00", self.resource.uuid)
        user_usage = marketplace_component_user_usages_retrieve.sync(row.uuid, client=self.alice)
        assert (user_usage.username, user_usage.usage, user_usage.component_type) == ("anna", "4.25", "cpu")
        assert marketplace_component_usages_count.sync(client=self.carol) == 1
        assert marketplace_component_user_usages_count.sync(client=self.carol) == 1
        outsider = sdk_client(self.live_server_url, make_user("dave"))
        assert marketplace_component_usages_count.sync(client=outsider) == 0
        self.assert_refused(
            lambda: marketplace_component_user_usages_retrieve.sync(row.uuid, client=outsider), 404
        )
