"""The verb table and the services agree: for every verb, persona and state, the service refuses exactly
when `guard.refusal` does, with the same kind and the same words on the wire.

Objects are put in each state directly (tests may; services may not), and each service call runs in a
savepoint that is rolled back, so every case starts from the same world.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction

from efp.errors import DomainError, Forbidden, InvalidInput, NotSupported, StateConflict
from efp.marketplace.models import Offering, Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import renewals
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services.guard import Kind, Refusal, refusal
from efp.marketplace.services.member_sync import report_member_sync
from efp.marketplace.services.offerings import create_plan
from efp.marketplace.states import (
    ORDER_TRANSITIONS,
    RESOURCE_TRANSITIONS,
    OrderState,
    ResourceState,
)
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource
from efp.marketplace.verbs import ORDER_VERBS, RESOURCE_VERBS, forbidden_message
from efp.structure.models import Customer, Project

ERRORS: dict[Kind, type[DomainError]] = {
    Kind.FORBIDDEN: Forbidden,
    Kind.STATE: StateConflict,
    Kind.UNSUPPORTED: NotSupported,
    Kind.INVALID: InvalidInput,
}

S = order_services
ORDER_CALLS: dict[str, Callable[[Order, Any], Any]] = {
    "approve_by_consumer": lambda o, u: S.approve_order_by_consumer(order=o, user=u),
    "reject_by_consumer": lambda o, u: S.reject_order_by_consumer(order=o, user=u, comment="No."),
    "approve_by_provider": lambda o, u: S.approve_order_by_provider(order=o, user=u),
    "reject_by_provider": lambda o, u: S.reject_order_by_provider(order=o, user=u, comment="No."),
    "cancel": lambda o, u: S.cancel_order(order=o, user=u),
    "destroy": lambda o, u: S.delete_order(order=o, user=u),
    "unlink": lambda o, u: S.unlink_order(order=o, user=u),
    "set_state_executing": lambda o, u: S.set_order_executing(order=o, user=u),
    "set_state_done": lambda o, u: S.complete_order(order=o, user=u),
    "set_state_erred": lambda o, u: S.fail_order(order=o, user=u, error_message="boom"),
    "retry": lambda o, u: S.retry_order(order=o, user=u),
    "set_backend_id": lambda o, u: S.set_order_backend_id(order=o, user=u, backend_id="b-1"),
}
R = resource_services
RN = renewals
RESOURCE_CALLS: dict[str, Callable[[Resource, Any, Any], Any]] = {
    "terminate": lambda r, u, _: S.terminate_resource(resource=r, user=u),
    "restore": lambda r, u, _: S.restore_resource(resource=r, user=u),
    "update_limits": lambda r, u, _: S.update_resource_limits(resource=r, user=u, limits={"storage": 99}),
    "switch_plan": lambda r, u, plan: S.switch_resource_plan(resource=r, user=u, plan=plan),
    "renew": lambda r, u, _: RN.renew_resource(resource=r, user=u, extension_months=3, justification="J"),
    "set_backend_id": lambda r, u, _: R.set_resource_backend_id(resource=r, user=u, backend_id="b-1"),
    "set_limits": lambda r, u, _: R.set_resource_limits(resource=r, user=u, limits={"storage": 5}),
    "set_backend_metadata": lambda r, u, _: R.set_resource_backend_metadata(
        resource=r, user=u, backend_metadata={"a": 1}
    ),
    "set_endpoints": lambda r, u, _: R.set_resource_endpoints(resource=r, user=u, endpoints=[]),
    "set_membership_sync_statuses": lambda r, u, _: report_member_sync(user=u, resource=r, entries=[]),
    "submit_report": lambda r, u, _: R.submit_resource_report(
        resource=r, user=u, report=[{"header": "H", "body": "B"}]
    ),
    "set_end_date_by_provider": lambda r, u, _: R.set_resource_end_date_by_provider(
        resource=r, user=u, end_date=None
    ),
    "set_end_date_by_consumer": lambda r, u, _: RN.set_end_date_by_consumer(
        resource=r, user=u, end_date=None
    ),
    "set_end_date_by_staff": lambda r, u, _: RN.set_end_date_by_staff(resource=r, user=u, end_date=None),
    "set_as_erred": lambda r, u, _: R.set_resource_erred(resource=r, user=u, error_message="boom"),
    "set_as_ok": lambda r, u, _: R.set_resource_ok(resource=r, user=u),
    "set_state_ok": lambda r, u, _: R.recover_resource(resource=r, user=u),
    "refresh_last_sync": lambda r, u, _: R.refresh_resource_last_sync(resource=r, user=u),
    "unlink": lambda r, u, _: R.unlink_resource(resource=r, user=u),
}


class _Rollback(Exception):
    pass


def attempt(call: Callable[[], Any]) -> DomainError | None:
    """The service's domain error, or None; whatever it wrote is rolled back."""
    raised: DomainError | None = None
    try:
        with transaction.atomic():
            try:
                call()
            except DomainError as error:
                raised = error
            raise _Rollback
    except _Rollback:
        pass
    return raised


