"""`/api/hooks-web/`, `/api/hooks-email/` and `/api/hooks/` as Waldur serves them, with our additions:
a web hook's `secret` (shown once), its deliveries with their attempts, resending one, sending a test
(docs/compatibility.md, "Hooks")."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import BooleanFilter
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from efp.events.catalogue import BY_NAME, GROUPS
from efp.hooks import services
from efp.hooks.models import DeliveryAttempt, EmailHook, WebHook, WebhookDelivery
from efp.hooks.selectors import hook_deliveries, visible_email_hooks, visible_web_hooks
from efp.rest import csv_export
from efp.rest.fields import HexUUIDField, LinkField, UTCDateTimeField
from efp.rest.filters import FilterSet, IsoDateTimeFilter
from efp.rest.pagination import LinkHeaderPagination
from efp.rest.viewsets import ReadOnlyViewSet, acting_user

EVENT_TYPE_CHOICES = sorted(BY_NAME)
EVENT_GROUP_CHOICES = sorted(GROUPS)


class BaseHookSerializer(serializers.ModelSerializer):
    uuid = HexUUIDField(read_only=True)
    author_uuid = HexUUIDField(source="user.uuid", read_only=True)
    author_fullname = serializers.CharField(source="user.full_name", read_only=True)
    author_username = serializers.CharField(source="user.username", read_only=True)
    author_email = serializers.CharField(source="user.email", read_only=True)
    event_types = serializers.MultipleChoiceField(choices=EVENT_TYPE_CHOICES, required=False)
    event_groups = serializers.MultipleChoiceField(choices=EVENT_GROUP_CHOICES, required=False)
    created = UTCDateTimeField(read_only=True)
    modified = UTCDateTimeField(read_only=True)
    hook_type = serializers.SerializerMethodField()

    FIELDS = (
        "url", "uuid", "is_active", "author_uuid", "event_types", "event_groups", "created", "modified",
        "hook_type", "author_fullname", "author_username", "author_email",
    )  # fmt: skip
    HOOK_TYPE = ""

    def get_hook_type(self, hook: Any) -> str:
        return self.HOOK_TYPE

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data["event_types"] = list(instance.event_types)  # a list in its stored order, not a set
        data["event_groups"] = list(instance.event_groups)
        return data

    def arguments(self) -> dict[str, Any]:
        """The validated body as service keyword arguments (sets become sorted lists)."""
        data = dict(self.validated_data)
        for field in ("event_types", "event_groups"):
            if field in data:
                data[field] = sorted(data[field])
        return data


class WebHookSerializer(BaseHookSerializer):
    url = LinkField("webhook-detail")
    destination_url = serializers.URLField(max_length=2000)
    content_type = serializers.ChoiceField(choices=WebHook.ContentType.values, required=False)
    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=200)
    HOOK_TYPE = "webhook"

    class Meta:
        model = WebHook
        fields = (*BaseHookSerializer.FIELDS, "destination_url", "content_type", "secret")


class CreatedWebHookSerializer(WebHookSerializer):
    """The answer to a create: the hook with its `secret`, shown this once."""

    secret = serializers.CharField(read_only=True)


class EmailHookSerializer(BaseHookSerializer):
    url = LinkField("emailhook-detail")
    email = serializers.EmailField(max_length=320)
    HOOK_TYPE = "email"

    class Meta:
        model = EmailHook
        fields = (*BaseHookSerializer.FIELDS, "email")


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    started = UTCDateTimeField(read_only=True)

    class Meta:
        model = DeliveryAttempt
        fields = ("number", "started", "status_code", "error", "duration_ms")


class DeliverySerializer(serializers.ModelSerializer):
    uuid = HexUUIDField(read_only=True)
    event_uuid = HexUUIDField(source="event.uuid", read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)
    resend_of = HexUUIDField(source="resend_of.uuid", read_only=True, allow_null=True)
    created = UTCDateTimeField(read_only=True)
    next_attempt_at = UTCDateTimeField(read_only=True)
    delivered_at = UTCDateTimeField(read_only=True)
    failed_at = UTCDateTimeField(read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "uuid", "event_type", "event_uuid", "state", "created", "next_attempt_at", "delivered_at",
            "failed_at", "resend_of", "attempts",
        )  # fmt: skip


# --- filters (Waldur's BaseHookFilter, WebHookFilter, EmailHookFilter) ---------------------------


class ContentTypeFilter(django_filters.CharFilter):
    """`json` / `form`, or Waldur's stored numbers 1 / 2 (the SDK sends those)."""

    NUMBERS = {"1": WebHook.ContentType.JSON, "2": WebHook.ContentType.FORM}

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(content_type=self.NUMBERS.get(str(value), str(value)))


