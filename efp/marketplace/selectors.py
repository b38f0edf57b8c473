"""What a given user may see. Every API list and GUI page starts from one of these querysets."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery

from efp.accounts.models import SshKey
from efp.marketplace import tallies
from efp.marketplace.forecasts import FLAG_NAMES
from efp.marketplace.models import (
    ComponentMonthTotal,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    Order,
    Plan,
    Resource,
    ResourceForecast,
    ServiceProvider,
)
from efp.marketplace.states import PENDING_ORDER_STATES, OrderState, OrderType, ResourceState
from efp.structure import access
from efp.structure.access import OuterColumn
from efp.structure.models import ProjectRole
from efp.structure.roles import Permission

_anonymous, _sees_all = access.is_anonymous, access.sees_everything


def provider_q(user: Any, offering: str = "offering") -> Q:
    """Rows whose offering belongs to an organisation where the user holds a role, or that they manage.

    One `offering_id IN (my offerings)` test on the row itself: the database answers it from the row (or
    an index on the offering) without joining the offering and its organisation first.
    """
    return access.my_offerings(user).q(f"{offering}_id")


def consumer_q(user: Any, project_prefix: str) -> Q:
    """Rows of live projects where the user holds a role, or of their organisations' live projects."""
    return access.my_projects(user).q(f"{project_prefix}_id")


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
    return access.permitted_projects(user, Permission.ORDER_APPROVE).filter(pending, "project_id")


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
    """Usage of the resources in `usage_visible_resources`, tested on each usage row's copy of its
    resource's offering and project (`scope_of`), without joining the resource."""
    if _anonymous(user):
        return ComponentUsage.objects.none()
    if _sees_all(user):
        return ComponentUsage.objects.all()
    return ComponentUsage.objects.filter(provider_q(user) | consumer_q(user, "project"))


def usage_visibility_sql(user: Any, table: str) -> tuple[str, list[Any]]:
    """`usage_visible_resources`, `visible_component_usages` and `visible_component_user_usages` as a SQL
    condition on the `offering_id` and `project_id` of the table aliased `table` (a resource, or a usage
    record, which carries its resource's), with its parameters, for the hand-written usage pages
    (api/usage/pages.py: the usage record `u`, read from the page-order index)."""
    if _anonymous(user):
        return access.NEVER.sql, []
    if _sees_all(user):
        return access.ALWAYS.sql, []
    offerings = access.my_offerings(user).contains(OuterColumn(f"{table}.offering_id"))
    projects = access.my_projects(user).contains(OuterColumn(f"{table}.project_id"))
    condition = offerings | projects
    return condition.sql, list(condition.params)


def few_usage_resources(user: Any, most: int) -> list[int] | None:
    """The resources of `usage_visible_resources`, when there are at most `most` of them (else None; None
    for staff and support, who see every one). Two statements: the user's offerings and projects
    (`access`), then their resources from the resource table's offering and project indexes, stopping at
    `most` + 1, never the whole table. The usage pages then read these resources' rows and sort them,
    instead of walking their order's index through rows that are not the user's (api/usage/pages.py;
    docs/performance.md, issue 18)."""
    if _anonymous(user):
        return []
    if _sees_all(user):
        return None
    offerings, projects = access.my_offerings(user).select(), access.my_projects(user).select()
    scopes = f"SELECT 0, o.id FROM ({offerings.sql}) o UNION ALL SELECT 1, p.id FROM ({projects.sql}) p"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(scopes, [*offerings.params, *projects.params])
        mine: tuple[list[int], list[int]] = ([], [])
        for kind, key in cursor.fetchall():
            mine[kind].append(key)
        # The keys themselves (a handful): the database reads each from its index and stops at `most` + 1.
        table = Resource._meta.db_table
        parts = [
            (f"SELECT id FROM {table} WHERE {column} IN ({', '.join(['%s'] * len(keys))})", keys)  # noqa: S608
            for column, keys in (("offering_id", mine[0]), ("project_id", mine[1]))
            if keys
        ]
        if not parts:
            return []
        cursor.execute(
            " UNION ALL ".join(sql for sql, _ in parts) + " LIMIT %s",
            [*(key for _, keys in parts for key in keys), most + 1],
        )
        keys = [key for (key,) in cursor.fetchall()]  # a resource seen both ways comes twice
    return None if len(keys) > most else sorted(set(keys))


def visible_component_user_usages(user: Any) -> QuerySet[ComponentUserUsage]:
    if _anonymous(user):
        return ComponentUserUsage.objects.none()
    if _sees_all(user):
        return ComponentUserUsage.objects.all()
    return ComponentUserUsage.objects.filter(
        provider_q(user, "component_usage__offering") | consumer_q(user, "component_usage__project")
    )


def provider_offerings(user: Any) -> QuerySet[Offering]:
    """Offerings I manage: of organisations where I hold a role, or where I am offering manager."""
    return access.my_offerings(user).filter(Offering.objects.all())


