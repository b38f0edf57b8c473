"""`/api/customers/` and `/api/projects/` (docs/contract.md §4, §12) with Waldur's team actions
(`add_user`, `update_user`, `delete_user`, `list_users`)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django_filters.rest_framework import BooleanFilter
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from efp.accounts.models import User
from efp.rest.csv_export import wants_csv
from efp.rest.fields import HexUUIDField, HyperlinkInputField, LinkField, SparseFieldsMixin, UTCDateTimeField
from efp.rest.filters import FilterSet, IsoDateTimeFilter, MultipleStringFilter, MultipleUUIDFilter
from efp.rest.viewsets import ReadOnlyViewSet, acting_user
from efp.structure import services
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole, RoleGrant
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission, Role, role_from, role_uuid
from efp.structure.selectors import visible_customers, visible_projects


class CustomerSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("customer-detail")
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    is_service_provider = serializers.SerializerMethodField()
    service_provider_uuid = serializers.SerializerMethodField()
    organization_groups = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = (
            "url", "uuid", "created", "name", "slug", "abbreviation", "native_name", "email", "country",
            "blocked", "archived", "is_service_provider", "service_provider_uuid", "organization_groups",
        )  # fmt: skip
        read_only_fields = ("url", "uuid", "created", "slug")

    def get_is_service_provider(self, customer: Customer) -> bool:
        return hasattr(customer, "service_provider")

    def get_service_provider_uuid(self, customer: Customer) -> str | None:
        provider = getattr(customer, "service_provider", None)
        return provider.uuid.hex if provider is not None else None

    def get_organization_groups(self, customer: Customer) -> list[Any]:
        return []


class ProjectSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("project-detail")
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    customer = HyperlinkInputField(("customer-detail",), lambda request: visible_customers(request.user))
    customer_uuid = HexUUIDField(source="customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    customer_slug = serializers.CharField(source="customer.slug", read_only=True)
    end_date_requested_by = LinkField("user-detail", attr="end_date_requested_by", allow_null=True)

    class Meta:
        model = Project
        fields = (
            "url", "uuid", "created", "name", "slug", "customer", "customer_uuid", "customer_name",
            "customer_slug", "description", "start_date", "end_date", "end_date_requested_by", "is_removed",
            "oecd_fos_2007_code", "is_industry", "type", "backend_id",
        )  # fmt: skip
        read_only_fields = ("url", "uuid", "created", "slug", "is_removed", "end_date_requested_by")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError(
                {"end_date": ["The end date must not be before the start date."]}
            )
        return attrs


class CustomerFilter(FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter()
    abbreviation = django_filters.CharFilter(lookup_expr="icontains")
    archived = BooleanFilter()

    class Meta:
        model = Customer
        fields: list[str] = []


class ProjectFilter(FilterSet):
    customer = MultipleUUIDFilter(field_name="customer__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="customer__uuid")
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter()
    customer_name = django_filters.CharFilter(field_name="customer__name", lookup_expr="icontains")
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Project
        fields: list[str] = []


# --- teams ----------------------------------------------------------------------------------------


class UserRoleSerializer(serializers.Serializer):
    """`{user: <uuid>, role: <name or uuid>, expiration_time?}`: the body of add, update and delete_user."""

    user = serializers.UUIDField()
    role = serializers.CharField(max_length=100)
    expiration_time = UTCDateTimeField(required=False, allow_null=True)

    def validate_user(self, value: Any) -> User:
        user = User.objects.filter(uuid=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("User does not exist.")
        return user

    def validate_role(self, value: str) -> Role:
        role = role_from(value)
        if role is None:
            raise serializers.ValidationError("Role does not exist.")
        return role


class ExpirationTimeSerializer(serializers.Serializer):
    expiration_time = UTCDateTimeField(allow_null=True)


class UserRoleDetailsSerializer(SparseFieldsMixin, serializers.Serializer):
    uuid = HexUUIDField(read_only=True)
    created = UTCDateTimeField(read_only=True)
    expiration_time = UTCDateTimeField(read_only=True, allow_null=True)
    role_name = serializers.CharField(source="role", read_only=True)
    role_uuid = serializers.SerializerMethodField()
    user_email = serializers.CharField(source="user.email", read_only=True)
    user_full_name = serializers.CharField(source="user.full_name", read_only=True)
    user_username = serializers.CharField(source="user.username", read_only=True)
    user_uuid = HexUUIDField(source="user.uuid", read_only=True)
    user_image = serializers.SerializerMethodField()
    created_by_full_name = serializers.SerializerMethodField()
    created_by_uuid = serializers.SerializerMethodField()

    class Meta:
        optional_fields = ("created_by_uuid",)  # left out when nobody is recorded

    def get_role_uuid(self, grant: RoleGrant) -> str:
        return role_uuid(Role(grant.role)).hex  # type: ignore[attr-defined]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_user_image(self, grant: RoleGrant) -> str | None:
        return None  # no user images here

    def get_created_by_full_name(self, grant: RoleGrant) -> str:
        return grant.created_by.full_name if grant.created_by else ""

    def get_created_by_uuid(self, grant: RoleGrant) -> str | None:
        return grant.created_by.uuid.hex if grant.created_by else None

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("created_by_uuid", "") is None:
            data.pop("created_by_uuid")  # the SDK parses a present value as a UUID
        return dict(data)


class UserRoleFilter(FilterSet):
    role = MultipleStringFilter(method="filter_role")
    user = MultipleUUIDFilter(field_name="user__uuid")
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")
    full_name = django_filters.CharFilter(method="filter_full_name")
    search_string = django_filters.CharFilter(method="filter_search")

    class Meta:
        fields: list[str] = []

    def filter_role(self, qs: QuerySet[Any], name: str, value: list[str]) -> QuerySet[Any]:
        roles = [role.value for raw in value if (role := role_from(raw)) is not None]
        return qs.filter(role__in=roles)

    def filter_full_name(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        q = Q()
        for word in value.split():
            q &= Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word)
        return qs.filter(q)

    def filter_search(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        q = Q()
        for word in value.split():
            q &= (
                Q(user__username__icontains=word)
                | Q(user__first_name__icontains=word)
                | Q(user__last_name__icontains=word)
                | Q(user__email__icontains=word)
            )
        return qs.filter(q)


class CustomerRoleFilter(UserRoleFilter):
    class Meta:
        model = CustomerRole
        fields: list[str] = []


class ProjectRoleFilter(UserRoleFilter):
    class Meta:
        model = ProjectRole
        fields: list[str] = []


LIST_USERS_ORDERING = {
    "created": ("created",),
    "expiration_time": ("expiration_time",),
    "role": ("role",),
    "username": ("user__username",),
    "email": ("user__email",),
    "full_name": ("user__first_name", "user__last_name"),
    "native_name": ("user__first_name", "user__last_name"),
}


class TeamActionsMixin:
    """Waldur's role actions on an organisation or a project; the service checks who may change a team."""

    role_filterset: type[django_filters.FilterSet]

    def _grants(self, scope: Any) -> QuerySet[Any]:
        if isinstance(scope, Customer):
            return CustomerRole.objects.filter(customer=scope)
        return ProjectRole.objects.filter(project=scope)

    def _body(self, request: Request, serializer: type[serializers.Serializer] = UserRoleSerializer) -> Any:
        body = serializer(data=request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def _guard(self, request: Request, scope: Any) -> None:
        # 403 before 400 (docs/contract.md §1.6): a body is judged only for someone who may change the team.
        if not services.can_manage_team(acting_user(request), scope):
            raise PermissionDenied()

    @extend_schema(request=UserRoleSerializer, responses={201: ExpirationTimeSerializer})
    @action(detail=True, methods=["post"])
    def add_user(self, request: Request, uuid: str | None = None) -> Response:
        scope = self.get_object()  # type: ignore[attr-defined]
        self._guard(request, scope)
        data = self._body(request)
        grant = services.add_user_role(
            scope=scope,
            user=data["user"],
            role=data["role"],
            actor=acting_user(request),
            expiration_time=data.get("expiration_time"),
        )
        return Response(ExpirationTimeSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserRoleSerializer, responses={200: ExpirationTimeSerializer})
    @action(detail=True, methods=["post"])
    def update_user(self, request: Request, uuid: str | None = None) -> Response:
        scope = self.get_object()  # type: ignore[attr-defined]
        self._guard(request, scope)
        data = self._body(request)
        grant = services.update_user_role(
            scope=scope,
            user=data["user"],
            role=data["role"],
            actor=acting_user(request),
            expiration_time=data.get("expiration_time"),
        )
        return Response(ExpirationTimeSerializer(grant).data)

    @extend_schema(request=UserRoleSerializer, responses={200: None})
    @action(detail=True, methods=["post"])
    def delete_user(self, request: Request, uuid: str | None = None) -> Response:
        scope = self.get_object()  # type: ignore[attr-defined]
        self._guard(request, scope)
        data = self._body(request)
        services.delete_user_role(
            scope=scope, user=data["user"], role=data["role"], actor=acting_user(request)
        )
        return Response({"detail": "Role has been revoked."})

    @extend_schema(responses={200: UserRoleDetailsSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get", "head"])
    def list_users(self, request: Request, uuid: str | None = None) -> Any:
        scope = self.get_object()  # type: ignore[attr-defined]
        grants = self._grants(scope).select_related("user", "created_by")
        grants = self.role_filterset(request.query_params, queryset=grants, request=request).qs
        ordering: list[str] = []
        for raw in request.query_params.getlist("o"):
            for key in raw.split(","):
                fields = LIST_USERS_ORDERING.get(key.lstrip("-"))
                if fields:
                    ordering += [("-" if key.startswith("-") else "") + f for f in fields]
        grants = grants.order_by(*ordering, "pk")
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(grants.count())})
        if wants_csv(request):
            return self.csv(grants, UserRoleDetailsSerializer)  # type: ignore[attr-defined]
        page = self.paginate_queryset(grants)  # type: ignore[attr-defined]
        data = UserRoleDetailsSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)  # type: ignore[attr-defined]


