"""Waldur's own SDK (waldur-api-client 8.1.2) against a live server: what a site agent does every hour."""

from __future__ import annotations

import datetime

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.marketplace_component_usages import (
    marketplace_component_usages_list,
    marketplace_component_usages_set_usage,
    marketplace_component_usages_set_user_usages,
)
from waldur_api_client.api.marketplace_component_user_usages import marketplace_component_user_usages_list
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_list,
    marketplace_provider_resources_refresh_last_sync,
    marketplace_provider_resources_retrieve,
    marketplace_provider_resources_set_backend_id,
    marketplace_provider_resources_set_backend_metadata,
    marketplace_provider_resources_set_limits,
    marketplace_provider_resources_team_list,
)
from waldur_api_client.api.marketplace_resources import marketplace_resources_terminate
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    ComponentUsageCreateRequest,
    ComponentUsageItemRequest,
    ComponentUserUsageBulkCreateRequest,
    ComponentUserUsageCreateRequest,
    ResourceBackendIDRequest,
    ResourceBackendMetadataRequest,
    ResourceBackendMetadataRequestBackendMetadata,
    ResourceSetLimitsRequest,
    ResourceSetLimitsRequestLimits,
    ResourceState,
    ResourceTerminateRequest,
)
from waldur_api_client.models.component_usage_field_enum import ComponentUsageFieldEnum

from efp.marketplace.billing_months import billing_period_of
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Order, UsageRevision
from efp.marketplace.tests.live_world import World, build_world

AGENT = "waldur-site-agent-report/0.7.0"


class SdkUsageTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()

    def client_for(self, user: object) -> AuthenticatedClient:
        return AuthenticatedClient(
            base_url=self.live_server_url,
            token=self.world.token(user),  # type: ignore[arg-type]
            prefix="Token",
            headers={"User-Agent": AGENT},
        )

    def test_it_serves_the_site_agent_report_cycle(self) -> None:
        world, client = self.world, self.client_for(self.world.carol)
        resources = marketplace_provider_resources_list.sync_all(
            client=client, offering_uuid=[world.offering.uuid], state=[ResourceState.OK, ResourceState.ERRED]
        )
        assert [r.uuid for r in resources] == [world.resource.uuid]
        assert resources[0].limit_usage.additional_properties == {"storage": None}

        response = marketplace_component_usages_set_usage.sync_detailed(
            client=client,
            body=ComponentUsageCreateRequest(
                resource=world.resource.uuid,
                usages=[
                    ComponentUsageItemRequest(type_="cpu", amount="12.34", description="sdk"),
                    ComponentUsageItemRequest(type_="storage", amount="3"),
                ],
            ),
        )
        assert response.status_code == 201

        period = billing_period_of(timezone.now())
        usages = marketplace_component_usages_list.sync_all(
            client=client,
            resource_uuid=world.resource.uuid,
            billing_period=period,
            field=[ComponentUsageFieldEnum.UUID, ComponentUsageFieldEnum.TYPE, ComponentUsageFieldEnum.USAGE],
        )
        assert {u.type_: u.usage for u in usages} == {"cpu": "12.34", "storage": "3.00"}
        cpu = next(u for u in usages if u.type_ == "cpu")

        response = marketplace_component_usages_set_user_usages.sync_detailed(
            uuid=cpu.uuid,
            client=client,
            body=ComponentUserUsageBulkCreateRequest(
                usages=[
                    ComponentUserUsageCreateRequest(username="anna", usage="10.00"),
                    ComponentUserUsageCreateRequest(username="ben", usage="2.34"),
                ]
            ),
        )
        assert response.status_code == 201
        user_usages = marketplace_component_user_usages_list.sync_all(
            client=client, resource_uuid=world.resource.uuid, component_usage_billing_period=period
        )
        assert {u.username: u.usage for u in user_usages} == {"anna": "10.00", "ben": "2.34"}
        assert {str(u.component_usage).rstrip("/").rsplit("/", 1)[-1] for u in user_usages} == {cpu.uuid.hex}

        detail = marketplace_provider_resources_retrieve.sync(uuid=world.resource.uuid, client=client)
        assert detail.current_usages.additional_properties == {"cpu": 12.34, "storage": 3.0}
        assert detail.limit_usage.additional_properties == {"storage": 3.0}
        assert detail.order_in_progress is None
        assert detail.creation_order is not None and detail.creation_order.uuid is not None

        assert ComponentUsage.objects.filter(resource=world.resource).count() == 2
        assert ComponentUserUsage.objects.filter(component_usage__resource=world.resource).count() == 2
        assert set(UsageRevision.objects.values_list("source", flat=True)) == {UsageRevision.Source.AGENT}

    def test_it_serves_the_agent_sync_calls(self) -> None:
        world, client = self.world, self.client_for(self.world.oscar)
        status = marketplace_provider_resources_set_backend_id.sync(
            uuid=world.resource.uuid, client=client, body=ResourceBackendIDRequest(backend_id="hpc_alloc")
        )
        assert status.status == "Resource backend_id has been changed."
        limits = ResourceSetLimitsRequestLimits()
        limits.additional_properties = {"storage": 20}
        status = marketplace_provider_resources_set_limits.sync(
            uuid=world.resource.uuid, client=client, body=ResourceSetLimitsRequest(limits=limits)
        )
        assert status.status
        metadata = ResourceBackendMetadataRequestBackendMetadata()
        metadata.additional_properties = {"runtime_state": "active"}
        marketplace_provider_resources_set_backend_metadata.sync(
            uuid=world.resource.uuid,
            client=client,
            body=ResourceBackendMetadataRequest(backend_metadata=metadata),
        )
        response = marketplace_provider_resources_refresh_last_sync.sync_detailed(
            uuid=world.resource.uuid, client=client
        )
        assert response.status_code == 200
        team = marketplace_provider_resources_team_list.sync(uuid=world.resource.uuid, client=client)
        assert team == []
        detail = marketplace_provider_resources_retrieve.sync(uuid=world.resource.uuid, client=client)
        assert (detail.backend_id, detail.limits.additional_properties) == ("hpc_alloc", {"storage": 20})
        assert isinstance(detail.last_sync, datetime.datetime)

    def test_it_terminates_from_the_consumer_side_and_refuses_outsiders(self) -> None:
        world = self.world
        order = marketplace_resources_terminate.sync(
            uuid=world.resource.uuid, client=self.client_for(world.alice), body=ResourceTerminateRequest()
        )
        assert Order.objects.get(uuid=order.order_uuid).type == "Terminate"
        with self.assertRaises(UnexpectedStatus):
            marketplace_provider_resources_retrieve.sync(
                uuid=world.resource.uuid, client=self.client_for(world.alice)
            )
