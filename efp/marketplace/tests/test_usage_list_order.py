"""The usage lists' order is an index of the usage table (issue 18): every usage record carries its
component's type (`ComponentUsage.component_type`) and its resource's offering and project (`scope_of`,
what the lists' visibility reads), copied by each service that writes a record. Carol owns
provider P and reports usage of alice's allocation on offering O (cpu and gpu) and of her consulting
resource on offering B; staff correct a month nobody reported; bob's per-user usage opens last month's
record; an imported file opens the month before. After each kind of write the copies agree with a recount
from the components and resources, and both lists come out in Waldur's order (-date, then component type)."""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection
from django.utils import timezone

from efp.marketplace import selectors
from efp.marketplace.billing_months import add_months, billing_period_of, month_key, month_start
from efp.marketplace.models import ComponentUsage, ComponentUserUsage
from efp.marketplace.services import corrections, usage_imports
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_project, make_resource


class UsageListOrderTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alloc = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="alloc")
        cls.consult = make_resource(cls.alice, cls.carol, cls.project_a1, cls.basic, name="consult")
        cls.current = billing_period_of(timezone.now())

    def assert_copies_agree_with_a_recount(self) -> None:
        copied = dict(ComponentUsage.objects.values_list("pk", "component_type"))
        recounted = dict(ComponentUsage.objects.values_list("pk", "component__type"))
        self.assertEqual(copied, recounted)
        self.assertNotIn("", copied.values())
        scopes = {pk: scope for pk, *scope in ComponentUsage.objects.values_list("pk", "offering", "project")}
        of_resources = {
            pk: scope
            for pk, *scope in ComponentUsage.objects.values_list(
                "pk", "resource__offering", "resource__project"
            )
        }
        self.assertEqual(scopes, of_resources)

    def write_every_kind(self) -> None:
        report = usage_services.set_usage
        report(
            user=self.carol,
            resource=self.alloc,
            usages=[UsageItem("gpu", Decimal(2)), UsageItem("cpu", Decimal(5))],
        )
        self.assert_copies_agree_with_a_recount()
        report(user=self.carol, resource=self.consult, usages=[UsageItem("cpu", Decimal(1))])
        self.assert_copies_agree_with_a_recount()
        before = add_months(self.current, -1)
        corrections.correct_month(
            user=self.staff,
            resource=self.alloc,
            component=self.offering.components.get(type="gpu"),
            month=add_months(self.current, -2),
            amount=Decimal(3),
            reason="Missed by the agent",
        )
        self.assert_copies_agree_with_a_recount()
        [cpu] = ComponentUsage.objects.filter(resource=self.alloc, component__type="cpu")
        user_usage_services.set_user_usage(
            user=self.staff,
            component_usage=cpu,
            item=UserUsageItem(username="bob", usage=Decimal(1), date=month_start(before)),
        )
        self.assert_copies_agree_with_a_recount()
        three_back = month_key(add_months(self.current, -3))
        line = f"{self.alloc.uuid.hex},cpu,{three_back},7,,Backfilled from the scheduler log"
        usage_imports.import_usage(
            user=self.staff,
            content=f"resource_uuid,component,month,amount,username,reason\n{line}\n".encode(),
            dry_run=False,
        )
        self.assert_copies_agree_with_a_recount()

    def test_each_kind_of_write_copies_the_component_type_and_the_resources_scope(self) -> None:
        self.write_every_kind()
        self.assertEqual(ComponentUsage.objects.filter(resource=self.alloc).count(), 5)

    def test_the_migration_fills_the_copies_from_the_resources(self) -> None:
        self.write_every_kind()
        elsewhere = make_project(self.org_a, "Project A2")
        ComponentUsage.objects.update(offering=self.basic, project=elsewhere)  # as if never copied
        migration = importlib.import_module("efp.marketplace.migrations.0019_usage_row_scope")
        with connection.cursor() as cursor:
            migration.backfill(None, SimpleNamespace(connection=connection, execute=cursor.execute))
        self.assert_copies_agree_with_a_recount()

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

    def test_the_few_resources_of_a_page_are_those_whose_usage_each_persona_may_read(self) -> None:
        for user in (self.alice, self.bob, self.carol, self.dave, self.oscar):
            with self.subTest(user=user.username):
                expected = set(selectors.usage_visible_resources(user).values_list("pk", flat=True))
                self.assertEqual(set(selectors.few_usage_resources(user, 100) or []), expected)
                self.assertEqual(selectors.few_usage_resources(user, len(expected)), sorted(expected))
                if expected:
                    self.assertIsNone(selectors.few_usage_resources(user, len(expected) - 1))
        self.assertIsNone(selectors.few_usage_resources(self.staff, 100))
