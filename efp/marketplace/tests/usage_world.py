"""A world for usage coverage and the usage report, built under time travel: "now" is 2026-06-15.

On offering O (carol's, managed by oscar), in alice's project A1:
- `steady`, live since December 2025: reported January, February and April; March and May missing.
- `late`, live from 20 March 2026: March missing, April and May reported.
- `gone`, live since November 2025, terminated on 10 February 2026: January reported, February missing.
- `pending`, approved but never provisioned (Creating): never live, so in no row.
On offering N (carol's, a limit component only), `quota`, live since 2025: never due.
On offering B (carol's, not oscar's), `consult`, live since 2025: January reported.
The plan of O (and of B) charges cpu 0.02 and gpu 0 until `steady` moves to plan Premium (cpu 0.05, gpu 1)
on 28 March.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine

from efp.marketplace.models import Category, Offering, OfferingComponent, Plan, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.usage import UsageItem, set_usage
from efp.marketplace.tests.factories import make_order, make_resource

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)


def at(year: int, month: int, day: int = 10) -> Any:
    return time_machine.travel(datetime.datetime(year, month, day, 12, 0, tzinfo=datetime.UTC), tick=False)


def report(user: Any, resource: Resource, year: int, month: int, **amounts: str) -> None:
    with at(year, month, 20):
        set_usage(
            user=user,
            resource=resource,
            usages=[UsageItem(kind, Decimal(value)) for kind, value in amounts.items()],
        )


def _limit_only_offering(customer: Any) -> Offering:
    category, _ = Category.objects.get_or_create(title="HPC")
    offering = offering_services.create_offering(
        customer=customer, category=category, name="Offering N", offering_type="Marketplace.Basic"
    )
    offering_services.add_component(
        offering=offering,
        component_type="storage",
        name="Storage",
        billing_type=OfferingComponent.BillingType.LIMIT,
        max_value=10,
    )
    offering_services.create_plan(offering=offering, name="Seats", prices={"storage": Decimal(5)})
    return offering


def build(case: Any) -> dict[str, Any]:
    """The resources by name; reports are written by carol as they happen (in their month)."""
    carol, alice = case.carol, case.alice
    set_prices = offering_services.create_plan
    with at(2025, 11):
        gone = make_resource(alice, carol, case.project_a1, case.offering, name="gone")
        consult = make_resource(alice, carol, case.project_a1, case.basic, name="consult")
        make_resource(alice, carol, case.project_a1, _limit_only_offering(case.provider_p), name="quota")
    with at(2025, 12):
        steady = make_resource(alice, carol, case.project_a1, case.offering, name="steady")
        premium: Plan = set_prices(
            offering=case.offering, name="Premium", prices={"cpu": Decimal("0.05"), "gpu": Decimal("1.00")}
        )
    report(carol, steady, 2026, 1, cpu="100", gpu="2")
    report(carol, gone, 2026, 1, cpu="10")
    report(carol, consult, 2026, 1, cpu="4")
    report(carol, steady, 2026, 2, cpu="50")
    with at(2026, 2, 10):
        order_services.approve_order_by_provider(
            order=order_services.terminate_resource(resource=gone, user=alice), user=carol
        )
        gone.refresh_from_db()
        if gone.state != "Terminated":
            order_services.complete_order(order=gone.orders.order_by("-pk").first(), user=carol)
    with at(2026, 3, 20):
        late = make_resource(alice, carol, case.project_a1, case.offering, name="late")
    with at(2026, 3, 28):
        switch = order_services.switch_resource_plan(resource=steady, user=alice, plan=premium)
        order_services.approve_order_by_provider(order=switch, user=carol)
        switch.refresh_from_db()
        if switch.state != "done":
            order_services.complete_order(order=switch, user=carol)
    report(carol, steady, 2026, 4, cpu="200")
    report(carol, late, 2026, 4, cpu="30")
    report(carol, late, 2026, 5, cpu="40", gpu="1")
    with at(2026, 5):
        order_services.approve_order_by_provider(
            order=make_order(alice, case.project_a1, case.offering, name="pending"), user=carol
        )
    return {r.name: r for r in Resource.objects.all()}