class BaseHookFilter(FilterSet):
    author_uuid = django_filters.UUIDFilter(field_name="user__uuid")
    author_fullname = django_filters.CharFilter(method="filter_by_full_name")
    author_username = django_filters.CharFilter(field_name="user__username")
    author_email = django_filters.CharFilter(field_name="user__email")
    is_active = BooleanFilter()
    last_published = IsoDateTimeFilter()
    query = django_filters.CharFilter(method="filter_by_author_query")

    def filter_by_full_name(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        condition = Q()
        for word in value.split():
            condition &= Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word)
        return queryset.filter(condition)

    def filter_by_author_query(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(
            Q(user__first_name__icontains=value)
            | Q(user__last_name__icontains=value)
            | Q(user__username__icontains=value)
            | Q(user__email__icontains=value)
        )


class WebHookFilter(BaseHookFilter):
    destination_url = django_filters.CharFilter()
    content_type = ContentTypeFilter()

    class Meta:
        model = WebHook
        fields: list[str] = []


class EmailHookFilter(BaseHookFilter):
    email = django_filters.CharFilter()

    class Meta:
        model = EmailHook
        fields: list[str] = []


# --- views ---------------------------------------------------------------------------------------


class _HookViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, ReadOnlyViewSet
):
    """Waldur's order of checks: 401, 404 (not one's own hook; staff see all), 400, then the service."""

    ordering_fields = ("created", "modified")

    def perform_destroy(self, instance: Any) -> None:
        services.delete_hook(hook=instance)


