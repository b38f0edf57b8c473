"""Properties, checked on generated inputs (hypothesis): billing months, reportable months, the lifecycles.

EFP_HYPOTHESIS_EXAMPLES sets how many examples each property tries (default 60) for a deeper run.
"""

from __future__ import annotations

import datetime
import itertools
import os
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.test import SimpleTestCase, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from efp.errors import DomainError, StateConflict
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import OfferingComponent, Order, OrderEvent, Resource, ResourceEvent
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services._transitions import transition_order
from efp.marketplace.services.usage import BACKFILL_MONTHS, reportable_months
from efp.marketplace.states import ORDER_TRANSITIONS, RESOURCE_TRANSITIONS, OrderState, ResourceState
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource

EXAMPLES = int(os.environ.get("EFP_HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/; a failure prints its example and seed
    suppress_health_check=[HealthCheck.too_slow],
)

# Zones with odd offsets, DST at midnight, and a zone that skipped a whole day (Pacific/Apia, 2011-12-30).
ZONES = [
    "UTC",
    "Europe/Tallinn",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "America/Havana",
    "Asia/Beirut",
    "Pacific/Apia",
    "America/Santiago",
]
# Hypothesis takes naive bounds and attaches the generated zone itself.
MOMENTS = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime.datetime(2199, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]),
)


class BillingPeriodPropertyTests(SimpleTestCase):
    @PROPERTY
    @given(moment=MOMENTS, zone=st.sampled_from(ZONES))
    def test_it_puts_every_moment_in_the_month_that_contains_it(
        self, moment: datetime.datetime, zone: str
    ) -> None:
        with override_settings(TIME_ZONE=zone):
            period = billing_period_of(moment)
            assert period.day == 1
            assert month_start(period) <= moment < month_start(add_months(period, 1)), (period, moment)
            assert billing_period_of(month_start(period)) == period
            local = moment.astimezone(ZoneInfo(zone))
            assert (period.year, period.month) == (local.year, local.month)

    @PROPERTY
    @given(moment=MOMENTS, zone=st.sampled_from(ZONES))
    def test_it_reads_a_naive_moment_in_the_configured_zone(
        self, moment: datetime.datetime, zone: str
    ) -> None:
        naive = moment.replace(tzinfo=None)
        with override_settings(TIME_ZONE=zone):
            assert billing_period_of(naive) == billing_period_of(timezone.make_aware(naive, ZoneInfo(zone)))

    @PROPERTY
    @given(
        period=st.dates(min_value=datetime.date(1971, 1, 1), max_value=datetime.date(2199, 12, 1)),
        months=st.integers(min_value=-600, max_value=600),
    )
    def test_it_adds_months_as_whole_months(self, period: datetime.date, months: int) -> None:
        first = period.replace(day=1)
        later = add_months(first, months)
        assert later.day == 1
        assert (later.year * 12 + later.month) - (first.year * 12 + first.month) == months
        assert add_months(later, -months) == first


