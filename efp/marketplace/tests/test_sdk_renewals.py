"""Waldur's SDK against a live server: `renew`, the consumer's PATCH of the end date and
`set_end_date_by_staff` (docs/compatibility.md "Renewals and end dates").

The world (live_world.py): alice owns organisation A with project A1; carol owns provider P, which sells
offering O; `alloc` is an OK allocation of O in A1.
"""

from __future__ import annotations

import datetime

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client.api.marketplace_resources import (
    marketplace_resources_partial_update,
    marketplace_resources_renew,
    marketplace_resources_set_end_date_by_staff,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    PatchedResourceUpdateRequest,
    ResourceEndDateByProviderRequest,
    ResourceRenewRequest,
    ResourceRenewRequestLimits,
)

from efp.marketplace.models import Order, Resource
from efp.marketplace.tests.live_world import World, build_world, sdk_client


class SdkRenewalTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.resource = self.world.resource
        self.alice = sdk_client(self.live_server_url, self.world.alice)
        self.carol = sdk_client(self.live_server_url, self.world.carol)
        self.staff = sdk_client(self.live_server_url, self.world.staff)

    def test_it_renews_through_an_update_order(self) -> None:
        limits = ResourceRenewRequestLimits.from_dict({"storage": 20})
        answer = marketplace_resources_renew.sync(
            self.resource.uuid,
            client=self.alice,
            body=ResourceRenewRequest(extension_months=6, limits=limits, request_comment="next term"),
        )
        order = Order.objects.get(uuid=answer.order_uuid)
        assert (order.type, order.attributes["action"], order.attributes["extension_months"]) == (
            "Update",
            "renew",
            6,
        )
        assert order.limits == {"storage": 20}
        assert order.request_comment == "next term"

    def test_it_patches_the_end_date_and_lets_staff_set_it(self) -> None:
        end = timezone.localdate() + datetime.timedelta(days=30)
        updated = marketplace_resources_partial_update.sync(
            self.resource.uuid, client=self.alice, body=PatchedResourceUpdateRequest(end_date=end)
        )
        assert updated.end_date == end
        assert Resource.objects.get(pk=self.resource.pk).end_date == end
        later = end + datetime.timedelta(days=1)
        body = ResourceEndDateByProviderRequest(end_date=later)
        with self.assertRaises(UnexpectedStatus) as caught:
            marketplace_resources_set_end_date_by_staff.sync_detailed(
                self.resource.uuid, client=self.alice, body=body
            )
        assert caught.exception.status_code == 403
        response = marketplace_resources_set_end_date_by_staff.sync_detailed(
            self.resource.uuid, client=self.staff, body=body
        )
        assert response.status_code == 200
        assert Resource.objects.get(pk=self.resource.pk).end_date == later
