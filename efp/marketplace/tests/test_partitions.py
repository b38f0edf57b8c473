"""SLURM partitions of an offering (issue 19, point 3), through Waldur's SDK as the site agent's SLURM plugin
and a provider's scripts use them.

carol owns provider P and its offerings O and B; oscar manages O (and so is a service manager of P);
alice owns a consumer organisation, where erin administers a project;
dave is an outsider.
"""

from __future__ import annotations

from typing import Any

from waldur_api_client.api.marketplace_provider_offerings import (
    marketplace_provider_offerings_add_partition,
    marketplace_provider_offerings_remove_partition,
    marketplace_provider_offerings_retrieve,
    marketplace_provider_offerings_update_partition_partial_update,
)
from waldur_api_client.models import (
    OfferingPartitionRequest,
    PatchedOfferingPartitionUpdateRequest,
    ProviderOfferingDetailsFieldEnum,
    RemovePartitionRequest,
)

from efp.events.models import Event
from efp.marketplace.models import OfferingPartition
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.test_site_agent_api import sdk, status_of

ADD = marketplace_provider_offerings_add_partition.sync
UPDATE = marketplace_provider_offerings_update_partition_partial_update.sync
REMOVE = marketplace_provider_offerings_remove_partition.sync_detailed


class PartitionTests(MarketplaceTestCase):
    def add(self, user: Any, name: str = "gpu", offering: Any = None, **settings: Any) -> Any:
        offering = offering or self.offering
        body = OfferingPartitionRequest(offering=offering.uuid, partition_name=name, **settings)
        return ADD(uuid=offering.uuid, client=sdk(user), body=body)

    def partitions_the_agent_reads(self, user: Any) -> list[Any]:
        """What waldur-site-agent's processor asks for at start (processors.py: `field=` with PARTITIONS)."""
        offering = marketplace_provider_offerings_retrieve.sync(
            uuid=self.offering.uuid,
            client=sdk(user),
            field=[ProviderOfferingDetailsFieldEnum.PARTITIONS, ProviderOfferingDetailsFieldEnum.COMPONENTS],
        )
        return list(offering.partitions)

    def test_the_offering_manager_adds_changes_and_removes_a_partition_the_agent_then_reads(self) -> None:
        added = self.add(self.oscar, "gpu", gpu_arch="nvidia/cc90", max_time=2880, exclusive_user=True)
        assert (added.partition_name, added.gpu_arch, added.max_time) == ("gpu", "nvidia/cc90", 2880)
        assert added.exclusive_user is True and added.offering == self.offering.uuid
        assert added.offering_name == "Offering O" and added.qos_options == []
        self.add(self.carol, "cpu", cpu_arch="x86_64/amd/zen3")

        seen = self.partitions_the_agent_reads(self.oscar)
        assert [p.partition_name for p in seen] == ["cpu", "gpu"]
        assert seen[1].max_time == 2880 and seen[1].uuid == added.uuid

        body = PatchedOfferingPartitionUpdateRequest(partition_uuid=added.uuid, max_time=1440, qos="high")
        changed = UPDATE(uuid=self.offering.uuid, client=sdk(self.oscar), body=body)
        assert (changed.max_time, changed.qos, changed.gpu_arch) == (1440, "high", "nvidia/cc90")

        gone = REMOVE(
            uuid=self.offering.uuid,
            client=sdk(self.oscar),
            body=RemovePartitionRequest(partition_uuid=added.uuid),
        )
        assert gone.status_code == 204
        assert [p.partition_name for p in self.partitions_the_agent_reads(self.carol)] == ["cpu"]

        told = Event.objects.filter(event_type="marketplace_offering_updated").order_by("pk")
        contexts = [event.context for event in told]
        assert [c.get("partition_added") for c in contexts if "partition_added" in c] == ["gpu", "cpu"]
        assert [c.get("partition_updated") for c in contexts if "partition_updated" in c] == ["gpu"]
        assert [c.get("partition_removed") for c in contexts if "partition_removed" in c] == ["gpu"]

    def test_only_who_may_update_the_offering_may_touch_its_partitions(self) -> None:
        body = OfferingPartitionRequest(offering=self.basic.uuid, partition_name="gpu")
        # Outside the provider, the offering is not there to see.
        for who in (self.alice, self.erin, self.dave):
            assert status_of(ADD, uuid=self.basic.uuid, client=sdk(who), body=body) == 404
        assert self.add(self.staff, "gpu", offering=self.basic).partition_name == "gpu"
        # Managing O made oscar a service manager of P (Waldur's rule), who may update all of P's offerings.
        assert self.add(self.oscar, "cpu", offering=self.basic).partition_name == "cpu"
        assert OfferingPartition.objects.filter(offering=self.basic).count() == 2

    def test_bad_input_is_refused_with_field_errors_and_changes_nothing(self) -> None:
        self.add(self.carol, "gpu")
        client = self.as_user(self.carol)
        base = f"/api/marketplace-provider-offerings/{self.offering.uuid.hex}"
        cases = [
            ({"partition_name": "gpu"}, "partition_name"),  # the offering has one of this name
            ({}, "partition_name"),
            ({"partition_name": "x" * 65}, "partition_name"),
            ({"partition_name": "gpu;rm"}, "partition_name"),  # not a SLURM name: the agent would refuse it
            ({"partition_name": "big", "qos": "high prio"}, "qos"),
            ({"partition_name": "big", "max_nodes": -1}, "max_nodes"),
            ({"partition_name": "big", "max_nodes": "many"}, "max_nodes"),
            ({"partition_name": "big", "offering": self.basic.uuid.hex}, "offering"),
        ]
        for body, field in cases:
            answer = client.post(f"{base}/add_partition/", body, format="json")
            assert answer.status_code == 400, (body, answer.content)
            assert field in answer.json(), (body, answer.json())
        assert list(OfferingPartition.objects.values_list("partition_name", flat=True)) == ["gpu"]

        other = self.add(self.carol, "cpu")
        for body, field in [
            ({"partition_uuid": other.uuid.hex, "partition_name": "gpu"}, "partition_name"),
            ({"max_time": 5}, "partition_uuid"),
            ({"partition_uuid": "0" * 32, "max_time": 5}, "partition_uuid"),
        ]:
            answer = client.patch(f"{base}/update_partition/", body, format="json")
            assert answer.status_code == 400 and field in answer.json(), (body, answer.content)
        answer = client.post(f"{base}/remove_partition/", {"partition_uuid": "0" * 32}, format="json")
        assert answer.status_code == 400 and "partition_uuid" in answer.json()
        # A partition of another offering is not found through this one.
        stranger = self.add(self.carol, "gpu", offering=self.basic)
        answer = client.post(
            f"{base}/remove_partition/", {"partition_uuid": stranger.uuid.hex}, format="json"
        )
        assert answer.status_code == 400
        assert OfferingPartition.objects.count() == 3