class ReportableMonthsPropertyTests(HypothesisTestCase, MarketplaceTestCase):
    """Who may report which months: staff back-fill everything, providers only limit and prepaid components
    (so only with such a component), others nothing; the current month first, no gaps, back to the older of
    the resource's first month and BACKFILL_MONTHS months ago."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)
        usage_only = offering_services.create_offering(
            customer=cls.provider_p,
            category=cls.offering.category,
            name="Usage only",
            offering_type="Marketplace.Slurm",
        )
        offering_services.add_component(
            offering=usage_only,
            component_type="cpu",
            name="CPU",
            billing_type=OfferingComponent.BillingType.USAGE,
        )
        offering_services.create_plan(offering=usage_only, name="Standard", prices={"cpu": Decimal(1)})
        order = make_order(cls.alice, cls.project_a1, usage_only, name="usage-only", limits={})
        order_services.approve_order_by_provider(order=order, user=cls.carol)
        order_services.complete_order(order=Order.objects.get(pk=order.pk), user=cls.carol)
        cls.usage_only = Resource.objects.get(pk=order.resource_id)
        assert cls.usage_only.state == "OK"

    @PROPERTY
    @given(
        now=st.datetimes(
            min_value=datetime.datetime(2001, 1, 1),  # noqa: DTZ001
            max_value=datetime.datetime(2099, 12, 31),  # noqa: DTZ001
            timezones=st.just(datetime.UTC),
        ),
        age=st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=5 * 366)),
        who=st.sampled_from(["staff", "carol", "oscar", "alice", "bob", "dave"]),
        backfillable=st.booleans(),
    )
    def test_it_lists_a_gapless_run_of_months_ending_now(
        self, now: datetime.datetime, age: datetime.timedelta, who: str, backfillable: bool
    ) -> None:
        resource = self.resource if backfillable else self.usage_only
        Resource.objects.filter(pk=resource.pk).update(created=now - age)
        resource = Resource.objects.select_related("offering").get(pk=resource.pk)
        user = getattr(self, who)
        with time_machine.travel(now, tick=False):
            months = reportable_months(user=user, resource=resource)
        current = billing_period_of(now)
        # Staff and the provider's owner report for every offering, oscar only for the one he manages (O).
        if not (who in ("staff", "carol") or (who == "oscar" and resource == self.resource)):
            assert months == []
            return
        assert months[0] == current
        assert months == [add_months(current, -i) for i in range(len(months))]  # newest first, no gaps
        if who != "staff" and not backfillable:
            assert months == [current]
            return
        oldest = min(billing_period_of(now - age), add_months(current, -(BACKFILL_MONTHS - 1)))
        assert months[-1] == oldest


class TransitionTablePropertyTests(SimpleTestCase):
    @PROPERTY
    @given(walk=st.lists(st.sampled_from(list(OrderState)), max_size=30))
    def test_it_never_leaves_a_terminal_state(self, walk: list[OrderState]) -> None:
        """Following the table from any state: once done, canceled or rejected, nothing leads out."""
        state = OrderState.PENDING_CONSUMER
        for target in walk:
            if target in ORDER_TRANSITIONS[state]:
                assert state not in (OrderState.DONE, OrderState.CANCELED, OrderState.REJECTED)
                state = target


ACTIONS = [
    "approve_by_consumer",
    "reject_by_consumer",
    "approve_by_provider",
    "reject_by_provider",
    "cancel",
    "set_executing",
    "complete",
    "fail",
    "retry",
    "terminate",
    "update_limits",
]


class LifecyclePropertyTests(HypothesisTestCase, MarketplaceTestCase):
    """Any sequence of verbs, by anybody, on one order: each either changes the order along the table or
    is refused without a trace; the event logs of the order and of its resource are connected paths of
    their tables; and the final states agree with each other."""

    def act(self, order: Order, action: str, user: Any) -> Any:
        s = order_services
        resource = Resource.objects.get(pk=order.resource_id)
        calls = {
            "approve_by_consumer": lambda: s.approve_order_by_consumer(order=order, user=user),
            "reject_by_consumer": lambda: s.reject_order_by_consumer(order=order, user=user),
            "approve_by_provider": lambda: s.approve_order_by_provider(order=order, user=user),
            "reject_by_provider": lambda: s.reject_order_by_provider(order=order, user=user),
            "cancel": lambda: s.cancel_order(order=order, user=user),
            "set_executing": lambda: s.set_order_executing(order=order, user=user),
            "complete": lambda: s.complete_order(order=order, user=user),
            "fail": lambda: s.fail_order(order=order, user=user, error_message="boom"),
            "retry": lambda: s.retry_order(order=order, user=user),
            "terminate": lambda: s.terminate_resource(resource=resource, user=user),
            "update_limits": lambda: s.update_resource_limits(
                resource=resource, user=user, limits={"storage": 7}
            ),
        }
        return calls[action]()

    @staticmethod
    def trace(order: Order) -> tuple[Any, ...]:
        return (
            list(Order.objects.filter(project=order.project).order_by("pk").values_list("pk", "state")),
            list(Resource.objects.filter(pk=order.resource_id).values_list("state", "limits")),
            OrderEvent.objects.count(),
            ResourceEvent.objects.count(),
        )

    @PROPERTY
    @given(
        basic=st.booleans(),
        steps=st.lists(
            st.tuples(
                st.sampled_from(ACTIONS), st.sampled_from(["alice", "bob", "carol", "oscar", "dave", "staff"])
            ),
            max_size=12,
        ),
    )
    def test_it_moves_only_along_the_tables(self, basic: bool, steps: list[tuple[str, str]]) -> None:
        offering = self.basic if basic else self.offering
        first = make_order(self.bob, self.project_a1, offering, name="walk")
        for action, who in steps:
            latest = Order.objects.filter(resource=first.resource).order_by("-pk").first()
            assert latest is not None
            before = self.trace(latest)
            try:
                self.act(latest, action, getattr(self, who))
            except DomainError:
                assert self.trace(latest) == before, (action, who)  # refused: nothing changed
        for order in Order.objects.filter(resource=first.resource):
            events = list(
                OrderEvent.objects.filter(order=order).order_by("pk").values_list("old_state", "new_state")
            )
            assert events[0][0] == ""
            for (_, new), (old, newer) in itertools.pairwise(events):
                assert old == new, events  # connected
                assert OrderState(newer) in ORDER_TRANSITIONS[OrderState(old)], events
            assert OrderState(events[-1][1]) == order.state
        moves = list(
            ResourceEvent.objects.filter(resource_id=first.resource_id)
            .order_by("pk")
            .values_list("old_state", "new_state")
        )
        for (_, new), (old, newer) in itertools.pairwise(moves):
            assert old == new, moves
            assert ResourceState(newer) in RESOURCE_TRANSITIONS[ResourceState(old)], moves
        resource = Resource.objects.get(pk=first.resource_id)
        assert moves[-1][1] == resource.state
        creation = Order.objects.get(pk=first.pk)
        if creation.state in ("rejected", "canceled"):
            assert resource.state == "Terminated"
        if (
            creation.state == "done"
            and not Order.objects.filter(resource=resource).exclude(pk=first.pk).exists()
        ):
            assert resource.state == "OK"


class CompareAndSwapPropertyTests(HypothesisTestCase, MarketplaceTestCase):
    @PROPERTY
    @given(
        path=st.lists(st.sampled_from(list(OrderState)), min_size=1, max_size=8),
        stale_at=st.integers(min_value=0, max_value=7),
        target=st.sampled_from(list(OrderState)),
    )
    def test_it_refuses_every_move_from_a_stale_copy(
        self, path: list[OrderState], stale_at: int, target: OrderState
    ) -> None:
        """A copy read before the order moved on can move it nowhere, even along an allowed edge."""
        order = make_order(self.alice, self.project_a1, self.offering)
        stale = None
        for index, state in enumerate(path):
            if index == stale_at:
                stale = Order.objects.get(pk=order.pk)
            if state in ORDER_TRANSITIONS[OrderState(order.state)]:
                order = transition_order(order, state, actor=self.carol)
        if stale is None or stale.state == order.state:
            return
        events = OrderEvent.objects.count()
        try:
            transition_order(stale, target, actor=self.carol)
        except StateConflict:
            pass
        else:
            raise AssertionError(f"a stale {stale.state} copy moved an order that is {order.state}")
        assert Order.objects.get(pk=order.pk).state == order.state
        assert OrderEvent.objects.count() == events
