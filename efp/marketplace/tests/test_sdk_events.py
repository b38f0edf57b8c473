"""Waldur's SDK against a live server: the event log (list with its filters, count, retrieve, groups).

alice owns organisation A, whose allocation carol (provider P) approved and completed; oscar manages the
offering. Answers are parsed by the SDK's `Event` model.
"""

from __future__ import annotations

import datetime

from django.test import LiveServerTestCase
from django.utils import timezone
from waldur_api_client.api.events import (
    events_count,
    events_event_groups_retrieve,
    events_list,
    events_retrieve,
)
from waldur_api_client.models import BackendResourceReqOEnum, EventFieldEnum

from efp.events.models import Event
from efp.marketplace.tests.live_world import World, build_world, sdk_client


class SdkEventTests(LiveServerTestCase):
    world: World

    def setUp(self) -> None:
        self.world = build_world()
        self.alice = sdk_client(self.live_server_url, self.world.alice)
        self.resource = self.world.resource

    def test_it_lists_filters_and_counts_the_events_of_a_resource(self) -> None:
        scope = f"{self.live_server_url}/api/marketplace-resources/{self.resource.uuid.hex}/"
        events = events_list.sync_all(client=self.alice, scope=scope, o=[BackendResourceReqOEnum.CREATED])
        assert [event.event_type for event in events] == [
            "marketplace_order_created",
            "marketplace_resource_create_requested",
            "marketplace_order_updated",
            "marketplace_order_approved",
            "marketplace_order_completed",
            "marketplace_resource_create_succeeded",
        ]
        assert events[-1].message == "Resource alloc has been created."
        assert events[-1].context["resource_uuid"] == self.resource.uuid.hex
        assert events[-1].context["user_username"] == "carol"
        assert events_count.sync(client=self.alice, scope=scope) == len(events)

        since = (timezone.now() - datetime.timedelta(hours=1)).timestamp()
        approved = events_list.sync(
            client=self.alice,
            event_type=["marketplace_order_approved", "marketplace_order_completed"],
            created_from=since,
            project_uuid=self.resource.project.uuid,
            message="marketplace order",
            field=[EventFieldEnum.EVENT_TYPE, EventFieldEnum.UUID],
        )
        assert sorted(str(event.event_type) for event in approved) == [
            "marketplace_order_approved",
            "marketplace_order_completed",
        ]
        assert events_count.sync(client=self.alice, created_to=since) == 0

    def test_it_retrieves_one_event_and_lists_the_groups(self) -> None:
        event = Event.objects.filter(resource_id=self.resource.pk).latest("pk")
        found = events_retrieve.sync(event.uuid.hex, client=self.alice)  # type: ignore[arg-type]  # the SDK types it int
        assert (found.uuid, found.event_type) == (event.uuid, event.event_type)
        groups = events_event_groups_retrieve.sync(client=self.alice)
        assert groups is not None
        assert "marketplace_resource_create_succeeded" in groups.additional_properties["resources"]
