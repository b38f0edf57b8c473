"""SLURM partitions of an offering: added, changed and removed by those who may update the offering
(OFFERING.UPDATE: the provider's owners and managers, the offering's managers, staff). Each change writes
`marketplace_offering_updated` naming the partition, in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from efp.errors import Forbidden, InvalidInput
from efp.marketplace import events
from efp.marketplace.event_types import OFFERING_UPDATED
from efp.marketplace.models import Offering, OfferingPartition
from efp.marketplace.models.partitions import SETTINGS
from efp.marketplace.services.agents import can_manage_agents

SETTING_NAMES = frozenset(name for name, _ in SETTINGS)


def may_edit_partitions(user: Any, offering: Offering) -> bool:
    return can_manage_agents(user, offering)


def _check(user: Any, offering: Offering, settings: dict[str, Any]) -> None:
    """`user` None: the system (the demo data, a management command)."""
    if user is not None and not may_edit_partitions(user, offering):
        raise Forbidden()
    unknown = set(settings) - SETTING_NAMES - {"partition_name"}
    if unknown:  # a programming error: the serializers pass only known settings
        raise ValueError(f"unknown partition settings: {sorted(unknown)}")


def _name_taken(offering: Offering, name: str, *, other_than: OfferingPartition | None = None) -> bool:
    same = OfferingPartition.objects.filter(offering=offering, partition_name=name)
    if other_than is not None:
        same = same.exclude(pk=other_than.pk)
    return same.exists()


def _taken() -> InvalidInput:
    return InvalidInput({"partition_name": ["The offering already has a partition of this name."]})


def add_partition(
    *, user: Any, offering: Offering, partition_name: str, **settings: Any
) -> OfferingPartition:
    _check(user, offering, settings)
    if _name_taken(offering, partition_name):
        raise _taken()
    try:
        with transaction.atomic():
            partition = OfferingPartition.objects.create(
                offering=offering, partition_name=partition_name, **settings
            )
            events.offering_created(OFFERING_UPDATED, offering, actor=user, partition_added=partition_name)
    except IntegrityError as error:  # a concurrent add of the same name won the unique constraint
        raise _taken() from error
    return partition


def update_partition(*, user: Any, partition: OfferingPartition, **changes: Any) -> OfferingPartition:
    offering = partition.offering
    _check(user, offering, changes)
    name = changes.get("partition_name")
    if name is not None and _name_taken(offering, name, other_than=partition):
        raise _taken()
    changed = {key: value for key, value in changes.items() if getattr(partition, key) != value}
    if not changed:
        return partition
    try:
        with transaction.atomic():
            for key, value in changed.items():
                setattr(partition, key, value)
            partition.modified = timezone.now()
            partition.save(update_fields=[*changed, "modified"])
            events.offering_created(
                OFFERING_UPDATED, offering, actor=user, partition_updated=partition.partition_name
            )
    except IntegrityError as error:
        raise _taken() from error
    return partition


def remove_partition(*, user: Any, partition: OfferingPartition) -> None:
    offering = partition.offering
    _check(user, offering, {})
    with transaction.atomic():
        name = partition.partition_name
        partition.delete()
        events.offering_created(OFFERING_UPDATED, offering, actor=user, partition_removed=name)
