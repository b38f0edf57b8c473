"""The catalogue (providers, offerings, components, plans: through the services) and the consumers
(organisations, projects, users and their roles: in bulk).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from bench.scale_seed.bulk import allocate_ids, insert
from efp.accounts.models import User
from efp.accounts.services import issue_token
from efp.marketplace.models import (
    Category,
    Offering,
    OfferingComponent,
    OfferingType,
    Plan,
)
from efp.marketplace.services import offerings as offering_services
from efp.structure.models import Customer, CustomerRole, Project, ProjectRole
from efp.structure.roles import Role
from efp.structure.services import create_customer, grant_customer_role

BT = OfferingComponent.BillingType

PROVIDERS = 4
SLURM_OFFERINGS_PER_PROVIDER = 2  # plus one Basic offering each
CONSUMERS = 50
PROJECTS_PER_CONSUMER = 4
FIRST_PROVIDER_SLUG = "scale-provider-1"


@dataclass
class Catalogue:
    offerings: list[Offering]
    plans: dict[int, Plan]
    components: dict[int, list[OfferingComponent]]
    prices: dict[int, dict[str, Decimal]]
    provider_owner: dict[int, User]  # customer id → owner


@dataclass
class Consumers:
    projects: list[Project]
    owner_of: dict[int, int]  # customer id → owner user id
    members: dict[int, list[tuple[int, str]]]  # project id → [(user id, username)]
    future_projects: list[Project] = field(default_factory=list)


def provider_username(index: int) -> str:
    return f"scale-provider-{index}"


def build_catalogue() -> Catalogue:
    category, _ = Category.objects.get_or_create(title="HPC", defaults={"description": "Compute and storage"})
    offerings: list[Offering] = []
    owners: dict[int, User] = {}
    for p in range(1, PROVIDERS + 1):
        owner = User.objects.create_user(
            username=provider_username(p), email=f"{provider_username(p)}@example.org", password=None
        )
        customer = create_customer(name=f"Scale provider {p}", abbreviation=f"SP{p}")
        customer.slug = f"scale-provider-{p}"
        customer.save(update_fields=["slug"])
        grant_customer_role(customer=customer, user=owner, role=Role.CUSTOMER_OWNER)
        offering_services.register_service_provider(customer=customer, description=f"Scale provider {p}")
        owners[customer.pk] = owner
        for o in range(1, SLURM_OFFERINGS_PER_PROVIDER + 2):
            basic = o > SLURM_OFFERINGS_PER_PROVIDER
            offering = offering_services.create_offering(
                customer=customer,
                category=category,
                name=f"Scale {'consulting' if basic else 'cluster'} {p}.{o}",
                offering_type=OfferingType.BASIC if basic else OfferingType.SLURM,
                description="Seeded by efp seed-scale.",
                backend_id="" if basic else f"cluster-{p}-{o}",
            )
            usage_types = ("hours", "sessions") if basic else ("cpu", "gpu")
            for component_type in usage_types:
                offering_services.add_component(
                    offering=offering,
                    component_type=component_type,
                    name=component_type.title(),
                    billing_type=BT.USAGE,
                    measured_unit="hours",
                )
            offering_services.add_component(
                offering=offering,
                component_type="storage",
                name="Storage",
                billing_type=BT.LIMIT,
                measured_unit="TB",
                limit_period=OfferingComponent.LimitPeriod.TOTAL,
                min_value=0,
                max_value=1000,
            )
            offering_services.create_plan(
                offering=offering,
                name="Standard",
                prices={
                    usage_types[0]: Decimal("0.02"),
                    usage_types[1]: Decimal("0.9"),
                    "storage": Decimal(8),
                },
            )
            offerings.append(offering)
    plans = {o.pk: o.plans.get() for o in offerings}
    return Catalogue(
        offerings=offerings,
        plans=plans,
        components={o.pk: list(o.components.order_by("pk")) for o in offerings},
        prices={
            o.pk: {pc.component.type: pc.price for pc in plans[o.pk].components.all()} for o in offerings
        },
        provider_owner=owners,
    )


def build_consumers(members_per_project: int, now: datetime.datetime) -> Consumers:
    customer_ids = allocate_ids(Customer, CONSUMERS)
    insert(
        Customer,
        ["id", "name", "slug", "abbreviation"],
        (
            (cid, f"Scale university {i}", f"scale-university-{i}", f"SU{i}")
            for i, cid in enumerate(customer_ids)
        ),
    )
    projects_count = CONSUMERS * PROJECTS_PER_CONSUMER
    project_ids = allocate_ids(Project, projects_count)
    future = now.date() + datetime.timedelta(days=40)
    project_rows = [
        (
            pid,
            customer_ids[i // PROJECTS_PER_CONSUMER],
            f"Scale project {i}",
            f"scale-project-{i}",
            future if i % 50 == 49 else None,  # a few projects start later: their orders wait
        )
        for i, pid in enumerate(project_ids)
    ]
    insert(Project, ["id", "customer_id", "name", "slug", "start_date"], project_rows)
    people = CONSUMERS + projects_count * members_per_project
    user_ids = allocate_ids(User, people)
    names = [f"scale-owner-{i}" for i in range(CONSUMERS)] + [
        f"scale-user-{i}" for i in range(projects_count * members_per_project)
    ]
    insert(
        User,
        ["id", "username", "email", "password", "is_active", "date_joined"],
        (
            (uid, name, f"{name}@example.org", "!", True, now)
            for uid, name in zip(user_ids, names, strict=True)
        ),
    )
    owner_of = {cid: user_ids[i] for i, cid in enumerate(customer_ids)}
    insert(
        CustomerRole,
        ["id", "user_id", "customer_id", "role"],
        (
            (rid, owner_of[cid], cid, Role.CUSTOMER_OWNER.value)
            for rid, cid in zip(allocate_ids(CustomerRole, CONSUMERS), customer_ids, strict=True)
        ),
    )
    members: dict[int, list[tuple[int, str]]] = {}
    role_rows = []
    offset = CONSUMERS
    for pid in project_ids:
        team = [(user_ids[offset + k], names[offset + k]) for k in range(members_per_project)]
        offset += members_per_project
        members[pid] = team
        role_rows += [
            (pid, uid, Role.PROJECT_ADMIN.value if k == 0 else Role.PROJECT_MEMBER.value)
            for k, (uid, _) in enumerate(team)
        ]
    insert(
        ProjectRole,
        ["id", "project_id", "user_id", "role"],
        ((rid, *row) for rid, row in zip(allocate_ids(ProjectRole, len(role_rows)), role_rows, strict=True)),
    )
    projects = list(Project.objects.filter(pk__in=project_ids).select_related("customer").order_by("pk"))
    return Consumers(
        projects=[p for p in projects if p.start_date is None],
        owner_of=owner_of,
        members=members,
        future_projects=[p for p in projects if p.start_date is not None],
    )


def provider_token(index: int = 1) -> str:
    """A new API token of a provider's owner (only digests are stored: an old key cannot be read back)."""
    return issue_token(user=User.objects.get(username=provider_username(index)), name="bench")[1]
