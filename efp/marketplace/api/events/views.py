"""`/api/events/` (Waldur's event log): list, retrieve, HEAD count and the event groups; and
`/api/access-events/` (ours), the record of access.

What a user sees is `structure.access.visible_events`: events of organisations where they hold a role,
of their projects, of their offerings (provider side), and those naming them. The record of access is
`structure.access.access_events`: a person's own sign-ins, tokens and role changes (staff: everyone's).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from efp.events.catalogue import GROUPS
from efp.events.models import Event
from efp.marketplace.api.events.filters import AccessEventFilter, EventFilter
from efp.marketplace.api.events.serializers import EventSerializer
from efp.rest.viewsets import ReadOnlyViewSet
from efp.structure.access import access_events, visible_events


class EventViewSet(ReadOnlyViewSet):
    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ("created",)
    rule = staticmethod(visible_events)  # which events the user sees

    def get_queryset(self) -> QuerySet[Event]:
        return (
            self.rule(self.request.user)
            .filter(Event.objects.all())
            .only("uuid", "created", "event_type", "message", "context")
            .order_by("-created", "-pk")
        )

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def event_groups(self, request: Request) -> Response:
        """Each event group with the types it holds (what a hook's `event_groups` subscribes to)."""
        groups: dict[str, Any] = {group: sorted(types) for group, types in sorted(GROUPS.items())}
        return Response(groups)


class AccessEventViewSet(ReadOnlyViewSet):
    serializer_class = EventSerializer
    filterset_class = AccessEventFilter
    ordering_fields = ("created",)
    rule = staticmethod(access_events)
    get_queryset = EventViewSet.get_queryset
