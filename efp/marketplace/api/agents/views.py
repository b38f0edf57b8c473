"""`/api/marketplace-site-agent-*` and `/api/marketplace-offering-users/`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.accounts.services import issue_token
from efp.marketplace import selectors
from efp.marketplace.api.agents.filters import AgentIdentityFilter, AgentServiceFilter, OfferingUserFilter
from efp.marketplace.api.agents.serializers import (
    AgentIdentityRequestSerializer,
    AgentIdentitySerializer,
    AgentProcessorCreateSerializer,
    AgentProcessorSerializer,
    AgentQueueRegistrationResponseSerializer,
    AgentQueueRegistrationSerializer,
    AgentServiceCreateSerializer,
    AgentServiceSerializer,
    OfferingUserCommentSerializer,
    OfferingUserCreateSerializer,
    OfferingUsernameSerializer,
    OfferingUserSerializer,
)
from efp.marketplace.api.common import DetailResponseSerializer
from efp.marketplace.models import AgentIdentity, AgentProcessor, AgentService, OfferingUser
from efp.marketplace.offering_user_states import OFFERING_USER_VERBS
from efp.marketplace.services import agents as agent_services
from efp.marketplace.services import offering_users as offering_user_services
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


def visible_agent_identities(user: Any) -> QuerySet[AgentIdentity]:
    return AgentIdentity.objects.filter(offering__in=selectors.provider_offerings(user).values("pk"))


def visible_offering_users(user: Any) -> QuerySet[OfferingUser]:
    """The offering's provider side sees its offering users; everyone sees their own."""
    if not getattr(user, "is_authenticated", False):
        return OfferingUser.objects.none()
    return OfferingUser.objects.filter(offering__in=selectors.provider_offerings(user).values("pk")) | (
        OfferingUser.objects.filter(user=user)
    )


class AgentIdentityViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, ReadOnlyViewSet
):
    serializer_class = AgentIdentitySerializer
    filterset_class = AgentIdentityFilter
    ordering_fields = ("name", "created", "last_restarted")
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[AgentIdentity]:
        return (
            visible_agent_identities(self.request.user)
            .select_related("offering", "created_by")
            .prefetch_related(Prefetch("services", queryset=AgentService.objects.order_by("created", "pk")))
            .order_by("created", "pk")
        )

    def _render(self, identity: AgentIdentity, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=identity.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=AgentIdentityRequestSerializer, responses={201: AgentIdentitySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = AgentIdentityRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        identity = agent_services.create_agent_identity(
            user=acting_user(request), data=body.data_for_service()
        )
        return self._render(identity, status.HTTP_201_CREATED)

    @extend_schema(request=AgentIdentityRequestSerializer, responses={200: AgentIdentitySerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        identity = self.get_object()
        if not agent_services.can_manage_agents(acting_user(request), identity.offering):
            raise PermissionDenied()  # before validating the body, as every other write does
        body = AgentIdentityRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        identity = agent_services.update_agent_identity(
            identity=identity, user=acting_user(request), data=body.data_for_service()
        )
        return self._render(identity)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agent_services.delete_agent_identity(identity=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=AgentServiceCreateSerializer,
        responses={200: AgentServiceSerializer, 201: AgentServiceSerializer},
    )
    @action(detail=True, methods=["post"])
    def register_service(self, request: Request, uuid: str | None = None) -> Response:
        identity = self.get_object()
        body = AgentServiceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service, created = agent_services.register_agent_service(
            identity=identity,
            user=acting_user(request),
            name=body.validated_data["name"],
            mode=body.validated_data.get("mode") or "",
        )
        fresh = AgentServiceViewSet.with_details(AgentService.objects.filter(pk=service.pk)).get()
        data = AgentServiceSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=AgentQueueRegistrationSerializer,
        responses={
            200: AgentQueueRegistrationResponseSerializer,
            201: AgentQueueRegistrationResponseSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def register_queue(self, request: Request, uuid: str | None = None) -> Response:
        """The identity's event queue in RabbitMQ (`consumer_<uuid>`), whose user's password is the API
        token the caller presents (or, for a session, the caller's token), as Waldur does."""
        identity = self.get_object()
        user = acting_user(request)
        if not agent_services.can_manage_agents(user, identity.offering):
            raise PermissionDenied()
        body = AgentQueueRegistrationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = getattr(request.auth, "key", None)
        registration, created = agent_services.register_agent_queue(
            identity=identity,
            user=user,
            password=key
            if isinstance(key, str)
            else issue_token(user=user, name="event queue", actor=user)[1],
            object_types=body.validated_data.get("object_types"),
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(asdict(registration), status=code)


class AgentServiceViewSet(ReadOnlyViewSet):
    serializer_class = AgentServiceSerializer
    filterset_class = AgentServiceFilter
    ordering_fields = ("name", "created", "modified")

    @staticmethod
    def with_details(qs: QuerySet[AgentService]) -> QuerySet[AgentService]:
        return qs.select_related("identity").prefetch_related(
            Prefetch("processors", queryset=AgentProcessor.objects.order_by("created", "pk"))
        )

    def get_queryset(self) -> QuerySet[AgentService]:
        visible = AgentService.objects.filter(
            identity__in=visible_agent_identities(self.request.user).values("pk")
        )
        return self.with_details(visible).order_by("created", "pk")

    @extend_schema(
        request=AgentProcessorCreateSerializer,
        responses={200: AgentProcessorSerializer, 201: AgentProcessorSerializer},
    )
    @action(detail=True, methods=["post"])
    def register_processor(self, request: Request, uuid: str | None = None) -> Response:
        service = self.get_object()
        body = AgentProcessorCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        processor, created = agent_services.register_agent_processor(
            service=service,
            user=acting_user(request),
            name=body.validated_data["name"],
            backend_type=body.validated_data["backend_type"],
            backend_version=body.validated_data.get("backend_version") or "",
        )
        data = AgentProcessorSerializer(processor, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AgentProcessorViewSet(ReadOnlyViewSet):
    serializer_class = AgentProcessorSerializer
    ordering_fields = ("name", "created", "last_run")

    def get_queryset(self) -> QuerySet[AgentProcessor]:
        visible = AgentProcessor.objects.filter(
            service__identity__in=visible_agent_identities(self.request.user).values("pk")
        )
        return visible.select_related("service").order_by("created", "pk")


def _lifecycle_action(verb: str) -> Any:
    """`POST /api/marketplace-offering-users/{uuid}/<verb>/`: one step of `OFFERING_USER_VERBS`."""
    takes_comment = OFFERING_USER_VERBS[verb].takes_comment

    def step(self: Any, request: Request, uuid: str | None = None) -> Response:
        offering_user = self.get_object()
        user = acting_user(request)
        if not offering_user_services.can_manage_offering_users(user, offering_user.offering):
            raise PermissionDenied()  # before the body
        body = OfferingUserCommentSerializer(data=request.data if takes_comment else {})
        body.is_valid(raise_exception=True)
        moved = offering_user_services.move_offering_user(
            actor=user,
            offering_user=offering_user,
            verb=verb,
            comment=body.validated_data.get("comment"),
            comment_url=body.validated_data.get("comment_url"),
        )
        return Response({"detail": f"Offering user is now {moved.state}."})

    step.__name__ = verb  # before `action`, which routes POST to the method of this name
    schema = extend_schema(
        request=OfferingUserCommentSerializer if takes_comment else None,
        responses={200: DetailResponseSerializer},
        operation_id=f"marketplace_offering_users_{verb}",
    )
    return schema(action(detail=True, methods=["post"], url_path=verb)(step))


class OfferingUserViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = OfferingUserSerializer
    filterset_class = OfferingUserFilter
    ordering_fields = ("created", "modified", "username")
    http_method_names = ["get", "post", "patch", "head", "options"]

    begin_creating = _lifecycle_action("begin_creating")
    set_ok = _lifecycle_action("set_ok")
    set_pending_additional_validation = _lifecycle_action("set_pending_additional_validation")
    set_pending_account_linking = _lifecycle_action("set_pending_account_linking")
    set_validation_complete = _lifecycle_action("set_validation_complete")
    request_deletion = _lifecycle_action("request_deletion")
    set_deleting = _lifecycle_action("set_deleting")
    set_deleted = _lifecycle_action("set_deleted")
    set_error_creating = _lifecycle_action("set_error_creating")
    set_error_deleting = _lifecycle_action("set_error_deleting")

    @extend_schema(request=OfferingUsernameSerializer, responses={200: OfferingUserSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Only `username` changes (the site agent names accounts); an account waiting for it becomes OK."""
        offering_user = self.get_object()
        user = acting_user(request)
        if not offering_user_services.can_manage_offering_users(user, offering_user.offering):
            raise PermissionDenied()
        body = OfferingUsernameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offering_user_services.set_offering_username(
            actor=user, offering_user=offering_user, username=body.validated_data["username"] or ""
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=offering_user.pk)).data)

    def get_queryset(self) -> QuerySet[OfferingUser]:
        return (
            visible_offering_users(self.request.user)
            .select_related("user", "offering__customer")
            .order_by("created", "pk")
        )

    @extend_schema(request=OfferingUserCreateSerializer, responses={201: OfferingUserSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = OfferingUserCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        offering_user = offering_user_services.create_offering_user(
            actor=acting_user(request),
            offering=body.validated_data["offering"],
            user=body.validated_data["user"],
            username=body.validated_data.get("username") or "",
        )
        fresh = self.get_queryset().get(pk=offering_user.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)
