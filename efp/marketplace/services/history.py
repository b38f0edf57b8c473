"""Tombstones: what a deleting service leaves of an order or a resource (docs/architecture.md, "History").

The deleting service calls `record_deletion` just before it deletes, in its own transaction. The events
of what is deleted stay as they are (they carry its id, which the tombstone keeps with its uuid).
"""

from __future__ import annotations

from typing import Any

from efp.marketplace.models import ComponentUsage, Order, Resource, Tombstone

ORDER_FIELDS = (
    "type", "state", "offering__uuid", "project__uuid", "resource__uuid", "plan__uuid", "attributes",
    "limits", "cost", "backend_id", "request_comment", "created_by__username", "created", "completed_at",
)  # fmt: skip
RESOURCE_FIELDS = (
    "name", "state", "offering__uuid", "project__uuid", "plan__uuid", "attributes", "limits",
    "current_usages", "backend_id", "effective_id", "end_date", "cost", "created",
)  # fmt: skip
USAGE_FIELDS = ("id", "uuid", "component__type", "billing_period", "usage")


def record_deletion(subject: Order | Resource, *, actor: Any, reason: str) -> None:
    """Writes the tombstone of `subject`. A resource takes its orders and usage records with it, so its
    orders get tombstones too and its usage (whose revisions stay) is in its snapshot."""
    deleted_by = actor if getattr(actor, "is_authenticated", False) else None
    stones: list[Tombstone] = []
    if isinstance(subject, Order):
        orders = Order.objects.filter(pk=subject.pk)
        reason_of_orders = reason
    else:
        orders = Order.objects.filter(resource=subject)
        reason_of_orders = f"{reason} (with its resource)"
        row = Resource.objects.filter(pk=subject.pk).values("id", "uuid", *RESOURCE_FIELDS).get()
        row["usages"] = list(ComponentUsage.objects.filter(resource=subject).values(*USAGE_FIELDS))
        row["orders"] = list(orders.values_list("uuid", flat=True))
        stones.append(_stone(Tombstone.Kind.RESOURCE, row, row["name"], deleted_by, reason))
    for row in orders.values("id", "uuid", *ORDER_FIELDS):
        name = str((row["attributes"] or {}).get("name", "") or "")
        stones.append(_stone(Tombstone.Kind.ORDER, row, name, deleted_by, reason_of_orders))
    Tombstone.objects.bulk_create(stones)


def _stone(kind: str, row: dict[str, Any], name: str, deleted_by: Any, reason: str) -> Tombstone:
    object_id, uuid = row.pop("id"), row.pop("uuid")
    return Tombstone(
        kind=kind,
        object_id=object_id,
        uuid=uuid,
        name=name,
        snapshot=row,
        deleted_by=deleted_by,
        reason=reason,
    )
