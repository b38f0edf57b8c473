"""The usage lists' order is an index of the usage table (issue 18): every usage record carries its
component's type (`ComponentUsage.component_type`), copied by each service that writes a record. Carol owns
provider P and reports usage of alice's allocation on offering O (cpu and gpu) and of her consulting
resource on offering B; staff correct a month nobody reported; bob's per-user usage opens last month's
record; an imported file opens the month before. After each kind of write the copy agrees with a recount
from the components, and both lists come out in Waldur's order (-date, then component type)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of, month_key, month_start
from efp.marketplace.models import ComponentUsage, ComponentUserUsage
from efp.marketplace.services import corrections, usage_imports
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource


class UsageListOrderTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alloc = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        cls.consult = make_resource(cls.alice, cls.carol, cls.project_a1, cls.basic, name="consult")
        cls.current = billing_period_of(timezone.now())

    def assert_types_agree_with_a_recount(self) -> None:
        copied = dict(ComponentUsage.objects.values_list("pk", "component_type"))
        recounted = dict(ComponentUsage.objects.values_list("pk", "component__type"))
        self.assertEqual(copied, recounted)
        self.assertNotIn("", copied.values())

    def write_every_kind(self) -> None:
        report = usage_services.set_usage
        report(
            user=self.carol,
            resource=self.alloc,
            usages=[UsageItem("gpu", Decimal(2)), UsageItem("cpu", Decimal(5))],
        )
        self.assert_types_agree_with_a_recount()
        report(user=self.carol, resource=self.consult, usages=[UsageItem("cpu", Decimal(1))])
        self.assert_types_agree_with_a_recount()
        before = add_months(self.current, -1)
        corrections.correct_month(
            user=self.staff,
            resource=self.alloc,
            component=self.offering.components.get(type="gpu"),
            month=add_months(self.current, -2),
            amount=Decimal(3),
            reason="Missed by the agent",
        )
        self.assert_types_agree_with_a_recount()
        [cpu] = ComponentUsage.objects.filter(resource=self.alloc, component__type="cpu")
        user_usage_services.set_user_usage(
            user=self.staff,
            component_usage=cpu,
            item=UserUsageItem(username="bob", usage=Decimal(1), date=month_start(before)),
        )
        self.assert_types_agree_with_a_recount()
        three_back = month_key(add_months(self.current, -3))
        line = f"{self.alloc.uuid.hex},cpu,{three_back},7,,Backfilled from the scheduler log"
        usage_imports.import_usage(
            user=self.staff,
            content=f"resource_uuid,component,month,amount,username,reason\n{line}\n".encode(),
            dry_run=False,
        )
        self.assert_types_agree_with_a_recount()

    def test_each_kind_of_write_copies_the_component_type(self) -> None:
        self.write_every_kind()
        self.assertEqual(ComponentUsage.objects.filter(resource=self.alloc).count(), 5)

    def test_the_lists_come_in_waldurs_order(self) -> None:
        self.write_every_kind()
        usages = self.as_user(self.carol).get("/api/marketplace-component-usages/?page_size=50").json()
        keys = [(u["date"], u["type"]) for u in usages]
        newest_first = sorted(keys, key=lambda key: key[1])
        newest_first.sort(key=lambda key: key[0], reverse=True)
        self.assertEqual(keys, newest_first)
        rows = self.as_user(self.carol).get("/api/marketplace-component-user-usages/?page_size=50").json()
        self.assertEqual([row["username"] for row in rows], ["bob"])
        self.assertEqual(ComponentUserUsage.objects.count(), 1)
