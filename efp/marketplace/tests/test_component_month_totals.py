"""The maintained monthly totals per component (ComponentMonthTotal, issue 18) agree with a recount of the
usage rows after every kind of write: a report, an overwrite, a correction, a month's report with its
users, a CSV import, a resource unlinked with its usage.

Carol owns Provider P (Offering O: CPU usage-billed, storage limit-billed); oscar manages O; alice's
project A1 holds two allocations of O."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of, month_key, month_start
from efp.marketplace.models import ComponentMonthTotal, ComponentUsage
from efp.marketplace.services import corrections, month_totals, usage_imports
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.resources import unlink_resource
from efp.marketplace.services.usage import UsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource


def recount() -> dict[tuple[int, object], tuple[Decimal, int]]:
    rows = ComponentUsage.objects.values("component_id", "billing_period").annotate(
        total=Sum("usage"), rows=Count("pk")
    )
    return {(r["component_id"], r["billing_period"]): (Decimal(r["total"]), r["rows"]) for r in rows}


def maintained() -> dict[tuple[int, object], tuple[Decimal, int]]:
    return {
        (t.component_id, t.billing_period): (t.usage, t.rows)
        for t in ComponentMonthTotal.objects.filter(rows__gt=0)
    }


class ComponentMonthTotalTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.first = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="first")
        cls.second = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="second")
        cls.current = billing_period_of(timezone.now())
        cls.last_month = add_months(cls.current, -1)

    def report(self, resource: object, amount: str, month: object = None, component: str = "cpu") -> None:
        usage_services.set_usage(
            user=self.staff,
            resource=resource,
            usages=[UsageItem(type=component, amount=Decimal(amount))],
            date=None if month is None else month_start(month),
        )

    def assert_agrees(self) -> None:
        assert maintained() == recount()

    def test_it_agrees_after_reports_and_overwrites(self) -> None:
        self.report(self.first, "10.25")
        self.report(self.second, "4.50")
        self.report(self.first, "3.75", month=self.last_month)
        self.report(self.first, "2.5", component="storage")
        self.assert_agrees()
        self.report(self.first, "12.00")  # overwrites this month's CPU
        self.assert_agrees()
        cpu = ComponentMonthTotal.objects.get(component__type="cpu", billing_period=self.current)
        assert (cpu.usage, cpu.rows) == (Decimal("16.50"), 2)

    def test_it_agrees_after_a_correction_and_a_month_with_its_users(self) -> None:
        self.report(self.first, "30", month=self.last_month)
        usage = ComponentUsage.objects.get(resource=self.first, billing_period=self.last_month)
        corrections.correct_usage(
            user=self.staff, usage=usage, amount=Decimal("7.25"), reason="Counted twice"
        )
        self.assert_agrees()
        usage_services.set_usage(
            user=self.staff,
            resource=self.second,
            usages=[
                UsageItem(type="cpu", amount=Decimal("1")),
                UsageItem(type="storage", amount=Decimal("2")),
            ],
        )
        self.assert_agrees()

    def test_it_agrees_after_a_csv_import(self) -> None:
        self.report(self.first, "5")  # the import changes this one and adds the others
        rows = [
            f"{self.first.uuid.hex},cpu,{month_key(self.current)},6.5,,",
            f"{self.second.uuid.hex},cpu,{month_key(self.current)},8,,",
            f"{self.second.uuid.hex},cpu,{month_key(self.last_month)},9,,late",
        ]
        content = ("resource_uuid,component,month,amount,username,reason\n" + "\n".join(rows) + "\n").encode()
        plan = usage_imports.import_usage(user=self.staff, content=content, dry_run=False)
        assert plan.applied
        self.assert_agrees()

    def test_it_agrees_after_a_resource_is_unlinked_with_its_usage(self) -> None:
        self.report(self.first, "5")
        self.report(self.second, "6")
        unlink_resource(resource=self.first, user=self.staff)
        self.assert_agrees()
        cpu = ComponentMonthTotal.objects.get(component__type="cpu", billing_period=self.current)
        assert (cpu.usage, cpu.rows) == (Decimal("6.00"), 1)
        unlink_resource(resource=self.second, user=self.staff)
        assert maintained() == recount() == {}

    def test_a_recount_gives_back_what_the_triggers_kept_and_repairs_drift(self) -> None:
        # The scale seed loads usage with the triggers off on PostgreSQL and recounts at the end.
        self.report(self.first, "10.25")
        self.report(self.first, "3.75", month=self.last_month)
        self.report(self.second, "4.50")
        kept = maintained()
        month_totals.recount()
        assert maintained() == kept == recount()
        ComponentMonthTotal.objects.filter(billing_period=self.current).update(usage=Decimal(999), rows=9)
        month_totals.recount()
        assert maintained() == kept