class WebHookViewSet(_HookViewSet):
    serializer_class = WebHookSerializer
    filterset_class = WebHookFilter

    def get_queryset(self) -> QuerySet[WebHook]:
        return visible_web_hooks(acting_user(self.request)).order_by("-created", "-pk")

    @extend_schema(responses={201: CreatedWebHookSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = WebHookSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        hook = services.create_web_hook(user=acting_user(request), **body.arguments())
        data = CreatedWebHookSerializer(hook, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        hook = self.get_object()
        body = WebHookSerializer(
            hook,
            data=request.data,
            partial=kwargs.get("partial", False),
            context=self.get_serializer_context(),
        )
        body.is_valid(raise_exception=True)
        hook = services.update_web_hook(hook=hook, **body.arguments())
        return Response(WebHookSerializer(hook, context=self.get_serializer_context()).data)

    @extend_schema(responses=DeliverySerializer(many=True), filters=False)
    @action(detail=True, methods=["get", "head"])
    def deliveries(self, request: Request, uuid: str | None = None) -> Response:
        """The hook's deliveries, newest first, each with its attempts."""
        return self.paged(request, hook_deliveries(self.get_object()), DeliverySerializer)

    @extend_schema(request=None, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_uuid>[^/]+)/resend")
    def resend(self, request: Request, uuid: str | None = None, delivery_uuid: str = "") -> Response:
        """Sends a delivery's event again, as a new delivery with a new X-EFP-Delivery id."""
        hook = self.get_object()
        key = _uuid_or_404(delivery_uuid)
        delivery = get_object_or_404(WebhookDelivery.objects.filter(hook=hook), uuid=key)
        again = services.resend(delivery=delivery)
        return Response(_delivery_data(again), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, uuid: str | None = None) -> Response:
        """Sends a `webhook_test` event to this hook only."""
        delivery = services.send_test(hook=self.get_object(), user=acting_user(request))
        return Response(_delivery_data(delivery), status=status.HTTP_201_CREATED)


def _uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise Http404 from error


def _delivery_data(delivery: WebhookDelivery) -> dict[str, Any]:
    return dict(DeliverySerializer(hook_deliveries(delivery.hook).get(pk=delivery.pk)).data)


class EmailHookViewSet(_HookViewSet):
    serializer_class = EmailHookSerializer
    filterset_class = EmailHookFilter

    def get_queryset(self) -> QuerySet[EmailHook]:
        return visible_email_hooks(acting_user(self.request)).order_by("-created", "-pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = EmailHookSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        hook = services.create_email_hook(user=acting_user(request), **body.arguments())
        data = EmailHookSerializer(hook, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        hook = self.get_object()
        body = EmailHookSerializer(
            hook,
            data=request.data,
            partial=kwargs.get("partial", False),
            context=self.get_serializer_context(),
        )
        body.is_valid(raise_exception=True)
        hook = services.update_email_hook(hook=hook, **body.arguments())
        return Response(EmailHookSerializer(hook, context=self.get_serializer_context()).data)


class _Both(list[Any]):
    """Web and e-mail hooks in one list, newest first, paginated like a queryset."""

    def count(self, *args: Any) -> int:
        return len(self)


class HookSummaryViewSet(viewsets.GenericViewSet):
    """`/api/hooks/`: every hook of the user (staff: all), web and e-mail, with Waldur's base filters."""

    serializer_class = WebHookSerializer
    pagination_class = LinkHeaderPagination
    filter_backends: list[Any] = []

    @extend_schema(
        responses=WebHookSerializer(many=True),
        parameters=[
            OpenApiParameter("author_uuid", OpenApiTypes.UUID),
            OpenApiParameter("author_fullname", OpenApiTypes.STR),
            OpenApiParameter("author_username", OpenApiTypes.STR),
            OpenApiParameter("author_email", OpenApiTypes.STR),
            OpenApiParameter("is_active", OpenApiTypes.BOOL),
            OpenApiParameter("last_published", OpenApiTypes.DATETIME),
            OpenApiParameter("query", OpenApiTypes.STR),
        ],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        user = acting_user(request)
        web = WebHookFilter(request.query_params, queryset=visible_web_hooks(user))
        mail = EmailHookFilter(request.query_params, queryset=visible_email_hooks(user))
        for filterset in (web, mail):
            if not filterset.is_valid():
                raise serializers.ValidationError(filterset.errors)
        hooks = _Both(sorted([*web.qs, *mail.qs], key=lambda hook: hook.created, reverse=True))
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(len(hooks))})
        context = self.get_serializer_context()

        def render(chunk: list[Any]) -> list[dict[str, Any]]:
            return [
                (WebHookSerializer if isinstance(hook, WebHook) else EmailHookSerializer)(
                    hook, context=context
                ).data
                for hook in chunk
            ]

        if csv_export.wants_csv(request):
            kinds = (WebHookSerializer(context=context), EmailHookSerializer(context=context))
            header = list(dict.fromkeys(str(name) for kind in kinds for name in kind.fields))
            return csv_export.serialized(hooks, render, header=header, filename=self.basename)
        return self.get_paginated_response(render(self.paginate_queryset(hooks) or []))


def register(router: Any) -> None:
    router.register("hooks-web", WebHookViewSet, basename="webhook")
    router.register("hooks-email", EmailHookViewSet, basename="emailhook")
    router.register("hooks", HookSummaryViewSet, basename="hook")
