"""`/api/notifications/` and `/api/notification-preferences/`: ours, not Waldur's (docs/compatibility.md).

A person sees and marks only their own notifications (another's answers 404); the preferences are the
caller's own."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django_filters import BooleanFilter, ChoiceFilter
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from efp.notifications import services
from efp.notifications.mail import absolute
from efp.notifications.models import Delivery, Group, Notification
from efp.rest.fields import HexUUIDField, UTCDateTimeField
from efp.rest.filters import FilterSet
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


class NotificationSerializer(serializers.ModelSerializer):
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    read_at = UTCDateTimeField(read_only=True, allow_null=True)
    emailed_at = UTCDateTimeField(read_only=True, allow_null=True)
    is_read = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    event_uuid = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = (
            "uuid", "created", "kind", "group", "subject", "text", "url", "is_read", "read_at",
            "email_state", "emailed_at", "event_uuid",
        )  # fmt: skip
        read_only_fields = fields

    def get_is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    def get_url(self, obj: Notification) -> str:
        """The object's page in the GUI (absolute), or "" when it has none."""
        return absolute(obj.url)

    def get_event_uuid(self, obj: Notification) -> str | None:
        return obj.event_uuid.hex if getattr(obj, "event_uuid", None) else None  # type: ignore[attr-defined]


class NotificationFilter(FilterSet):
    unread = BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread (true) or read (false)"
    )
    group = ChoiceFilter(choices=Group.choices)

    class Meta:
        model = Notification
        fields: list[str] = []


class NotificationViewSet(ReadOnlyViewSet):
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ("created",)

    def get_queryset(self) -> QuerySet[Notification]:
        return (
            services.notifications_of(self.request.user)
            .annotate(event_uuid=F("event__uuid"))
            .defer("html")
            .order_by("-created", "-pk")
        )

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, uuid: str | None = None) -> Response:
        notification = services.mark_read(notification=self.get_object(), user=acting_user(request))
        row = self.get_queryset().get(pk=notification.pk)
        return Response(NotificationSerializer(row, context=self.get_serializer_context()).data)

    @extend_schema(
        request=None, responses=inline_serializer("ReadAll", {"marked": serializers.IntegerField()})
    )
    @action(detail=False, methods=["post"])
    def read_all(self, request: Request) -> Response:
        return Response({"marked": services.mark_all_read(user=acting_user(request))})


GROUP_FIELDS = {
    group: serializers.ChoiceField(choices=Delivery.choices, required=False) for group in services.GROUPS
}
PreferencesSerializer = type(
    "NotificationPreferencesSerializer", (serializers.Serializer,), dict(GROUP_FIELDS)
)


class NotificationPreferencesView(APIView):
    """The caller's e-mail choice per group: `immediately`, `daily_digest` or `off` (the bell shows all)."""

    @extend_schema(responses={200: PreferencesSerializer}, operation_id="notification_preferences_retrieve")
    def get(self, request: Request) -> Response:
        return Response(services.preferences_of(acting_user(request)))

    @extend_schema(
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer},
        operation_id="notification_preferences_update",
    )
    def put(self, request: Request) -> Response:
        """Sets the groups given; the others stay as they are."""
        body = PreferencesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            services.update_preferences(user=acting_user(request), choices=dict(body.validated_data))
        )
