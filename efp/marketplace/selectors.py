"""What a given user may see. Every API list and GUI page starts from one of these querysets."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from efp.accounts.models import SshKey
from efp.marketplace.models import (
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingRole,
    Order,
    Plan,
    Resource,
    ServiceProvider,
)
from efp.marketplace.states import OrderState, ResourceState
from efp.structure.models import ActiveRoleManager, CustomerRole, Project, ProjectRole
from efp.structure.permissions import ALWAYS, NEVER
from efp.structure.roles import Permission
from efp.structure.selectors import projects_with_permission


def _anonymous(user: Any) -> bool:
    return not getattr(user, "is_authenticated", False)


def _sees_all(user: Any) -> bool:
    return bool(user.is_staff or getattr(user, "is_support", False))


def _active_roles(model: Any, column: str) -> str:
    """SQL: the `column` of the user's roles in force (an expired role grants nothing)."""
    table = model._meta.db_table
    return f"SELECT {column} FROM {table} WHERE user_id = %s AND {ActiveRoleManager.IN_FORCE_SQL}"  # noqa: S608 - table names from our models


def _now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


# The two subqueries every visibility rule below is made of, in SQL with bound parameters: as ORM
# querysets they nest three levels deep, and compiling them cost more than the rest of a small list.
_MY_CUSTOMERS = _active_roles(CustomerRole, "customer_id")
_MY_OFFERINGS = (
    f"SELECT id FROM {Offering._meta.db_table} WHERE customer_id IN ({_MY_CUSTOMERS})"  # noqa: S608
    f" OR id IN (SELECT offering_id FROM {OfferingRole._meta.db_table} WHERE user_id = %s)"
)
_MY_PROJECTS = (
    f"SELECT id FROM {Project._meta.db_table} WHERE id IN ({_active_roles(ProjectRole, 'project_id')})"  # noqa: S608
    f" OR customer_id IN ({_MY_CUSTOMERS})"
)


def _my_offerings(user: Any) -> RawSQL:
    """Offerings of organisations where the user holds a role in force, and offerings they manage."""
    return RawSQL(_MY_OFFERINGS, [user.pk, _now(), user.pk])  # noqa: S611 - constant SQL, bound parameters


def _my_projects(user: Any) -> RawSQL:
    """Projects where the user holds a role in force, and the projects of their organisations."""
    now = _now()
    return RawSQL(_MY_PROJECTS, [user.pk, now, user.pk, now])  # noqa: S611 - constant SQL, bound parameters


def provider_q(user: Any, offering: str = "offering") -> Q:
    """Rows whose offering belongs to an organisation where the user holds a role, or that they manage.

    One `offering_id IN (my offerings)` test on the row itself: the database answers it from the row (or
    an index on the offering) without joining the offering and its organisation first.
    """
    return Q(**{f"{offering}_id__in": _my_offerings(user)})


def consumer_q(user: Any, project_prefix: str) -> Q:
    """Rows of projects where the user holds a role, or of their organisations' projects."""
    return Q(**{f"{project_prefix}_id__in": _my_projects(user)})


def visible_orders(user: Any) -> QuerySet[Order]:
    """Orders of my projects, my organisations' projects, and my organisations' or my offerings."""
    if _anonymous(user):
        return Order.objects.none()
    if _sees_all(user):
        return Order.objects.all()
    return Order.objects.filter(consumer_q(user, "project") | provider_q(user))


def provider_resources(user: Any) -> QuerySet[Resource]:
    """Resources of offerings owned by organisations where I hold any role (docs/contract.md §2.2)."""
    if _anonymous(user):
        return Resource.objects.none()
    if _sees_all(user):
        return Resource.objects.all()
    return Resource.objects.filter(provider_q(user))


def provider_orders(user: Any) -> QuerySet[Order]:
    """Orders for offerings of organisations where I hold a role, or that I manage: the provider's queue.

    Unlike `visible_orders`, orders I can see only as a consumer are left out.
    """
    if _anonymous(user):
        return Order.objects.none()
    if _sees_all(user):
        return Order.objects.all()
    return Order.objects.filter(provider_q(user))


def consumer_orders(user: Any) -> QuerySet[Order]:
    """Orders of projects where I hold a role or of my organisations' projects: the consumer's side.

    Unlike `visible_orders`, orders I see only as their provider are left out (staff see all).
    """
    if _anonymous(user):
        return Order.objects.none()
    if _sees_all(user):
        return Order.objects.all()
    return Order.objects.filter(consumer_q(user, "project"))


def orders_awaiting_consumer(user: Any) -> QuerySet[Order]:
    """Orders pending consumer approval that I may approve (ORDER.APPROVE on the project or organisation)."""
    pending = consumer_orders(user).filter(state=OrderState.PENDING_CONSUMER)
    if _anonymous(user) or user.is_staff:
        return pending
    return pending.filter(project__in=projects_with_permission(user, Permission.ORDER_APPROVE).values("pk"))


def catalogue_offerings(user: Any) -> QuerySet[Offering]:
    """What the marketplace catalogue lists: offerings I may see that take orders now (Active)."""
    return public_offerings(user).filter(state=Offering.State.ACTIVE)


