"""A usage-billed component's `limit_amount` per `limit_period` on `set_usage` (docs/contract.md §7.3 rule 9):
the period's total once the report is written may not pass the limit (400, Waldur's words).

carol owns provider P, whose offering O bills `cpu` by usage; alice's allocation `alloc` of O in project A1
is OK. "Now" is 15 June 2026; staff back-fill earlier months.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine

from efp.marketplace.models import ComponentUsage, OfferingComponent
from efp.marketplace.services import usage as usage_services
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

SET_USAGE = "/api/marketplace-component-usages/set_usage/"
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)
LP = OfferingComponent.LimitPeriod


class UsageLimitTests(MarketplaceTestCase):
    def setUp(self) -> None:
        traveller = time_machine.travel(NOW, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)
        with time_machine.travel(datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC), tick=False):
            self.alloc = make_resource(self.alice, self.carol, self.project_a1, self.offering)

    def limit_cpu(self, period: str | None, amount: int | None) -> None:
        OfferingComponent.objects.filter(offering=self.offering, type="cpu").update(
            limit_period=period, limit_amount=amount
        )

    def report(self, amount: str, *, month: int = 6, user: Any = None) -> Any:
        data = {"resource": self.alloc.uuid.hex, "usages": [{"type": "cpu", "amount": amount}]}
        if month != 6:
            data["date"] = f"2026-{month:02d}-10T10:00:00Z"
        return self.as_user(user or self.staff).post(SET_USAGE, data, format="json")

    def cpu_of(self, month: int) -> Decimal | None:
        row = ComponentUsage.objects.filter(
            resource=self.alloc, component__type="cpu", billing_period=datetime.date(2026, month, 1)
        ).first()
        return row.usage if row else None

    def test_a_monthly_limit_holds_each_month_and_a_new_report_replaces_the_months_value(self) -> None:
        self.limit_cpu(LP.MONTH, 100)
        assert self.report("80", user=self.carol).status_code == 201
        # The month's 80 is replaced by 95, not added to it.
        assert self.report("95", user=self.carol).status_code == 201
        response = self.report("100.01", user=self.carol)
        assert response.status_code == 400
        assert response.json() == ["Total amount exceeds limit. Total amount: 100.01, limit: 100."]
        assert self.cpu_of(6) == Decimal("95.00")
        assert self.report("100", month=5).status_code == 201  # another month has its own 100

    def test_a_total_limit_counts_every_month_of_the_resource(self) -> None:
        self.limit_cpu(LP.TOTAL, 100)
        assert self.report("40", month=1).status_code == 201
        assert self.report("30", month=3).status_code == 201
        response = self.report("31", user=self.carol)
        assert (response.status_code, response.json()) == (
            400,
            ["Total amount exceeds limit. Total amount: 101.00, limit: 100."],
        )
        assert self.cpu_of(6) is None
        assert self.report("30", user=self.carol).status_code == 201
        # Correcting March downwards makes room; the 40 of January still counts.
        assert self.report("10", month=3).status_code == 201
        assert self.report("50", user=self.carol).status_code == 201

    def test_an_annual_limit_counts_the_year_only(self) -> None:
        self.limit_cpu(LP.ANNUAL, 100)
        with time_machine.travel(datetime.datetime(2025, 12, 20, tzinfo=datetime.UTC), tick=False):
            usage_services.set_usage(
                user=self.staff, resource=self.alloc, usages=[usage_services.UsageItem("cpu", Decimal(90))]
            )
        assert self.report("60", month=2).status_code == 201  # December 2025 is last year
        response = self.report("41")
        assert response.status_code == 400
        assert response.json() == ["Total amount exceeds limit. Total amount: 101.00, limit: 100."]
        assert self.report("40").status_code == 201

    def test_a_quarterly_limit_counts_the_quarter(self) -> None:
        self.limit_cpu(LP.QUARTERLY, 50)
        assert self.report("30", month=3).status_code == 201  # the first quarter
        assert self.report("30", month=4).status_code == 201
        assert self.report("21", month=5).status_code == 400
        assert self.report("20", month=5).status_code == 201

    def test_no_period_or_no_amount_means_no_limit(self) -> None:
        for period, amount in ((None, 10), (LP.MONTH, None), (LP.MONTH, 0)):
            self.limit_cpu(period, amount)
            assert self.report("1000", user=self.carol).status_code == 201, (period, amount)

    def test_the_limit_is_checked_after_who_may_report(self) -> None:
        self.limit_cpu(LP.MONTH, 10)
        assert self.report("11", user=self.alice).status_code == 403
        assert self.report("11", user=self.carol).status_code == 400

    def test_the_gui_and_the_services_meet_the_same_limit(self) -> None:
        self.limit_cpu(LP.MONTH, 10)
        with self.assertRaisesMessage(
            Exception, "Total amount exceeds limit. Total amount: 12.00, limit: 10."
        ):
            usage_services.set_usage(
                user=self.carol, resource=self.alloc, usages=[usage_services.UsageItem("cpu", Decimal(12))]
            )
