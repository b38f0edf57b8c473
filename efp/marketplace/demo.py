"""Demo data (`efp demo`): built through the same services the API and GUI use. Idempotent."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from efp.accounts.models import ApiToken, User
from efp.accounts.services import issue_token, revoke_token
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import (
    Category,
    ComponentUsage,
    Offering,
    OfferingComponent,
    OfferingType,
    Order,
    Resource,
    UsageRevision,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import renewals
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services.corrections import correct_usage
from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.services.member_sync import SyncEntry, report_member_sync
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.services.partitions import add_partition
from efp.marketplace.services.usage import UsageItem, UserUsageItem, set_usage
from efp.marketplace.services.user_usage import set_user_usages
from efp.marketplace.states import USAGE_REPORTABLE_STATES, OrderState
from efp.structure.models import Customer, Project
from efp.structure.roles import Role
from efp.structure.services import (
    create_customer,
    create_project,
    grant_customer_role,
    grant_project_role,
    update_user_role,
)

DEMO_USERS = {
    "staff": ("Sam", "Staff", "staff user (everything)"),
    "provider": ("Petra", "Provider", "owner of the provider organisation"),
    "manager": ("Mikko", "Manager", "offering manager of the Slurm offering"),
    "owner": ("Olga", "Owner", "owner of the consumer organisations"),
    "pi": ("Paul", "Investigator", "project admin"),
    "member": ("Mari", "Member", "project member"),
}
PROVIDER_SLUG = "efp-hpc-centre"
DEMO_TOKEN = "demo"  # the name of the API tokens the demo prints
BW = OfferingComponent.BillingType


def _user(username: str) -> User:
    first, last, _ = DEMO_USERS[username]
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
    )
    if created:
        user.set_password(username)
        if username == "staff":
            user.is_staff = True
            user.is_superuser = True
        user.save()
    return user


def users() -> dict[str, User]:
    return {name: _user(name) for name in DEMO_USERS}


# Sent at the end of every `build()` with `users`: apps above marketplace (hooks) add their demo data.
built = Signal()


def build() -> dict[str, Any]:
    """Creates the demo world once; a second call only makes sure the users exist (`tokens` prints keys)."""
    result = _build()
    built.send(sender=None, users=result["users"])
    return result


@transaction.atomic
def _build() -> dict[str, Any]:
    people = users()
    existing = Customer.objects.filter(slug=PROVIDER_SLUG).first()
    if existing is not None:
        build_usage_history(actor=people["staff"])
        build_corrections(people["provider"])
        build_forecast_examples(actor=people["staff"])
        return {"users": people, "created": False}

    provider_org = create_customer(name="EFP HPC Centre", abbreviation="EFP-HPC")
    provider_org.slug = PROVIDER_SLUG
    provider_org.save(update_fields=["slug"])
    grant_customer_role(customer=provider_org, user=people["provider"], role=Role.CUSTOMER_OWNER)
    offering_services.register_service_provider(customer=provider_org, description="National HPC services")
    hpc, _ = Category.objects.get_or_create(title="HPC", defaults={"description": "Compute and storage"})

    slurm = offering_services.create_offering(
        customer=provider_org,
        category=hpc,
        name="Marketplace.Slurm cluster Aurora",
        offering_type=OfferingType.SLURM,
        description="Batch compute on the Aurora cluster (CPU and GPU partitions) with project storage.",
        backend_id="aurora",
        plugin_options={"enable_membership_sync_status": True},
    )
    offering_services.add_component(
        offering=slurm, component_type="cpu", name="CPU", billing_type=BW.USAGE, measured_unit="core-hours"
    )
    offering_services.add_component(
        offering=slurm, component_type="gpu", name="GPU", billing_type=BW.USAGE, measured_unit="GPU-hours"
    )
    offering_services.add_component(
        offering=slurm,
        component_type="storage",
        name="Storage",
        billing_type=BW.LIMIT,
        measured_unit="TB",
        limit_period=OfferingComponent.LimitPeriod.TOTAL,
        min_value=0,
        max_value=500,
    )
    slurm_plan = offering_services.create_plan(
        offering=slurm,
        name="Standard",
        unit_price=Decimal("0"),
        prices={"cpu": Decimal("0.02"), "gpu": Decimal("0.90"), "storage": Decimal("8.00")},
    )
    offering_services.grant_offering_manager(offering=slurm, user=people["manager"])
    # Aurora's SLURM partitions, which the site agent reads from the offering.
    add_partition(offering=slurm, partition_name="cpu", user=None, cpu_arch="x86_64/amd/zen3", max_time=2880)
    add_partition(offering=slurm, partition_name="gpu", user=None, gpu_arch="nvidia/cc90", def_cpu_per_gpu=16)
    # Account names at Aurora, for a site agent serving the offering (docs/site-agent.md).
    for person in ("pi", "member"):
        create_offering_user(actor=None, offering=slurm, user=people[person], username=f"{person}_aurora")

    basic = offering_services.create_offering(
        customer=provider_org,
        category=hpc,
        name="Research software consulting",
        offering_type=OfferingType.BASIC,
        description="Hours of help from research software engineers.",
        plugin_options={"can_restore_resource": True},  # the provider may bring a finished engagement back
    )
    offering_services.add_component(
        offering=basic,
        component_type="hours",
        name="Consulting hours",
        billing_type=BW.LIMIT,
        measured_unit="hours",
        max_value=200,
    )
    basic_plan = offering_services.create_plan(
        offering=basic, name="Hourly", prices={"hours": Decimal("75.00")}
    )

    physics = create_customer(name="University of Tartu Physics", abbreviation="UT-PHYS")
    lakeside = create_customer(name="Lakeside Institute", abbreviation="LAKE")
    for org in (physics, lakeside):
        grant_customer_role(customer=org, user=people["owner"], role=Role.CUSTOMER_OWNER)
    climate = create_project(
        customer=physics, name="Climate modelling", description="Regional climate ensembles"
    )
    genome = create_project(
        customer=physics, name="Genome assembly", description="Long-read assembly pipelines"
    )
    materials = create_project(customer=lakeside, name="Materials design", description="DFT screening")
    future = create_project(
        customer=lakeside,
        name="Fusion diagnostics (starts next month)",
        start_date=timezone.localdate() + datetime.timedelta(days=35),
    )
    for project in (climate, genome):
        grant_project_role(project=project, user=people["pi"], role=Role.PROJECT_ADMIN)
        grant_project_role(project=project, user=people["member"], role=Role.PROJECT_MEMBER)

    staff, owner, pi, provider = people["staff"], people["owner"], people["pi"], people["provider"]

    def order(project: Project, name: str, storage: int = 10, by: User = owner, hours: int = 0) -> Order:
        """An order on Aurora (`storage` TB), or for consulting (`hours`)."""
        return order_services.create_order(
            user=by,
            project=project,
            offering=basic if hours else slurm,
            plan=basic_plan if hours else slurm_plan,
            attributes={"name": name},
            limits={"hours": hours} if hours else {"storage": storage},
        )

    def provision(o: Order, backend_id: str) -> Resource:
        order_services.approve_order_by_provider(order=o, user=provider)
        o.refresh_from_db()
        assert o.resource is not None
        from efp.marketplace.models import Resource as R

        # Running for a year: its usage history (below) and its coverage start 13 months ago.
        created = timezone.now() - datetime.timedelta(days=400)
        R.objects.filter(pk=o.resource.pk).update(backend_id=backend_id, created=created)
        order_services.complete_order(order=o, user=provider)
        o.resource.refresh_from_db()
        return o.resource

    # Resources in OK state (done Create orders) with real allocations.
    active = [
        provision(order(climate, "climate-ensembles", 40), "hpc_climate_ens"),
        provision(order(climate, "climate-downscaling", 20), "hpc_climate_down"),
        provision(order(genome, "genome-longread", 60), "hpc_genome_lr"),
        provision(order(materials, "materials-dft", 25), "hpc_materials_dft"),
        provision(order(materials, "materials-ml", 15), "hpc_materials_ml"),
    ]
    # What the site agent records, shown on the allocation page (issue 17).
    resource_services.set_resource_endpoints(
        resource=active[0],
        user=provider,
        endpoints=[{"name": "Login node", "url": "ssh://aurora.example.org"}],
    )
    resource_services.set_resource_backend_metadata(
        resource=active[0], user=provider, backend_metadata={"cluster": "aurora", "partition": "climate"}
    )
    # What reached Aurora of the climate team's grants, as a site agent reports it.
    report_member_sync(
        user=provider,
        resource=active[0],
        entries=[
            SyncEntry("resource", "admin", "synced", username="pi_aurora"),
            SyncEntry(
                "resource", "member", "pending", username="member_aurora", message="LDAP group not yet"
            ),
        ],
    )
    # Every other state.
    order(climate, "climate-pending-pi", 5, by=pi)  # pending-consumer: a PI may not approve
    order(genome, "genome-gpu-request", 30)  # pending-provider
    order(materials, "materials-new-partition", 12)  # pending-provider
    executing = order(genome, "genome-annotation", 8)
    order_services.approve_order_by_provider(order=executing, user=provider)  # executing
    erred = order(materials, "materials-broken", 4)
    order_services.approve_order_by_provider(order=erred, user=provider)
    order_services.fail_order(
        order=erred, user=provider, error_message="sacctmgr: account name already exists"
    )
    rejected = order(climate, "climate-too-big", 400)
    order_services.reject_order_by_provider(
        order=rejected,
        user=provider,
        comment="400 TB exceeds what Aurora can host; please request at most 100 TB.",
    )
    order_services.cancel_order(order=order(climate, "consulting-climate", hours=20), user=owner)  # canceled
    # A finished engagement, Terminated, on an offering that allows restore: `provider` may bring it back.
    provide_then_terminate(order(materials, "consulting-materials-2025", hours=40), provider)
    order_services.create_order(
        user=owner,
        project=future,
        offering=slurm,
        plan=slurm_plan,
        attributes={"name": "fusion-startup"},
        limits={"storage": 5},
    )  # pending-project
    # An Update (limit change) and a Terminate waiting for the provider.
    order_services.update_resource_limits(resource=active[0], user=owner, limits={"storage": 60})
    order_services.terminate_resource(resource=active[4], user=owner)
    # An extension request waiting for the provider: six more months and more storage, with a reason.
    renewals.set_end_date_by_consumer(
        resource=active[3], user=owner, end_date=timezone.localdate() + datetime.timedelta(days=25)
    )
    renewals.renew_resource(
        resource=active[3],
        user=owner,
        extension_months=6,
        limits={"storage": 80},
        justification="The DFT screening of the second materials batch needs six more months and 55 TB more "
        "for wavefunction files; the first batch used its allocation as planned.",
        extension_request=True,
    )
    build_consumer_side(people, genome=genome, slurm=slurm, plan=slurm_plan)
    assert {s.value for s in OrderState} - {"pending-start-date"} <= set(
        Order.objects.values_list("state", flat=True)
    ), "the demo must hold orders in every state"
    build_usage_history(actor=staff)
    build_corrections(people["provider"])
    build_forecast_examples(actor=staff)
    return {"users": people, "created": True, "staff": staff, "offering": slurm}


def build_consumer_side(people: dict[str, User], *, genome: Project, slurm: Offering, plan: Any) -> None:
    """What `member`, `pi` and `owner` find in their workspace besides the orders above: a member's order
    waiting for the owner, one the owner rejected with a reason, a limit change by the PI waiting for the
    owner, and a team role that expires."""
    owner, pi, member = people["owner"], people["pi"], people["member"]
    order_services.create_order(
        user=member,
        project=genome,
        offering=slurm,
        plan=plan,
        attributes={"name": "genome-member-scratch"},
        limits={"storage": 8},
        request_comment="Scratch space for the new sequencing run.",
    )  # pending-consumer: a member's order waits for the owner
    refused = order_services.create_order(
        user=member,
        project=genome,
        offering=slurm,
        plan=plan,
        attributes={"name": "genome-archive"},
        limits={"storage": 300},
    )
    order_services.reject_order_by_consumer(
        order=refused,
        user=owner,
        comment="Archive to the university tape service instead; it is free for us.",
    )
    lr = Resource.objects.get(name="genome-longread")
    order_services.update_resource_limits(resource=lr, user=pi, limits={"storage": 80})  # pending-consumer
    update_user_role(
        scope=genome,
        user=member,
        role=Role.PROJECT_MEMBER,
        actor=owner,
        expiration_time=timezone.now() + datetime.timedelta(days=180),
    )


def provide_then_terminate(placed: Order, provider: User) -> None:
    """The provider carries out the order, then terminates its resource: it ends Terminated."""
    _carry_out(placed, provider)
    resource = Resource.objects.get(orders=placed)
    _carry_out(order_services.terminate_resource(resource=resource, user=provider), provider)


def _carry_out(order: Order, provider: User) -> None:
    """The provider approves the order (if it waits for them) and completes it (if it is not done yet)."""
    if order.state == OrderState.PENDING_PROVIDER:
        order = order_services.approve_order_by_provider(order=order, user=provider)
    if order.state != OrderState.DONE:
        order_services.complete_order(order=order, user=provider)


# --- usage history --------------------------------------------------------------------------------

USAGE_MONTHS = 12
DEMO_CLUSTER_USERS = ("anna", "bruno", "chen", "dana", "emil", "fatima", "gustav")
# Typical month of a busy project, per usage component type.
MONTHLY_SCALE = {"cpu": 8000, "gpu": 250}
# Months (counted back from the current one) never reported, so that the usage coverage matrix and the
# dashboard's "Missing usage reports last month" have something to show.
MISSING_MONTHS = {"genome-longread": (1, 4), "materials-dft": (1,), "climate-downscaling": (6,)}


def _split(total: Decimal, people: list[str], rng: random.Random) -> list[UserUsageItem]:
    """Per-user shares that add up to the total exactly."""
    weights = [rng.uniform(0.2, 1.0) for _ in people]
    shares = [(total * Decimal(w / sum(weights))).quantize(Decimal("0.01")) for w in weights]
    shares[-1] = total - sum(shares[:-1], Decimal(0))
    return [UserUsageItem(username=name, usage=share) for name, share in zip(people, shares, strict=True)]


def build_usage_history(*, actor: User) -> int:
    """Twelve months of usage (this month so far and the eleven before) for the usage components of every
    demo resource that may report usage, split among 3 to 5 cluster users a month; this month also reports
    limit components. Written through the usage service as staff (who may back-fill), source "demo".
    The months of `MISSING_MONTHS` stay unreported.
    Months that already hold usage are left alone, so a second run adds nothing. Returns the months written.
    """
    now = timezone.now()
    current = billing_period_of(now)
    written = 0
    resources = (
        Resource.objects.filter(
            offering__customer__slug=PROVIDER_SLUG, state__in=list(USAGE_REPORTABLE_STATES)
        )
        .select_related("offering")
        .order_by("pk")
    )
    for resource in resources:
        components = list(resource.offering.components.all())
        usage_components = [c for c in components if c.billing_type == BW.USAGE]
        if not usage_components:
            continue
        rng = random.Random(resource.name)  # noqa: S311 - demo figures, not secrets
        done = set(ComponentUsage.objects.filter(resource=resource).values_list("billing_period", flat=True))
        for offset in range(USAGE_MONTHS - 1, -1, -1):
            month = add_months(current, -offset)
            if month in done or offset in MISSING_MONTHS.get(resource.name, ()):
                continue
            growth = 0.6 + 0.4 * (USAGE_MONTHS - offset) / USAGE_MONTHS
            # The current month is reported so far; past months are full.
            share_of_month = min(1.0, (now.day / 28) if offset == 0 else 1.0)
            items = [
                UsageItem(
                    type=c.type,
                    amount=Decimal(
                        MONTHLY_SCALE.get(c.type, 100) * growth * share_of_month * rng.uniform(0.5, 1.2)
                    ).quantize(Decimal("0.01")),
                    description="demo",
                )
                for c in usage_components
            ]
            if offset == 0:
                items += [
                    UsageItem(
                        type=c.type,
                        amount=Decimal(int(resource.limits.get(c.type, 0) * rng.uniform(0.3, 0.9))),
                    )
                    for c in components
                    if c.billing_type == BW.LIMIT and resource.limits.get(c.type)
                ]
            date = now if offset == 0 else month_start(month) + datetime.timedelta(days=27, hours=12)
            usages = set_usage(
                user=actor, resource=resource, usages=items, date=date, source=UsageRevision.Source.DEMO
            )
            for usage in usages:
                if usage.component.billing_type != BW.USAGE:
                    continue
                people = rng.sample(DEMO_CLUSTER_USERS, rng.randint(3, 5))
                set_user_usages(
                    user=actor,
                    component_usage=usage,
                    items=_split(usage.usage, people, rng),
                    source=UsageRevision.Source.DEMO,
                )
            written += 1
    return written


# Corrections of climate-ensembles' CPU (issue 16): last month's, and one two months back that leaves the
# month's users adding up to more than its total (Show usage flags it).
DEMO_CORRECTIONS = (
    (1, None, "The scheduler counted a requeued job twice; corrected from the accounting database."),
    (2, Decimal("12.50"), "Only the jobs of the pilot study are billed to this allocation."),
)


def build_corrections(provider: User) -> int:
    """The demo's corrections, written once by the provider (who may correct 3 months back)."""
    resource = Resource.objects.filter(
        name="climate-ensembles", offering__customer__slug=PROVIDER_SLUG
    ).first()
    if (
        resource is None
        or UsageRevision.objects.filter(
            component_usage__resource=resource, verb=UsageRevision.Verb.CORRECT
        ).exists()
    ):
        return 0
    current = billing_period_of(timezone.now())
    written = 0
    for back, amount, reason in DEMO_CORRECTIONS:
        usage = ComponentUsage.objects.filter(
            resource=resource, component__type="cpu", billing_period=add_months(current, -back)
        ).first()
        if usage is None:
            continue
        new = amount if amount is not None else (usage.usage * Decimal("0.8")).quantize(Decimal("0.01"))
        correct_usage(user=provider, usage=usage, amount=new, reason=reason, source=UsageRevision.Source.DEMO)
        written += 1
    return written


