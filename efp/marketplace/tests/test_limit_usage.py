"""The maintained usage against limits (ResourceLimitUsage, issue 18) agrees with metering's own
computation (`metering.summarise`) after every kind of write: usage reports and overwrites, a correction,
per-user rows that make a month's total, a CSV import, limits set directly and by a completed order, a
component added with a limit, an unlinked resource; and across the end of a month, a quarter and a year
with no write at all (a frozen clock). `at_or_above` (the dashboard's tile, the GUI's `min_percent`) gives
the resources whose highest percentage is at or above each threshold.

Carol owns Provider P. Offering Q has one component per limit period: storage (limit, monthly), quota
(limit, quarterly), licence (limit, total), hours (usage-billed, 100 a year) and cpu (usage-billed, no
limit). Alice's project A1 holds three allocations of Q: north, south and west."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.utils import timezone

from efp.marketplace import metering
from efp.marketplace.billing_months import add_months, month_key, month_start, quarter_start, year_start
from efp.marketplace.models import ComponentUsage, Resource, ResourceLimitUsage
from efp.marketplace.models import OfferingComponent as OC
from efp.marketplace.services import corrections, limit_usage, usage_imports
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import resources as resource_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_offering, make_order

BT, LP = OC.BillingType, OC.LimitPeriod
THRESHOLDS = (0, 1, 50, 90, 100, 101, 400)


def recount(day: datetime.date) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """{(resource, component): (used, percent)} of every limit, as metering computes it on `day`."""
    resources = list(Resource.objects.all())
    return {
        (resource_id, status.component_id): (status.used, status.percent)
        for resource_id, statuses in metering.summarise(resources, today=day, with_last_report=False).items()
        for status in statuses
        if status.percent is not None
    }


def maintained(day: datetime.date) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """The same read from the maintained rows: a row of a period that is over stands for 0 used (0 %)."""
    current = set(
        ResourceLimitUsage.objects.filter(metering.current_periods(day)).values_list("pk", flat=True)
    )
    return {
        (row.resource_id, row.component_id): (row.used, row.percent) if row.pk in current else (Decimal(0), 0)
        for row in ResourceLimitUsage.objects.all()
    }


def highest(day: datetime.date) -> dict[int, int | None]:
    resources = list(Resource.objects.all())
    statuses = metering.summarise(resources, today=day, with_last_report=False)
    return {pk: metering.highest_percent(found) for pk, found in statuses.items()}


class ResourceLimitUsageTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.q = make_offering(cls.provider_p, name="Offering Q")
        OC.objects.filter(offering=cls.q, type="gpu").delete()
        add = offering_services.add_component
        add(
            offering=cls.q,
            component_type="quota",
            name="Quota",
            billing_type=BT.LIMIT,
            limit_period=LP.QUARTERLY,
        )
        add(
            offering=cls.q,
            component_type="licence",
            name="Licence",
            billing_type=BT.LIMIT,
            limit_period=LP.TOTAL,
        )
        add(
            offering=cls.q, component_type="hours", name="Hours", billing_type=BT.USAGE,
            limit_period=LP.ANNUAL, limit_amount=100,
        )  # fmt: skip

    def setUp(self) -> None:
        # A frozen clock, in the middle of a quarter's second month, the test's own "now".
        self.clock = time_machine.travel(self.moment(add_months(quarter_start(timezone.localdate()), 1), 10))
        self.clock.start()
        self.addCleanup(self.clock.stop)
        self.north = self.allocation("north", {"storage": 10, "quota": 40, "licence": 5})
        self.south = self.allocation("south", {"storage": 100, "quota": 0})
        self.west = self.allocation("west", {})

    @staticmethod
    def moment(month: datetime.date, day: int) -> datetime.datetime:
        return month_start(month) + datetime.timedelta(days=day - 1, hours=12)

    def travel(self, month: datetime.date, day: int = 2) -> None:
        self.clock.stop()
        self.clock = time_machine.travel(self.moment(month, day))
        self.clock.start()

    def allocation(self, name: str, limits: dict[str, int]) -> Resource:
        order = make_order(self.alice, self.project_a1, self.q, name=name, limits=limits)
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order.refresh_from_db()
        if order.state != "done":
            order_services.complete_order(order=order, user=self.carol)
        assert order.resource is not None
        return Resource.objects.get(pk=order.resource.pk)

    def report(self, resource: Resource, month: datetime.date | None = None, **amounts: str) -> None:
        usage_services.set_usage(
            user=self.staff,
            resource=resource,
            usages=[UsageItem(type=kind, amount=Decimal(amount)) for kind, amount in amounts.items()],
            date=None if month is None else month_start(month),
        )

    def assert_agrees(self) -> dict[tuple[int, int], tuple[Decimal, int]]:
        day = timezone.localdate()
        expected = recount(day)
        assert maintained(day) == expected
        percents = highest(day)
        for threshold in THRESHOLDS:
            found = set(
                metering.at_or_above(Resource.objects.all(), threshold, day).values_list("pk", flat=True)
            )
            wanted = {pk for pk, top in percents.items() if top is not None and top >= threshold}
            assert found == wanted, threshold
        return expected

    def key(self, resource: Resource, component: str) -> tuple[int, int]:
        return (resource.pk, OC.objects.get(offering=self.q, type=component).pk)

    def test_it_has_a_row_for_every_limit_from_the_start(self) -> None:
        rows = self.assert_agrees()
        # north: storage, quota, licence, hours; south: storage, quota (0: nothing used), hours; west: hours.
        assert len(rows) == 8
        assert rows[self.key(self.south, "quota")] == (Decimal(0), 0)
        assert not metering.at_or_above(Resource.objects.all(), 1, timezone.localdate()).exists()

    def test_it_agrees_after_reports_overwrites_and_a_correction(self) -> None:
        today = timezone.localdate()
        last_month = add_months(today.replace(day=1), -1)  # the same quarter
        self.report(self.north, last_month, quota="30", storage="9", hours="50")
        self.report(self.north, storage="4", quota="7", licence="5", cpu="1000")
        self.report(self.south, quota="0.01", storage="95")
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "quota")] == (Decimal(37), 92)  # two months of the quarter
        assert rows[self.key(self.north, "storage")] == (Decimal(4), 40)  # this month only
        assert rows[self.key(self.south, "quota")] == (Decimal("0.01"), 100)  # a 0 limit, used
        self.report(self.north, storage="9.5")  # an overwrite
        self.assert_agrees()
        record = ComponentUsage.objects.get(
            resource=self.north, component__type="quota", billing_period=last_month
        )
        corrections.correct_usage(user=self.staff, usage=record, amount=Decimal("2"), reason="Counted twice")
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "quota")] == (Decimal(9), 22)

    def test_it_agrees_after_per_user_rows_make_a_total_and_a_csv_import(self) -> None:
        self.report(self.west, hours="0")
        record = ComponentUsage.objects.get(resource=self.west, component__type="hours")
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=record,
            items=[
                UserUsageItem(username="ann", usage=Decimal(60)),
                UserUsageItem(username="bo", usage=Decimal(35)),
            ],
        )
        rows = self.assert_agrees()
        assert rows[self.key(self.west, "hours")] == (Decimal(95), 95)
        month = month_key(timezone.localdate())
        lines = [f"{self.south.uuid.hex},storage,{month},99,,", f"{self.north.uuid.hex},licence,{month},6,,"]
        content = (
            "resource_uuid,component,month,amount,username,reason\n" + "\n".join(lines) + "\n"
        ).encode()
        assert usage_imports.import_usage(user=self.staff, content=content, dry_run=False).applied
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "licence")] == (Decimal(6), 120)

    def test_it_agrees_after_limits_change_and_a_component_is_added(self) -> None:
        self.report(self.north, storage="9", quota="10")
        self.report(self.west, storage="3")
        resource_services.set_resource_limits(resource=self.north, user=self.carol, limits={"storage": 9})
        rows = self.assert_agrees()
        assert self.key(self.north, "quota") not in rows  # its limit is gone
        assert rows[self.key(self.north, "storage")] == (Decimal(9), 100)
        order = order_services.update_resource_limits(
            resource=self.west, user=self.alice, limits={"storage": 3}
        )
        order_services.approve_order_by_provider(order=order, user=self.carol)
        order.refresh_from_db()
        if order.state != "done":
            order_services.complete_order(order=order, user=self.carol)
        rows = self.assert_agrees()
        assert rows[self.key(self.west, "storage")] == (Decimal(3), 100)
        offering_services.add_component(
            offering=self.q, component_type="sessions", name="Sessions", billing_type=BT.USAGE, limit_amount=0
        )
        rows = self.assert_agrees()
        assert rows[self.key(self.west, "sessions")] == (Decimal(0), 0)

    def test_it_agrees_across_a_month_a_quarter_and_a_year_with_no_write(self) -> None:
        today = timezone.localdate()
        self.report(self.north, storage="9", quota="39", licence="5", hours="99")
        self.report(self.south, storage="90")
        assert set(self.at_90()) == {self.north.pk, self.south.pk}
        self.travel(add_months(today.replace(day=1), 1))  # the quarter's last month: storage starts again
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "storage")] == (Decimal(0), 0)
        assert rows[self.key(self.north, "quota")] == (Decimal(39), 97)
        self.travel(add_months(quarter_start(today), 3))  # a new quarter: the quota starts again
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "quota")] == (Decimal(0), 0)
        assert rows[self.key(self.north, "licence")] == (Decimal(5), 100)  # a total never starts again
        self.report(self.north, quota="12")
        self.assert_agrees()
        self.travel(add_months(year_start(today), 12), day=3)  # a new year: the hours start again
        rows = self.assert_agrees()
        assert rows[self.key(self.north, "hours")] == (Decimal(0), 0)
        assert set(self.at_90()) == {self.north.pk}  # by its licence

    def test_it_loses_the_rows_of_an_unlinked_resource_and_a_recount_repairs_drift(self) -> None:
        self.report(self.north, storage="9")
        resource_services.unlink_resource(resource=self.south, user=self.staff)
        kept = self.assert_agrees()
        ResourceLimitUsage.objects.filter(resource=self.north).update(percent=0, used=Decimal(0))
        ResourceLimitUsage.objects.filter(resource=self.west).delete()
        limit_usage.recount()
        assert self.assert_agrees() == kept

    def at_90(self) -> Any:
        day = timezone.localdate()
        return metering.at_or_above(Resource.objects.all(), metering.HIGH_PERCENT, day).values_list(
            "pk", flat=True
        )