def disagreement(case: str, refused: Refusal | None, raised: DomainError | None) -> str | None:
    if refused is None and raised is None:
        return None
    if refused is None or raised is None:
        return f"{case}: guard says {refused}, service raised {raised!r}"
    wanted = refused.error()
    if type(raised) is not ERRORS[refused.kind] or str(raised) != str(wanted):
        return f"{case}: guard says {refused.kind} {wanted!r}, service raised {raised!r}"
    return None


class VerbTableTests(MarketplaceTestCase):
    def test_it_moves_only_along_the_transition_tables(self) -> None:
        for table, transitions in ((ORDER_VERBS, ORDER_TRANSITIONS), (RESOURCE_VERBS, RESOURCE_TRANSITIONS)):
            for verb in table.values():
                for source in verb.sources or ():
                    for target in verb.targets:
                        moves = target in transitions[source] or source == target  # type: ignore[index]
                        assert moves, (verb.name, source, target)

    def test_it_names_the_roles_from_the_role_table(self) -> None:
        assert forbidden_message(ORDER_VERBS["destroy"]) == (
            "Only organisation owners, project administrators and project managers, or whoever placed the "
            "order, may delete orders."
        )
        assert forbidden_message(ORDER_VERBS["approve_by_provider"]) == (
            "Only the provider's organisation owners and offering managers may approve orders."
        )
        assert forbidden_message(ORDER_VERBS["unlink"]) == "Only staff may unlink orders."


