"""SLURM partitions of a provider offering, as Waldur serves them: `add_partition/` (201, the partition),
`update_partition/` (PATCH with `partition_uuid`, 200) and `remove_partition/` (POST with `partition_uuid`,
204), and the offering's `partitions` field. QoS options of partitions are not modelled: `qos_options` is
always an empty list (docs/compatibility.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace.api.offerings.partition_serializers import (
    PartitionRemoveSerializer,
    PartitionSerializer,
    PartitionUpdateSerializer,
    PartitionWriteSerializer,
)
from efp.marketplace.models import OfferingPartition
from efp.marketplace.services import partitions as partition_services
from efp.rest.viewsets import acting_user


class PartitionActions:
    """Mixed into ProviderOfferingViewSet (`get_object` is the provider's visible offering: 404)."""

    get_object: Any

    def _editable_offering(self, request: Request) -> Any:
        offering = self.get_object()
        if not partition_services.may_edit_partitions(acting_user(request), offering):
            raise PermissionDenied()
        return offering

    @staticmethod
    def _partition(offering: Any, key: Any) -> OfferingPartition:
        found = OfferingPartition.objects.select_related("offering").filter(offering=offering, uuid=key)
        partition = found.first()
        if partition is None:
            raise ValidationError({"partition_uuid": ["The offering has no partition with this UUID."]})
        return partition

    @extend_schema(request=PartitionWriteSerializer, responses={201: PartitionSerializer})
    @action(detail=True, methods=["post"])
    def add_partition(self, request: Request, uuid: str | None = None) -> Response:
        offering = self._editable_offering(request)
        body = PartitionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        named = data.pop("offering", None)
        if named is not None and named != offering.uuid:
            raise ValidationError({"offering": ["It must be the offering of the URL."]})
        partition = partition_services.add_partition(user=acting_user(request), offering=offering, **data)
        return Response(PartitionSerializer(partition).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PartitionUpdateSerializer, responses={200: PartitionSerializer})
    @action(detail=True, methods=["patch"])
    def update_partition(self, request: Request, uuid: str | None = None) -> Response:
        offering = self._editable_offering(request)
        body = PartitionUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "partition_uuid" not in data:
            raise ValidationError({"partition_uuid": ["This field is required."]})
        partition = self._partition(offering, data.pop("partition_uuid"))
        user = acting_user(request)
        partition = partition_services.update_partition(user=user, partition=partition, **data)
        return Response(PartitionSerializer(partition).data)

    @extend_schema(request=PartitionRemoveSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def remove_partition(self, request: Request, uuid: str | None = None) -> Response:
        offering = self._editable_offering(request)
        body = PartitionRemoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        partition = self._partition(offering, body.validated_data["partition_uuid"])
        partition_services.remove_partition(user=acting_user(request), partition=partition)
        return Response(status=status.HTTP_204_NO_CONTENT)