class CustomerViewSet(TeamActionsMixin, mixins.UpdateModelMixin, mixins.CreateModelMixin, ReadOnlyViewSet):
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("name", "created", "abbreviation")
    role_filterset = CustomerRoleFilter

    def get_queryset(self) -> QuerySet[Customer]:
        return visible_customers(self.request.user).select_related("service_provider").order_by("name", "pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()
        body = CustomerSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        customer = services.create_customer(
            name=data["name"],
            abbreviation=data.get("abbreviation", ""),
            email=data.get("email", ""),
            country=data.get("country", ""),
        )
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data, status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Staff edit an organisation (also `blocked` and `archived`); others get 403."""
        customer = self.get_object()
        if not request.user.is_staff:
            raise PermissionDenied()
        partial = kwargs.get("partial", False)
        body = CustomerSerializer(
            customer, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        body.is_valid(raise_exception=True)
        customer = services.update_customer(
            customer=customer, user=acting_user(request), **body.validated_data
        )
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data)


class ProjectViewSet(
    TeamActionsMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.CreateModelMixin,
    ReadOnlyViewSet,
):
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ("name", "created")
    role_filterset = ProjectRoleFilter

    def get_queryset(self) -> QuerySet[Project]:
        return visible_projects(self.request.user).select_related("customer").order_by("name", "pk")

    @extend_schema(responses={201: ProjectSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Owners of the organisation (and staff); an organisation the user cannot see gives 400."""
        body = ProjectSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = services.create_project(
            customer=data["customer"],
            name=data["name"],
            description=data.get("description", ""),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            user=acting_user(request),
        )
        changes = {k: data[k] for k in ("oecd_fos_2007_code", "is_industry", "type") if k in data}
        if changes:
            project = services.update_project(project=project, user=acting_user(request), **changes)
        return Response(
            ProjectSerializer(project, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Owners of the project's organisation edit it (name, description, dates, classification)."""
        project = self.get_object()
        user = acting_user(request)
        if not has_permission(user, Permission.PROJECT_UPDATE, customers=[project.customer]):
            raise PermissionDenied()
        partial = kwargs.get("partial", False)
        context = self.get_serializer_context()
        body = ProjectSerializer(project, data=request.data, partial=partial, context=context)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        customer = changes.pop("customer", project.customer)
        if customer != project.customer:
            raise serializers.ValidationError(
                {"customer": ["A project cannot move to another organisation."]}
            )
        project = services.update_project(project=project, user=acting_user(request), **changes)
        return Response(ProjectSerializer(project, context=self.get_serializer_context()).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Soft delete by an owner of the organisation: orders and resources stay."""
        services.remove_project(project=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
