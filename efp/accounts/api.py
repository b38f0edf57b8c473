"""`/api/users/`, `/api/users/me/`, `/api/version/`, `/api-auth/password/` (`/api/api-tokens/`: structure)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django_filters.rest_framework import BooleanFilter
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from efp.accounts import services
from efp.accounts.models import User
from efp.accounts.oidc.passwords import password_login
from efp.accounts.services import issue_token
from efp.rest.addresses import client_address
from efp.rest.fields import HexUUIDField, LinkField, SparseFieldsMixin, UTCDateTimeField
from efp.rest.filters import FilterSet
from efp.rest.viewsets import ReadOnlyViewSet, acting_user


class UserSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("user-detail")
    uuid = HexUUIDField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)  # may be blank: not format "email" in the schema
    date_joined = UTCDateTimeField(read_only=True)

    class Meta:
        model = User
        fields = (
            "url", "uuid", "username", "full_name", "first_name", "last_name", "email", "civil_number",
            "organization", "is_staff", "is_support", "is_active", "date_joined",
        )  # fmt: skip
        read_only_fields = fields


class UserWriteSerializer(serializers.ModelSerializer):
    """What staff may set on a user (`password` only on create)."""

    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=128)

    class Meta:
        model = User
        fields = (
            "username", "password", "first_name", "last_name", "email", "civil_number", "organization",
            "is_staff", "is_support", "is_active",
        )  # fmt: skip


class UserFilter(FilterSet):
    """Waldur's user filters that scripts use to find one person (a filter not here is ignored)."""

    username = django_filters.CharFilter()
    email = django_filters.CharFilter(lookup_expr="icontains")
    organization = django_filters.CharFilter(lookup_expr="icontains")
    civil_number = django_filters.CharFilter()
    is_active = BooleanFilter()
    is_staff = BooleanFilter()
    is_support = BooleanFilter()

    class Meta:
        model = User
        fields: list[str] = []


class UserViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ReadOnlyViewSet):
    serializer_class = UserSerializer
    filterset_class = UserFilter
    ordering_fields = ("username", "date_joined")

    def get_queryset(self) -> QuerySet[User]:
        user = self.request.user
        qs = User.objects.order_by("username", "pk")
        if user.is_staff or getattr(user, "is_support", False):
            return qs
        return qs.filter(pk=getattr(user, "pk", None) or 0)

    @extend_schema(request=UserWriteSerializer, responses={201: UserSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Staff only (403 before the body is judged)."""
        if not request.user.is_staff:
            raise PermissionDenied()
        body = UserWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.create_user(actor=acting_user(request), **body.validated_data)
        return Response(UserSerializer(user, context=self.get_serializer_context()).data, status=201)

    @extend_schema(request=UserWriteSerializer, responses={200: UserSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self.get_object()
        if not request.user.is_staff:
            raise PermissionDenied()
        body = UserWriteSerializer(user, data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        changes.pop("password", None)
        if changes.pop("username", user.username) != user.username:
            raise serializers.ValidationError({"username": ["The username cannot be changed."]})
        user = services.update_user(actor=acting_user(request), user=user, **changes)
        return Response(UserSerializer(user, context=self.get_serializer_context()).data)

    @action(detail=False, methods=["get"])
    def me(self, request: Request) -> Response:
        return Response(UserSerializer(request.user, context=self.get_serializer_context()).data)


@extend_schema(responses=inline_serializer("Version", {"version": serializers.CharField()}))
@api_view(["GET"])
@permission_classes([AllowAny])
def version(request: Request) -> Response:
    return Response({"version": settings.EFP_VERSION})


PASSWORD_LOGIN = "password login"  # the name of the token each password login makes


class PasswordLoginSerializer(serializers.Serializer):
    # Bounded: the login throttle records failed usernames in a 255-character column (PostgreSQL refused a
    # longer one with a 500); no user name is longer than 150.
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(trim_whitespace=False, max_length=4096)


@extend_schema(
    request=PasswordLoginSerializer, responses=inline_serializer("Token", {"token": serializers.CharField()})
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def obtain_token(request: Request) -> Response:
    if not password_login():
        return Response({"detail": "Signing in with a password is switched off."}, status=403)
    body = PasswordLoginSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    user: Any = authenticate(
        request._request, username=body.validated_data["username"], password=body.validated_data["password"]
    )
    if user is None or not user.is_active:
        return Response(
            {"detail": "Invalid username or password"}, status=401, headers={"WWW-Authenticate": "Token"}
        )
    # As a GUI login does: records last_login and resets the failed-login count of django-axes.
    user_logged_in.send(sender=type(user), request=request._request, user=user)
    _token, key = issue_token(user=user, name=PASSWORD_LOGIN, address=client_address(request))
    return Response({"token": key})
