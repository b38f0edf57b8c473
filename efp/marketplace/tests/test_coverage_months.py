"""The maintained counts of reported months (CoverageMonth, issue 18) agree with the coverage rule's own
SQL after every kind of write: reports and overwrites, per-user totals, a correction of a month without a
record, a CSV import, an unlink, a termination, a restore, a report of a month the resource was not live in;
and the missing totals read from them (the matrix's "N missing months", the dashboard's tile) are those
the rule counts cell by cell.

Carol owns Provider P (Offering O: CPU usage-billed, storage limit-billed); alice's project A1 holds `first`
and `second` of O. The clock starts on 2026-03-15 and moves across months."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.db.models import Exists, OuterRef

from efp.marketplace import coverage
from efp.marketplace.billing_months import add_months, month_key, month_start
from efp.marketplace.models import ComponentUsage, CoverageMonth, Offering, Resource
from efp.marketplace.services import corrections, coverage_months, usage_imports
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.resources import unlink_resource
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource, terminate_now

FEB, MAR, APR, MAY, JUN = (datetime.date(2026, m, 1) for m in (2, 3, 4, 5, 6))


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=datetime.UTC)


def recount() -> dict[tuple[int, datetime.date], int]:
    """The reported cells by offering and month as the coverage rule's SQL tells them (`coverage.live_in`)."""
    counts = {}
    months = ComponentUsage.objects.order_by().values_list("billing_period", flat=True).distinct()
    for month in months:
        usage = ComponentUsage.objects.filter(
            resource_id=OuterRef("pk"), billing_period=month, component__billing_type="usage"
        )
        for offering in Offering.objects.all():
            n = Resource.objects.filter(coverage.live_in(month), Exists(usage), offering=offering).count()
            if n:
                counts[(offering.pk, month)] = n
    return counts


def maintained() -> dict[tuple[int, datetime.date], int]:
    return {(c.offering_id, c.billing_period): c.reported for c in CoverageMonth.objects.exclude(reported=0)}


def live_counted(offering: Offering, month: datetime.date) -> int:
    """The live resources of `offering` in `month` from the maintained changes."""
    return sum(
        c.live_change for c in CoverageMonth.objects.filter(offering=offering, billing_period__lte=month)
    )