def public_offerings(user: Any) -> QuerySet[Offering]:
    """Offerings anyone may look at: shared ones that are Active or Paused, plus those I manage, plus the
    private ones of the organisations I see (`access.public_offerings`)."""
    return access.public_offerings(user).filter(Offering.objects.all())


def visible_plans(user: Any) -> QuerySet[Plan]:
    return Plan.objects.filter(offering__in=public_offerings(user).values("pk"))


def visible_service_providers(user: Any) -> QuerySet[ServiceProvider]:
    if _anonymous(user):
        return ServiceProvider.objects.none()
    return ServiceProvider.objects.all()


def manages_service_provider(user: Any, provider: ServiceProvider) -> bool:
    """Staff and support, a role in the provider's organisation, or an offering role on its offerings."""
    return access.provider_customers(user).any_of([provider.customer_id]).holds()


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
    return access.provider_workspace(user).holds()


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


def with_usage_flag(resources: QuerySet[Resource], flag: str) -> QuerySet[Resource]:
    """Resources whose stored forecast has `flag` (a name of `forecasts.FLAGS`): the API's `usage_flag`
    filter, the GUI's filter and its dashboard tiles."""
    return resources.filter(forecast__flags__contains=ResourceForecast.flag_pattern(flag))


def usage_flag_counts(resources: QuerySet[Resource]) -> dict[str, int]:
    """{flag name: how many of `resources` have it}, every flag of `forecasts.FLAGS`, in one query over
    the flagged forecasts only (the partial index `forecast_flagged`), not every resource's."""
    flagged = ResourceForecast.objects.exclude(flags="")
    counts = flagged.filter(resource__in=resources.values("pk")).aggregate(
        **{
            name: Count("pk", filter=Q(flags__contains=ResourceForecast.flag_pattern(name)))
            for name in FLAG_NAMES
        }
    )
    return {name: counts[name] or 0 for name in FLAG_NAMES}


def with_awaiting_approval(resources: QuerySet[Resource]) -> QuerySet[Resource]:
    """Annotates `awaiting_approval`: the resource's create order still waits for a decision (a subquery
    of the list's one query); `state_words.resource_state_words` then says "awaiting approval"."""
    waiting = Order.objects.filter(
        resource=OuterRef("pk"), type=OrderType.CREATE, state__in=PENDING_ORDER_STATES
    )
    return resources.annotate(awaiting_approval=Exists(waiting))


def workspace_offerings(user: Any) -> QuerySet[Offering]:
    """The offerings the provider workspace shows (`access.workspace_offerings`: an offering manager's
    own offerings, not the others of the organisation their role there comes with)."""
    return access.workspace_offerings(user).filter(Offering.objects.all())


def workspace_resources(user: Any) -> QuerySet[Resource]:
    """`provider_resources` as the provider workspace lists them (`access.workspace_offerings`)."""
    if _anonymous(user) or _sees_all(user):
        return provider_resources(user)
    return Resource.objects.filter(access.workspace_offerings(user).q("offering_id"))


def workspace_orders(user: Any) -> QuerySet[Order]:
    """`provider_orders` as the provider workspace lists them (`access.workspace_offerings`)."""
    if _anonymous(user) or _sees_all(user):
        return provider_orders(user)
    return Order.objects.filter(access.workspace_offerings(user).q("offering_id"))


def workspace_month_totals(user: Any) -> QuerySet[ComponentMonthTotal]:
    """The maintained monthly usage totals of the components of the workspace's offerings: every resource
    of an offering is in the workspace whenever the offering is, so a component's total is the workspace's."""
    if _anonymous(user):
        return ComponentMonthTotal.objects.none()
    return ComponentMonthTotal.objects.filter(access.workspace_offerings(user).q("component__offering_id"))


def backend_id_taken(offering: Offering, backend_id: str, *, all_offerings: bool = False) -> bool:
    """Has a resource of `offering` (or of any offering of its organisation) ever had `backend_id`?"""
    scope = Q(offering__customer_id=offering.customer_id) if all_offerings else Q(offering=offering)
    return Resource.objects.filter(scope, backend_id=backend_id).exists()


def workspace_count(user: Any, kind: str, state: str) -> int:
    """How many resources (`kind="resource"`) or orders (`"order"`) of the workspace's offerings are in
    `state`: the dashboard's counts per state, summed from the maintained tally (kind, offering, state;
    `tallies.workspace_state_count`), else counted."""
    counted = tallies.workspace_state_count(kind, user, state)
    if counted is not None:
        return counted
    rows = workspace_resources(user) if kind == "resource" else workspace_orders(user)
    return rows.filter(state=state).count()


def oldest_waiting_order(user: Any, state: str) -> datetime.datetime | None:
    """When the oldest order of the workspace's offerings in `state` was created: the first entry of each
    offering's open orders in the index `order_active_by_offering` (offering, created), not every order."""
    first = (
        Order.objects.filter(offering=OuterRef("pk"), state=state).order_by("created").values("created")[:1]
    )
    return workspace_offerings(user).annotate(first=Subquery(first)).aggregate(oldest=Min("first"))["oldest"]