# One resource per usage flag (marketplace/forecasts.FLAGS): name → (component, month offset, amount).
# climate-ensembles runs out of storage before its end at this month's rate (a total limit: it never
# starts over); downscaling is over its 20 TB; longread's CPU two months back was lowered (last month is
# one of MISSING_MONTHS); materials-dft's
# CPU this month is several times its usual month.
FORECAST_EXAMPLES: dict[str, tuple[str, int, Decimal]] = {
    "climate-downscaling": ("storage", 0, Decimal(26)),
    "genome-longread": ("cpu", -2, Decimal(1200)),
    "materials-dft": ("cpu", 0, Decimal(40000)),
}


def build_forecast_examples(*, actor: User) -> None:
    """Writes the usage of FORECAST_EXAMPLES (once: a value already written is left alone), then stores
    every resource's forecast and flags, as the daily job does."""
    current = billing_period_of(timezone.now())
    for name, (component, offset, amount) in FORECAST_EXAMPLES.items():
        resource = Resource.objects.filter(
            name=name, offering__customer__slug=PROVIDER_SLUG, state__in=list(USAGE_REPORTABLE_STATES)
        ).first()
        if resource is None:
            continue
        month = add_months(current, offset)
        written = ComponentUsage.objects.filter(
            resource=resource, component__type=component, billing_period=month, usage=amount
        )
        if written.exists():
            continue
        date = timezone.now() if offset == 0 else month_start(month) + datetime.timedelta(days=27, hours=12)
        set_usage(
            user=actor,
            resource=resource,
            usages=[UsageItem(type=component, amount=amount, description="demo")],
            date=date,
            source=UsageRevision.Source.DEMO,
        )
    refresh_forecasts()


def tokens() -> dict[str, str]:
    """A fresh `demo` token per demo user (keys are stored only as digests, so old ones cannot be shown):
    the ones printed before are revoked, so each user keeps one `demo` token however often this runs."""
    keys = {}
    for name, user in users().items():
        for old in ApiToken.objects.filter(user=user, name=DEMO_TOKEN, revoked__isnull=True):
            revoke_token(token=old, by=user)
        keys[name] = issue_token(user=user, name=DEMO_TOKEN)[1]
    return keys


def describe() -> str:
    lines = ["Demo logins (password = username) and API tokens:"]
    for name, token in tokens().items():
        lines.append(f"  {name:<9} {token}   {DEMO_USERS[name][2]}")
    offering = Offering.objects.filter(type=OfferingType.SLURM, customer__slug=PROVIDER_SLUG).first()
    if offering is not None:
        lines.append(f"Slurm offering uuid: {offering.uuid.hex}")
    return "\n".join(lines)