class CoverageMonthsTests(MarketplaceTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.clock = time_machine.travel(at(datetime.date(2026, 3, 15)), tick=False)
        self.clock.start()
        self.addCleanup(self.clock.stop)
        self.first = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="first")
        self.second = make_resource(self.alice, self.carol, self.project_a1, self.offering, name="second")

    def move_clock(self, moment: datetime.datetime) -> None:
        self.clock.stop()
        self.clock = time_machine.travel(moment, tick=False)
        self.clock.start()

    def report(
        self, resource: Resource, amount: str, month: datetime.date | None = None, kind: str = "cpu"
    ) -> Any:
        return usage_services.set_usage(
            user=self.staff,
            resource=resource,
            usages=[UsageItem(type=kind, amount=Decimal(amount))],
            date=None if month is None else month_start(month),
        )

    def restore(self, resource: Resource) -> None:
        order = order_services.restore_resource(resource=resource, user=self.carol)
        order = order_services.approve_order_by_consumer(order=order, user=self.alice)
        if order.state == "pending-provider":
            order = order_services.approve_order_by_provider(order=order, user=self.carol)
        if order.state != "done":
            order_services.complete_order(order=order, user=self.carol)

    def assert_agrees(self) -> None:
        assert maintained() == recount()
        for offering in (self.offering, self.basic):
            for month in [add_months(FEB, n) for n in range(-1, 8)]:
                live = Resource.objects.filter(coverage.live_in(month), offering=offering).count()
                assert live_counted(offering, month) == live, (offering.name, month)
        for offering in (self.offering, self.basic):
            for month in [add_months(FEB, n) for n in range(-1, 8)]:
                live = Resource.objects.filter(coverage.live_in(month), offering=offering).count()
                assert live_counted(offering, month) == live, (offering.name, month)
        # The totals the matrix and the dashboard show: from the counts, and cell by cell.
        span = [add_months(MAR, n) for n in range(-1, 4)]
        every = Resource.objects.filter(offering__in=[self.offering, self.basic])
        whole = [self.offering.pk, self.basic.pk]
        for months in (span, [span[1]], [span[2]]):
            fast = coverage.offerings_missing_count(whole, months)
            assert fast == coverage.missing_count(every, months)
            if len(months) == 1:
                assert fast == coverage.missing_in(every, months[0]).count()

    def test_it_agrees_after_reports_overwrites_and_a_second_component(self) -> None:
        self.report(self.first, "10")
        self.report(self.first, "12")  # an overwrite: the month was reported already
        self.report(self.first, "3", kind="storage")  # limit-billed: not a report the rule counts
        self.report(self.second, "4")
        self.assert_agrees()
        assert maintained() == {(self.offering.pk, MAR): 2}
        self.move_clock(at(datetime.date(2026, 4, 2)))
        self.report(self.second, "5", month=MAR)  # March closed: `first` reported it, `second` too
        self.report(self.first, "1")  # April
        self.assert_agrees()
        self.move_clock(at(datetime.date(2026, 6, 3)))  # April and May closed: May missing for both
        self.assert_agrees()
        assert coverage.offerings_missing_count([self.offering.pk], [APR, MAY]) == 3

    def test_it_agrees_after_per_user_totals_and_a_correction_of_a_month_without_a_record(self) -> None:
        self.report(self.first, "10")
        usage = ComponentUsage.objects.get(resource=self.first, billing_period=MAR)
        self.move_clock(at(datetime.date(2026, 4, 3)))
        # The per-user rows of April make April's record of `first`.
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=usage,
            items=[UserUsageItem(username="alice", usage=Decimal(2), date=at(datetime.date(2026, 4, 2)))],
        )
        assert ComponentUsage.objects.filter(resource=self.first, billing_period=APR).exists()
        self.assert_agrees()
        cpu = self.offering.components.get(type="cpu")
        corrections.correct_month(
            user=self.staff, resource=self.second, component=cpu, month=MAR, amount=Decimal(7), reason="Late"
        )
        self.assert_agrees()
        assert maintained() == {(self.offering.pk, MAR): 2, (self.offering.pk, APR): 1}

    def test_it_agrees_after_a_csv_import(self) -> None:
        self.move_clock(at(datetime.date(2026, 4, 3)))
        self.report(self.first, "5")  # the import changes this one and adds the others
        rows = [
            f"{self.first.uuid.hex},cpu,{month_key(APR)},6.5,,",
            f"{self.second.uuid.hex},cpu,{month_key(APR)},8,,",
            f"{self.second.uuid.hex},cpu,{month_key(MAR)},9,,late",
        ]
        content = ("resource_uuid,component,month,amount,username,reason\n" + "\n".join(rows) + "\n").encode()
        plan = usage_imports.import_usage(user=self.staff, content=content, dry_run=False)
        assert plan.applied
        self.assert_agrees()
        assert maintained() == {(self.offering.pk, MAR): 1, (self.offering.pk, APR): 2}

    def test_it_agrees_after_an_unlink(self) -> None:
        self.report(self.first, "5")
        self.report(self.second, "6")
        unlink_resource(resource=self.first, user=self.staff)
        self.assert_agrees()
        assert maintained() == {(self.offering.pk, MAR): 1}

    def test_a_termination_a_correction_while_terminated_and_a_restore_move_the_counts(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        self.report(self.first, "5")
        self.move_clock(at(datetime.date(2026, 4, 10)))
        terminate_now(self.first, self.carol)  # live until 10 April
        self.assert_agrees()
        self.move_clock(at(datetime.date(2026, 6, 20)))
        # Staff books May, a month `first` was not live in: not a reported cell of the rule.
        cpu = self.offering.components.get(type="cpu")
        corrections.correct_month(
            user=self.staff, resource=self.first, component=cpu, month=MAY, amount=Decimal(1), reason="Found"
        )
        self.assert_agrees()
        assert (self.offering.pk, MAY) not in maintained()
        self.restore(self.first)
        assert Resource.objects.get(pk=self.first.pk).state == "OK"  # live again from 20 June; May in the gap
        self.assert_agrees()
        self.move_clock(at(datetime.date(2026, 7, 2)))
        self.report(self.first, "2", month=JUN)
        self.assert_agrees()

    def test_a_restore_in_the_month_of_a_report_made_while_terminated_counts_it(self) -> None:
        Offering.objects.filter(pk=self.offering.pk).update(plugin_options={"can_restore_resource": True})
        self.move_clock(at(datetime.date(2026, 4, 10)))
        terminate_now(self.first, self.carol)  # live until 10 April
        self.move_clock(at(datetime.date(2026, 5, 20)))
        cpu = self.offering.components.get(type="cpu")
        corrections.correct_month(
            user=self.staff, resource=self.first, component=cpu, month=MAY, amount=Decimal(1), reason="Found"
        )
        assert maintained() == recount() == {}  # May: after the window
        self.restore(self.first)  # live again from 20 May: May is live, the gap ends in it
        self.assert_agrees()
        assert maintained() == {(self.offering.pk, MAY): 1}

    def test_a_recount_gives_back_what_the_writers_kept_and_repairs_drift(self) -> None:
        # The scale seed loads usage around the services and recounts at the end.
        self.report(self.first, "10")
        self.report(self.second, "4")
        kept = maintained()
        coverage_months.recount()
        assert maintained() == kept == recount()
        self.assert_agrees()
        CoverageMonth.objects.update(reported=9, live_change=3)
        coverage_months.recount()
        assert maintained() == kept
        self.assert_agrees()


class WindowChangesTests(MarketplaceTestCase):
    """`window_changes` tells the live months `window_live_in` tells, month by month."""

    def test_it_agrees_with_window_live_in_at_and_around_month_boundaries(self) -> None:
        moments = [None, at(datetime.date(2026, 1, 1), 0), at(datetime.date(2026, 1, 20))]
        moments += [
            at(datetime.date(2026, m, d), h) for m, d, h in ((3, 1, 0), (3, 10, 12), (5, 31, 23), (6, 1, 0))
        ]
        months = [add_months(datetime.date(2025, 12, 1), n) for n in range(10)]
        for live_from in moments:
            for live_until in moments:
                for gap_from, gap_until in [
                    (None, None),
                    *((a, b) for a in moments[1:] for b in moments[1:] if a < b),
                ]:
                    window = (live_from, live_until, gap_from, gap_until)
                    changes = coverage.window_changes(*window)
                    for month in months:
                        live = sum(change for start, change in changes.items() if start <= month)
                        assert live == int(coverage.window_live_in(month, *window)), (window, month)
