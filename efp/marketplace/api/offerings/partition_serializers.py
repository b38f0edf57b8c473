"""The representations of an offering's SLURM partitions (Waldur's OfferingPartition and NestedPartition)
and the bodies of their actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from efp.marketplace.api.common import WaldurModelSerializer
from efp.marketplace.models import OfferingPartition
from efp.marketplace.models.partitions import SETTINGS
from efp.rest.fields import HexUUIDField

SETTING_FIELDS = tuple(name for name, _ in SETTINGS)


class PartitionQosSerializer(serializers.Serializer):
    uuid = HexUUIDField(read_only=True)
    qos = HexUUIDField(read_only=True)
    qos_name = serializers.CharField(read_only=True)
    is_default = serializers.BooleanField(read_only=True)


class NestedPartitionSerializer(WaldurModelSerializer):
    """A partition inside an offering's representation."""

    qos_options = serializers.SerializerMethodField()

    class Meta:
        model = OfferingPartition
        fields = ("uuid", "partition_name", *SETTING_FIELDS, "qos_options")
        read_only_fields = fields

    @extend_schema_field(PartitionQosSerializer(many=True))
    def get_qos_options(self, partition: OfferingPartition) -> list[Any]:
        return []


class PartitionSerializer(NestedPartitionSerializer):
    offering = HexUUIDField(source="offering.uuid", read_only=True)
    offering_name = serializers.CharField(source="offering.name", read_only=True)

    class Meta(NestedPartitionSerializer.Meta):
        fields = ("uuid", "created", "modified", "offering", "offering_name", "partition_name",
                  *SETTING_FIELDS, "qos_options")  # fmt: skip
        read_only_fields = fields


class PartitionWriteSerializer(serializers.ModelSerializer):
    """The settings a request may give; `offering` (the SDK sends it) must name the offering of the URL."""

    offering = HexUUIDField(required=False, write_only=True)

    class Meta:
        model = OfferingPartition
        fields = ("offering", "partition_name", *SETTING_FIELDS)
        # The unique name per offering is checked by the service, which knows the offering.
        validators: list[Any] = []


class PartitionUpdateSerializer(PartitionWriteSerializer):
    partition_uuid = HexUUIDField(write_only=True)

    class Meta(PartitionWriteSerializer.Meta):
        fields = ("partition_uuid", "partition_name", *SETTING_FIELDS)
        extra_kwargs = {"partition_name": {"required": False}}


class PartitionRemoveSerializer(serializers.Serializer):
    partition_uuid = HexUUIDField()