def consumer_resources(user: Any) -> QuerySet[Resource]:
    if _anonymous(user):
        return Resource.objects.none()
    if _sees_all(user):
        return Resource.objects.all()
    return Resource.objects.filter(consumer_q(user, "project"))


def usage_visible_resources(user: Any) -> QuerySet[Resource]:
    """Resources whose usage I may read: as their provider or as their consumer."""
    if _anonymous(user):
        return Resource.objects.none()
    if _sees_all(user):
        return Resource.objects.all()
    return Resource.objects.filter(provider_q(user) | consumer_q(user, "project"))


def visible_component_usages(user: Any) -> QuerySet[ComponentUsage]:
    """Usage of the resources in `usage_visible_resources`, tested on each usage row's own resource."""
    if _anonymous(user):
        return ComponentUsage.objects.none()
    if _sees_all(user):
        return ComponentUsage.objects.all()
    return ComponentUsage.objects.filter(
        provider_q(user, "resource__offering") | consumer_q(user, "resource__project")
    )


def usage_visibility_sql(user: Any, resource: str) -> tuple[str, list[Any]]:
    """`visible_component_usages` and `visible_component_user_usages` as a SQL condition on the resource
    table aliased `resource`, with its parameters, for the hand-written usage pages (api/usage_pages)."""
    if _anonymous(user):
        return NEVER, []
    if _sees_all(user):
        return ALWAYS, []
    offerings, projects = _my_offerings(user), _my_projects(user)
    condition = f"({resource}.offering_id IN ({offerings.sql}) OR {resource}.project_id IN ({projects.sql}))"
    return condition, [*offerings.params, *projects.params]


def visible_component_user_usages(user: Any) -> QuerySet[ComponentUserUsage]:
    if _anonymous(user):
        return ComponentUserUsage.objects.none()
    if _sees_all(user):
        return ComponentUserUsage.objects.all()
    return ComponentUserUsage.objects.filter(
        provider_q(user, "component_usage__resource__offering")
        | consumer_q(user, "component_usage__resource__project")
    )


def provider_offerings(user: Any) -> QuerySet[Offering]:
    """Offerings I manage: of organisations where I hold a role, or where I am offering manager."""
    if _anonymous(user):
        return Offering.objects.none()
    if _sees_all(user):
        return Offering.objects.all()
    return Offering.objects.filter(pk__in=_my_offerings(user))


def public_offerings(user: Any) -> QuerySet[Offering]:
    """Offerings anyone may look at: shared ones that are Active or Paused, plus those I manage."""
    if _anonymous(user):
        return Offering.objects.none()
    shown = Q(shared=True, state__in=[Offering.State.ACTIVE, Offering.State.PAUSED])
    if _sees_all(user):
        return Offering.objects.all()
    return Offering.objects.filter(
        shown
        | Q(pk__in=_my_offerings(user))
        # private offerings are visible to their own organisation's members
        | Q(
            shared=False, customer_id__in=ProjectRole.objects.filter(user=user).values("project__customer_id")
        )
    )


def visible_plans(user: Any) -> QuerySet[Plan]:
    return Plan.objects.filter(offering__in=public_offerings(user).values("pk"))


def visible_service_providers(user: Any) -> QuerySet[ServiceProvider]:
    if _anonymous(user):
        return ServiceProvider.objects.none()
    return ServiceProvider.objects.all()


def manages_service_provider(user: Any, provider: ServiceProvider) -> bool:
    """Staff and support, a role in the provider's organisation, or an offering role on its offerings."""
    if _anonymous(user):
        return False
    if _sees_all(user):
        return True
    return (
        CustomerRole.objects.filter(user=user, customer_id=provider.customer_id).exists()
        or OfferingRole.objects.filter(user=user, offering__customer_id=provider.customer_id).exists()
    )


def service_provider_ssh_keys(provider: ServiceProvider) -> QuerySet[SshKey]:
    """Keys of the users with a role in a project that has a live (not Terminated) resource of the
    provider's offerings: the people who may log in to what the provider runs for its consumers."""
    projects = (
        Resource.objects.filter(offering__customer_id=provider.customer_id)
        .exclude(state=ResourceState.TERMINATED)
        .values("project_id")
    )
    users = ProjectRole.objects.filter(project_id__in=projects).values("user_id")
    return SshKey.objects.filter(user_id__in=users, user__is_active=True)


def is_provider_user(user: Any) -> bool:
    """Does the user hold a role in an organisation that is a service provider (or an offering role)?"""
    if _anonymous(user):
        return False
    if user.is_staff:
        return True
    return (
        CustomerRole.objects.filter(user=user, customer__service_provider__isnull=False).exists()
        or OfferingRole.objects.filter(user=user).exists()
    )


def orders_with_details(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Everything an order's API representation or GUI row shows, in the same query (no N+1)."""
    return qs.select_related(
        "offering__customer__service_provider",
        "offering__category",
        "plan",
        "old_plan",
        "project__customer",
        "resource",
        "created_by",
        "consumer_reviewed_by",
        "provider_reviewed_by",
    )
