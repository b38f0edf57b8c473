"""Who is told: the people whose role covers the object, answered by the rules that already exist.

Candidates are the users holding any role (in force or not) in the object's organisations, project or
offering; each is then asked the existing question: may they use the verb (`guard.may`, for an order
waiting for a decision) or do they hold the permission (`has_permission`, which reads
`structure/access.py`: roles in force, removed projects, staff). No role logic of its own.

Which permission stands for which audience, as data:
- an allocation's consumer side: who may change its limits (organisation owners, project administrators
  and managers);
- an allocation's provider side: who reports its usage (provider owners and offering managers).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from efp.accounts.models import User
from efp.marketplace.models import Offering, OfferingRole, Order, Resource
from efp.marketplace.services.guard import may
from efp.marketplace.verbs import ORDER_VERBS
from efp.structure.models import CustomerRole, ProjectRole
from efp.structure.permissions import has_permission
from efp.structure.roles import Permission

CONSUMER_ALLOCATION = Permission.RESOURCE_SET_LIMITS
PROVIDER_ALLOCATION = Permission.RESOURCE_SET_USAGE
# Who decides an order waiting in a state: the verb whose use the notification asks for.
DECIDING_VERB = {"pending-consumer": "approve_by_consumer", "pending-provider": "approve_by_provider"}


def candidates(
    *, customers: Iterable[int] = (), projects: Iterable[int] = (), offerings: Iterable[int] = ()
) -> QuerySet[User]:
    """Active users with any role row in these scopes (a superset: the callers ask the rule)."""
    held = (
        Q(pk__in=CustomerRole.all_objects.filter(customer_id__in=list(customers)).values("user_id"))
        | Q(pk__in=ProjectRole.all_objects.filter(project_id__in=list(projects)).values("user_id"))
        | Q(pk__in=OfferingRole.objects.filter(offering_id__in=list(offerings)).values("user_id"))
    )
    return User.objects.filter(held, is_active=True).order_by("pk")


def order_deciders(order: Order) -> list[User]:
    """Who may take the decision the order waits for in its current state (none if it waits for none)."""
    verb_name = DECIDING_VERB.get(order.state)
    if verb_name is None:
        return []
    verb = ORDER_VERBS[verb_name]
    if verb_name == "approve_by_consumer":
        users = candidates(customers=[order.project.customer_id], projects=[order.project_id])
    else:
        users = candidates(customers=[order.offering.customer_id], offerings=[order.offering_id])
    return [user for user in users if may(verb, order, user)]


def allocation_consumers(resource: Resource) -> list[User]:
    project = resource.project
    users = candidates(customers=[project.customer_id], projects=[project.pk])
    return [user for user in users if has_permission(user, CONSUMER_ALLOCATION, projects=[project.pk])]


def allocation_providers(offering: Offering) -> list[User]:
    users = candidates(customers=[offering.customer_id], offerings=[offering.pk])
    return [user for user in users if has_permission(user, PROVIDER_ALLOCATION, offerings=[offering.pk])]


def allocation_sides(resource: Resource) -> list[tuple[bool, list[User]]]:
    """Both sides of an allocation, each with whether it is the provider's: (False, its consumers),
    (True, its offering's provider side)."""
    return [(False, allocation_consumers(resource)), (True, allocation_providers(resource.offering))]
