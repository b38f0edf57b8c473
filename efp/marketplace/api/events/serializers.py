"""The representation of `/api/events/` (Waldur's `EventSerializer`: uuid, created, event_type, message,
context)."""

from __future__ import annotations

from rest_framework import serializers

from efp.events.models import Event
from efp.rest.fields import HexUUIDField, SparseFieldsMixin, UTCDateTimeField


class EventSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)

    class Meta:
        model = Event
        fields = ("uuid", "created", "event_type", "message", "context")
        read_only_fields = fields
