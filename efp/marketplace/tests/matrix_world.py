"""The world of the permission matrices (API: test_permission_matrix.py, GUI: web/tests/test_gui_matrix.py).

Ten personas, one column each:

    anon   anonymous (no token, no session)            cown   alice, owner of consumer organisation A
    out    dave, an outsider with no role               om     oscar, offering manager of offering O
    mem    bob, member of project A1                    pown   carol, owner of provider P (sells O and B)
    pm     frank, manager of project A1                 other  quinn, owner of provider Q (sells Q, and a
    padm   erin, admin of project A1                    staff  staff          private offering Q-private)

rita is a second owner of organisation A (no column): the team actions remove her. Each provider runs a
site agent (identity agent-o / agent-q with a service and a processor); bob has an offering user on O,
erin one on Q.

Project A1 buys from both providers. Orders on offering O: order_pc is pending the consumer (bob asked),
order_pp pending the provider, order_ex executing, order_err erred (its resource has a backend id, so it
may be retried); order_basic is pending the provider on the Basic offering B. `resource` (on O) and
`resource_q` (on Q) are OK and have a component usage and a per-user usage each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from efp.accounts.models import ApiToken, User
from efp.events.models import Event
from efp.marketplace.models import (
    AgentIdentity,
    AgentProcessor,
    AgentService,
    ComponentUsage,
    ComponentUserUsage,
    OfferingUser,
    Order,
    Plan,
    Resource,
)
from efp.marketplace.services import agents as agent_services
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import partitions as partition_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_limits as user_limit_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.offering_users import create_offering_user
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_order, make_resource, make_user
from efp.structure.models import CustomerRole, ProjectRole
from efp.structure.roles import Role
from efp.structure.services import grant_customer_role, grant_project_role

MATRIX_PERSONAS = ("anon", "out", "mem", "pm", "padm", "cown", "om", "pown", "other", "staff")


@dataclass(frozen=True)
class Row:
    """One endpoint (or action) and method, and the status each persona must get, in MATRIX_PERSONAS order."""

    method: str
    path: str  # `{name}` placeholders are filled from `MatrixWorld.names`
    codes: str
    body: dict[str, Any] | None = None
    note: str = ""

    def expected(self) -> dict[str, int]:
        codes = [int(code) for code in self.codes.split()]
        assert len(codes) == len(MATRIX_PERSONAS), f"{self.method} {self.path}: {len(codes)} codes"
        return dict(zip(MATRIX_PERSONAS, codes, strict=True))


def fill(value: Any, names: dict[str, str]) -> Any:
    """`value` with every `{name}` in its strings replaced (recursively through dicts and lists)."""
    if isinstance(value, str):
        return value.format_map(names)
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    return value


IGNORED_NAMESPACES = {"admin"}  # Django's admin: staff-only by Django itself, not part of the API


def _patterns(resolvers: list[Any], prefix: str = "", namespace: str = "") -> list[tuple[str, Any]]:
    """(view name, callback) of every URL pattern, namespaces included."""
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            space = namespace
            if entry.namespace:
                if entry.namespace in IGNORED_NAMESPACES:
                    continue
                space = f"{namespace}{entry.namespace}:"
            found += _patterns(entry.url_patterns, prefix, space)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((f"{namespace}{entry.name}", entry.callback))
    return found


def _methods(callback: Any) -> set[str]:
    """The HTTP methods a view answers: a viewset route's actions, or a view class's handlers."""
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF answers HEAD with the GET action: the GET row covers it (HEAD_ROWS run the lists' count).
        assert actions.get("head", actions.get("get")) == actions.get("get"), actions
        return {method.upper() for method in actions if method != "head"}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {
            method.upper()
            for method in view_class.http_method_names
            if method not in ("options", "head") and hasattr(view_class, method)
        }
    return set()  # a plain function view: its methods cannot be read off; the GUI matrix lists them


def routes() -> set[tuple[str, str]]:
    """(view name, HTTP method) of every route of the URL conf; (name, "") for a plain function view."""
    found = set()
    for name, callback in _patterns(get_resolver().url_patterns):
        found |= {(name, method) for method in _methods(callback) or {""}}
    return found


class MatrixWorld(MarketplaceTestCase):
    frank: User
    quinn: User
    personas: dict[str, User | None]
    labels: dict[str, str]
    names: dict[str, str]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.frank = make_user("frank")
        grant_project_role(project=cls.project_a1, user=cls.frank, role=Role.PROJECT_MANAGER)
        cls.rita = make_user("rita")  # a second owner of organisation A, whom the team actions remove
        grant_customer_role(customer=cls.org_a, user=cls.rita, role=Role.CUSTOMER_OWNER)
        cls.quinn = make_user("quinn")
        cls.provider_q = make_customer("Provider Q", owner=cls.quinn)
        cls.offering_q = make_offering(cls.provider_q, name="Offering Q")
        cls.private_q = make_offering(cls.provider_q, name="Offering Q-private", shared=False)
        cls.premium = offering_services.create_plan(
            offering=cls.offering, name="Premium", prices={"cpu": Decimal("0.03")}
        )
        alice, carol, a1 = cls.alice, cls.carol, cls.project_a1
        cls.resource = make_resource(alice, carol, a1, cls.offering, name="alloc")
        cls.resource_q = make_resource(alice, cls.quinn, a1, cls.offering_q, name="alloc-q")
        cls.order_pc = make_order(cls.bob, a1, cls.offering, name="pc")
        cls.order_pp = make_order(alice, a1, cls.offering, name="pp")
        cls.order_basic = make_order(alice, a1, cls.basic, name="basic")
        cls.order_ex = order_services.approve_order_by_provider(
            order=make_order(alice, a1, cls.offering, name="ex"), user=carol
        )
        erring = order_services.approve_order_by_provider(
            order=make_order(alice, a1, cls.offering, name="err"), user=carol
        )
        Resource.objects.filter(pk=erring.resource_id).update(backend_id="err-1")
        cls.order_err = order_services.fail_order(order=erring, user=carol, error_message="backend down")
        states = [o.state for o in (cls.order_pc, cls.order_pp, cls.order_basic, cls.order_ex, cls.order_err)]
        assert states == ["pending-consumer", "pending-provider", "pending-provider", "executing", "erred"]
        cls.resource_erred = Resource.objects.get(pk=cls.order_err.resource_id)
        assert cls.resource_erred.state == "Erred"
        for resource, provider in ((cls.resource, carol), (cls.resource_q, cls.quinn)):
            usage_services.set_usage(
                user=provider, resource=resource, usages=[usage_services.UsageItem("cpu", Decimal(5))]
            )
            user_usage_services.set_user_usages(
                user=provider,
                component_usage=ComponentUsage.objects.get(resource=resource),
                items=[usage_services.UserUsageItem("bob", Decimal(3))],
            )
        for offering, owner, name in (
            (cls.offering, carol, "agent-o"),
            (cls.offering_q, cls.quinn, "agent-q"),
        ):
            identity = agent_services.create_agent_identity(
                user=owner, data=agent_services.IdentityData(offering=offering, name=name)
            )
            service, _ = agent_services.register_agent_service(
                identity=identity, user=owner, name=f"{name}-svc", mode="order_process"
            )
            agent_services.register_agent_processor(
                service=service, user=owner, name=f"{name}-proc", backend_type="slurm"
            )
        create_offering_user(actor=carol, offering=cls.offering, user=cls.bob, username="bob_o")
        create_offering_user(actor=cls.quinn, offering=cls.offering_q, user=cls.erin, username="erin_q")
        cls.user_limit = user_limit_services.set_user_limit(
            actor=alice,
            limit=user_limit_services.UserLimit(
                resource=cls.resource,
                component=cls.offering.components.get(type="cpu"),
                user=OfferingUser.objects.get(username="bob_o"),
                limit=Decimal(10),
            ),
        )
        cls.partition = partition_services.add_partition(
            user=carol, offering=cls.offering, partition_name="cpu"
        )
        cls.personas = {
            "anon": None,
            "out": cls.dave,
            "mem": cls.bob,
            "pm": cls.frank,
            "padm": cls.erin,
            "cown": cls.alice,
            "om": cls.oscar,
            "pown": cls.carol,
            "other": cls.quinn,
            "staff": cls.staff,
        }
        cls.labels = cls._labels()
        standard = Plan.objects.get(offering=cls.offering, name="Standard")
        cls.names = {label: key for key, label in cls.labels.items()}
        cls.names.update(
            project_url=cls.project_url(a1),
            offering_url=cls.offering_url(cls.offering),
            plan_url=cls.plan_url(standard),
            premium_url=cls.plan_url(cls.premium),
            provider_p_url=f"http://testserver/api/customers/{cls.provider_p.uuid.hex}/",
            org_a_url=f"http://testserver/api/customers/{cls.org_a.uuid.hex}/",
            category_url=f"http://testserver/api/marketplace-categories/{cls.offering.category.uuid.hex}/",
            plan=standard.uuid.hex,
            category=cls.offering.category.uuid.hex,
            service_provider=cls.provider_p.service_provider.uuid.hex,
            user_out_url=f"http://testserver/api/users/{cls.dave.uuid.hex}/",
            provider_offering_url=f"http://testserver/api/marketplace-provider-offerings/{cls.offering.uuid.hex}/",
            resource_url=f"http://testserver/api/marketplace-resources/{cls.resource.uuid.hex}/",
            offering_user_bob_url=(
                f"http://testserver/api/marketplace-offering-users/{cls.user_limit.user.uuid.hex}/"
            ),
            cpu=cls.user_limit.component.uuid.hex,
            gpu=cls.offering.components.get(type="gpu").uuid.hex,
            partition=cls.partition.uuid.hex,
        )

    @classmethod
    def _labels(cls) -> dict[str, str]:
        """uuid hex → the name the tables use for the object."""
        objects: dict[str, Any] = {
            "org_a": cls.org_a,
            "provider_p": cls.provider_p,
            "provider_q": cls.provider_q,
            "project_a1": cls.project_a1,
            "offering": cls.offering,
            "basic": cls.basic,
            "offering_q": cls.offering_q,
            "private_q": cls.private_q,
            "resource": cls.resource,
            "resource_q": cls.resource_q,
            "resource_erred": cls.resource_erred,
            "resource_pc": cls.order_pc.resource,
            "resource_pp": cls.order_pp.resource,
            "resource_basic": cls.order_basic.resource,
            "resource_ex": cls.order_ex.resource,
            "order_pc": cls.order_pc,
            "order_pp": cls.order_pp,
            "order_basic": cls.order_basic,
            "order_ex": cls.order_ex,
            "order_err": cls.order_err,
            "order_resource": Order.objects.get(resource=cls.resource),
            "order_resource_q": Order.objects.get(resource=cls.resource_q),
            "usage": ComponentUsage.objects.get(resource=cls.resource),
            "usage_q": ComponentUsage.objects.get(resource=cls.resource_q),
            "user_usage": ComponentUserUsage.objects.get(component_usage__resource=cls.resource),
            "user_usage_q": ComponentUserUsage.objects.get(component_usage__resource=cls.resource_q),
            "user_rita": cls.rita,
            "agent_o": AgentIdentity.objects.get(name="agent-o"),
            "agent_q": AgentIdentity.objects.get(name="agent-q"),
            "agent_service_o": AgentService.objects.get(name="agent-o-svc"),
            "agent_processor_o": AgentProcessor.objects.get(name="agent-o-proc"),
            "offering_user_bob": OfferingUser.objects.get(username="bob_o"),
            "offering_user_erin": OfferingUser.objects.get(username="erin_q"),
            "user_limit": cls.user_limit,
            "grant_rita": CustomerRole.objects.get(user=cls.rita),
            "grant_bob": ProjectRole.objects.get(user=cls.bob),
            "event_pc": Event.objects.get(order_id=cls.order_pc.pk, event_type="marketplace_order_created"),
            "event_grant_rita": Event.objects.get(event_type="role_granted", user_id=cls.rita.pk),
            "event_grant_bob": Event.objects.filter(event_type="role_granted", user_id=cls.bob.pk).first(),
        }
        for plan in Plan.objects.select_related("offering"):
            objects[f"plan {plan.offering.name}/{plan.name}"] = plan
        for key, user in cls.personas.items():
            if user is not None:
                objects[f"user_{key}"] = user
        return {obj.uuid.hex: label for label, obj in objects.items()}

    def run_cells(
        self, rows: list[Row], call: Callable[[str, Row], Any], after: Callable[[str], None] | None = None
    ) -> tuple[int, list[str]]:
        """Runs every cell, each in a savepoint rolled back afterwards; returns (cells run, differences).

        `after(persona)` runs after each cell's rollback (the GUI signs its client in again there)."""
        wrong = []
        cells = 0
        before = self.snapshot()
        for row in rows:
            for persona, expected in row.expected().items():
                cells += 1
                with transaction.atomic():
                    response = call(persona, row)
                    transaction.set_rollback(True)
                if after is not None:
                    after(persona)
                if response.status_code != expected:
                    body = getattr(response, "data", None) or response.content[:200]
                    wrong.append(
                        f"{row.method} {row.path} as {persona}: expected {expected}, "
                        f"got {response.status_code} {body!r}"
                    )
        assert self.snapshot() == before, "a cell's change outlived its savepoint"
        return cells, wrong

    @staticmethod
    def snapshot() -> dict[str, Any]:
        return {
            "orders": sorted(Order.objects.values_list("uuid", "state", "backend_id")),
            "resources": sorted(Resource.objects.values_list("uuid", "state", "backend_id", "end_date")),
            "usages": sorted(ComponentUsage.objects.values_list("uuid", "usage")),
            "user usages": sorted(ComponentUserUsage.objects.values_list("uuid", "usage")),
            "plans": Plan.objects.count(),
            "tokens": sorted(ApiToken.objects.filter(revoked__isnull=True).values_list("digest", flat=True)),
        }
