"""Usage against limits is one read model: the API's `limit_usage` and the GUI's "used" agree."""

from __future__ import annotations

import datetime
from decimal import Decimal

import time_machine

from efp.marketplace import metering
from efp.marketplace.billing_months import month_start
from efp.marketplace.models import OfferingComponent, Resource
from efp.marketplace.services.usage import UsageItem, set_usage
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

NOW = datetime.datetime(2026, 8, 15, 12, 0, tzinfo=datetime.UTC)
LP = OfferingComponent.LimitPeriod
# Storage reported per month: last year's December, this year's April, July and August (the current month).
REPORTS = {
    datetime.date(2025, 12, 1): 1,
    datetime.date(2026, 4, 1): 2,
    datetime.date(2026, 7, 1): 4,
    datetime.date(2026, 8, 1): 8,
}
EXPECTED = {None: 8, LP.MONTH: 8, LP.QUARTERLY: 12, LP.ANNUAL: 14, LP.TOTAL: 15}


@time_machine.travel(NOW, tick=False)
class LimitUsageTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.alloc = make_resource(self.alice, self.carol, self.project_a1, self.offering)
        Resource.objects.filter(pk=self.alloc.pk).update(created=NOW - datetime.timedelta(days=400))
        for month, amount in REPORTS.items():
            date = None if month == datetime.date(2026, 8, 1) else month_start(month)
            set_usage(
                user=self.staff,
                resource=self.alloc,
                usages=[UsageItem("storage", Decimal(amount))],
                date=date,
            )

    def test_it_answers_the_api_and_the_gui_alike_for_every_limit_period(self) -> None:
        client = self.as_user(self.carol)
        for period, expected in EXPECTED.items():
            OfferingComponent.objects.filter(offering=self.offering, type="storage").update(
                limit_period=period
            )
            api = client.get(f"/api/marketplace-provider-resources/{self.alloc.uuid.hex}/").json()[
                "limit_usage"
            ]
            listed = client.get("/api/marketplace-provider-resources/").json()[0]["limit_usage"]
            [gui] = [
                s
                for s in metering.summarise([self.alloc], today=NOW.date())[self.alloc.pk]
                if s.type == "storage"
            ]
            assert api == listed == {"storage": float(expected)}, period
            assert gui.used == Decimal(expected), period