class OrderVerbAgreementTests(MarketplaceTestCase):
    """bob (a member) places the orders on the Slurm offering O, alice (the owner) those on Basic B."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.personas = [cls.staff, cls.alice, cls.bob, cls.erin, cls.carol, cls.oscar, cls.dave]
        cls.orders: list[Order] = []
        for state in OrderState:
            for user, offering in ((cls.bob, cls.offering), (cls.alice, cls.basic)):
                order = make_order(user, cls.project_a1, offering, name=f"{state}-{offering.type}")
                Order.objects.filter(pk=order.pk).update(state=state)
                order.refresh_from_db()
                cls.orders.append(order)

    def fresh(self, order: Order) -> Order:
        return Order.objects.select_related("project__customer", "offering__customer", "resource").get(
            pk=order.pk
        )

    def test_it_agrees_with_the_services_for_every_verb_persona_and_state(self) -> None:
        assert set(ORDER_CALLS) == set(ORDER_VERBS)
        problems, refusals_seen = [], set()
        for order in self.orders:
            for user in self.personas:
                for name, call in ORDER_CALLS.items():
                    subject = self.fresh(order)  # refusal() reads it and changes nothing
                    refused = refusal(name, subject, user)
                    raised = attempt(lambda call=call, user=user, subject=subject: call(subject, user))
                    case = f"{name} by {user.username} on {order.state} {order.offering.type}"
                    problem = disagreement(case, refused, raised)
                    if problem:
                        problems.append(problem)
                    refusals_seen.add(refused.kind if refused else None)
        assert problems == [], "\n".join(problems)
        assert refusals_seen == {None, Kind.FORBIDDEN, Kind.STATE, Kind.UNSUPPORTED}

    def test_it_agrees_on_the_conditions_too(self) -> None:
        """A blocked organisation, an expired project, an erred creation whose resource is gone."""
        erred = next(o for o in self.orders if o.state == OrderState.ERRED and o.offering == self.offering)
        Resource.objects.filter(pk=erred.resource_id).update(state=ResourceState.TERMINATED)
        organisations, projects = Customer.objects, Project.objects
        worlds: list[tuple[str, Callable[[], Any]]] = [
            ("as it is", lambda: None),
            ("consumer blocked", lambda: organisations.filter(pk=self.org_a.pk).update(blocked=True)),
            ("provider blocked", lambda: organisations.filter(pk=self.provider_p.pk).update(blocked=True)),
            ("project expired", lambda: projects.filter(pk=self.project_a1.pk).update(end_date="2000-01-01")),
        ]
        problems, kinds = [], set()
        for world, change in worlds:
            with transaction.atomic():
                sid = transaction.savepoint()
                change()
                for order in self.orders:
                    for name, call in ORDER_CALLS.items():
                        subject = self.fresh(order)
                        refused = refusal(name, subject, self.staff)
                        raised = attempt(lambda call=call, subject=subject: call(subject, self.staff))
                        problem = disagreement(f"{name} on {order.state} ({world})", refused, raised)
                        if problem:
                            problems.append(problem)
                        kinds.add(refused.kind if refused else None)
                transaction.savepoint_rollback(sid)
        assert problems == [], "\n".join(problems)
        assert Kind.INVALID in kinds and Kind.STATE in kinds


class ResourceVerbAgreementTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.personas = [cls.staff, cls.alice, cls.bob, cls.erin, cls.carol, cls.oscar, cls.dave]
        cls.premium = create_plan(offering=cls.offering, name="Premium", prices={"storage": Decimal("9")})
        # The offering lets its provider restore terminated resources (`restore`).
        Offering.objects.filter(pk=cls.offering.pk).update(plugin_options={"can_restore_resource": True})
        cls.offering.refresh_from_db()
        cls.resources: list[Resource] = []
        for state in ResourceState:
            resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name=f"r-{state}")
            Resource.objects.filter(pk=resource.pk).update(state=state)
            resource.refresh_from_db()
            cls.resources.append(resource)
        busy = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="busy")
        order_services.update_resource_limits(resource=busy, user=cls.alice, limits={"storage": 20})
        cls.resources.append(busy)

    def test_it_agrees_with_the_services_for_every_verb_persona_and_state(self) -> None:
        assert set(RESOURCE_CALLS) == set(RESOURCE_VERBS)
        problems, kinds = [], set()
        for resource in self.resources:
            for user in self.personas:
                for name, call in RESOURCE_CALLS.items():

                    def fresh(resource: Resource = resource) -> Resource:
                        return Resource.objects.select_related("project__customer", "offering__customer").get(
                            pk=resource.pk
                        )

                    subject = fresh()
                    refused = refusal(name, subject, user)
                    raised = attempt(
                        lambda call=call, user=user, subject=subject: call(subject, user, self.premium)
                    )
                    case = f"{name} by {user.username} on {resource.name}"
                    problem = disagreement(case, refused, raised)
                    if problem:
                        problems.append(problem)
                    kinds.add(refused.kind if refused else None)
        assert problems == [], "\n".join(problems)
        assert kinds == {None, Kind.FORBIDDEN, Kind.STATE, Kind.INVALID}
