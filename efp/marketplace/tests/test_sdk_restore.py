"""Waldur's SDK against a live server: restoring a terminated allocation, and its Restore order going
through the calls the site agent makes (list, set executing, set done), each parsed by the SDK's models.

The world (live_world.py): alice owns organisation A with project A1; carol owns provider P, which sells
the site-agent offering O (here with `can_restore_resource`); `alloc` is an allocation of O in A1 that
carol has terminated.
"""

from __future__ import annotations

from django.test import LiveServerTestCase
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_consumer,
    marketplace_orders_list,
    marketplace_orders_retrieve,
    marketplace_orders_set_state_done,
    marketplace_orders_set_state_executing,
)
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_restore,
    marketplace_provider_resources_retrieve,
)
from waldur_api_client.api.marketplace_resources import marketplace_resources_restore
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import OrderState, RequestTypes, ResourceRequest, ResourceState

from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.tests.factories import terminate_now
from efp.marketplace.tests.live_world import World, build_world, sdk_client


class SdkRestoreTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        Offering.objects.filter(pk=self.world.offering.pk).update(
            plugin_options={"can_restore_resource": True}
        )
        self.alloc = terminate_now(self.world.resource, self.world.carol)
        self.carol = sdk_client(self.live_server_url, self.world.carol)
        self.alice = sdk_client(self.live_server_url, self.world.alice)
        self.agent = sdk_client(self.live_server_url, self.world.carol, user_agent="waldur-site-agent/1.0.7")
        # The SDK's restore sends a resource body; the server reads nothing of it.
        self.body = ResourceRequest(offering=self.world.offering.uuid.hex, name=self.alloc.name)

    def test_carol_restores_alloc_and_the_agent_completes_the_restore_order(self) -> None:
        placed = marketplace_provider_resources_restore.sync(
            self.alloc.uuid, client=self.carol, body=self.body
        )
        order = Order.objects.get(uuid=placed.order_uuid)
        assert order.type == "Restore"
        assert Resource.objects.get(pk=self.alloc.pk).state == "Creating"
        assert marketplace_orders_approve_by_consumer.sync(order.uuid, client=self.alice).detail
        # The agent polls its offering's pending and executing orders, as processors.py does.
        listed = marketplace_orders_list.sync_all(
            client=self.agent,
            offering_uuid=self.world.offering.uuid,
            state=[OrderState.PENDING_PROVIDER, OrderState.EXECUTING],
        )
        assert [(o.uuid, o.type_) for o in listed] == [(order.uuid, RequestTypes.RESTORE)]
        assert listed[0].marketplace_resource_uuid == self.alloc.uuid
        resource = marketplace_provider_resources_retrieve.sync(self.alloc.uuid, client=self.agent)
        assert resource.state == ResourceState.CREATING
        assert (
            marketplace_orders_set_state_executing.sync_detailed(order.uuid, client=self.agent).status_code
            == 200
        )
        assert marketplace_orders_retrieve.sync(order.uuid, client=self.agent).state == OrderState.EXECUTING
        assert (
            marketplace_orders_set_state_done.sync_detailed(order.uuid, client=self.agent).status_code == 200
        )
        resource = marketplace_provider_resources_retrieve.sync(self.alloc.uuid, client=self.agent)
        assert resource.state == ResourceState.OK

    def test_the_consumer_endpoint_restores_for_staff_and_refuses_the_consumer(self) -> None:
        with self.assertRaises(UnexpectedStatus) as caught:
            marketplace_resources_restore.sync(self.alloc.uuid, client=self.alice, body=self.body)
        assert caught.exception.status_code == 403
        staff = sdk_client(self.live_server_url, self.world.staff)
        placed = marketplace_resources_restore.sync(self.alloc.uuid, client=staff, body=self.body)
        assert Order.objects.get(uuid=placed.order_uuid).state == "pending-provider"
        with self.assertRaises(UnexpectedStatus) as caught:
            marketplace_resources_restore.sync(self.alloc.uuid, client=staff, body=self.body)
        assert caught.exception.status_code == 409  # Creating now
