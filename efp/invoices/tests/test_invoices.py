"""Invoices, as a story: Organisation A (alice owns it; bob is a member of its project) buys a "Nimbus"
allocation from provider P (carol owns it, oscar manages the offering) in the middle of April 2026, and a
"Quasar" one from provider Q (quinn). Nimbus's plan costs 30 a month, has a fixed component (2 nodes at 10
each), a usage component (CPU at 0.05 an hour) and a prepaid licence (4 at 3 each, paid once). In May the
hourly job finalises April's invoice and opens May's. Everybody reads the invoices through Waldur's SDK.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.db import connection
from django.test import SimpleTestCase
from django.test.utils import CaptureQueriesContext
from waldur_api_client.api.invoice_items import (
    invoice_items_count,
    invoice_items_list,
    invoice_items_retrieve,
)
from waldur_api_client.api.invoices import invoices_count, invoices_list, invoices_retrieve
from waldur_api_client.models.invoice_state_enum import InvoiceStateEnum

from efp.events.schedule import load_jobs
from efp.invoices import services
from efp.invoices.models import Invoice, InvoiceItem
from efp.invoices.pricing import month_lines, time_quantity
from efp.marketplace.models import Category, Offering, OfferingComponent, Plan, Resource
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services.offerings import grant_offering_manager
from efp.marketplace.services.usage import UsageItem, set_usage
from efp.marketplace.tests import factories
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_customer, make_offering, make_order, make_resource, make_user
from efp.marketplace.tests.test_site_agent_api import sdk, status_of

BW = OfferingComponent.BillingType
UTC = datetime.UTC
MID_APRIL = datetime.datetime(2026, 4, 16, 0, 0, tzinfo=UTC)
APRIL, MAY = datetime.date(2026, 4, 1), datetime.date(2026, 5, 1)


def nimbus(provider: Any) -> Offering:
    offering = offering_services.create_offering(
        customer=provider,
        category=Category.objects.get_or_create(title="HPC")[0],
        name="Nimbus",
        offering_type="Marketplace.Slurm",
    )
    offering_services.add_component(
        offering=offering, component_type="nodes", name="Nodes", billing_type=BW.FIXED, measured_unit="nodes"
    )
    offering_services.add_component(
        offering=offering, component_type="cpu", name="CPU", billing_type=BW.USAGE, measured_unit="hours"
    )
    offering_services.add_component(
        offering=offering,
        component_type="licence",
        name="Licence",
        billing_type=BW.LIMIT,
        is_prepaid=True,
        max_value=100,
    )
    offering_services.create_plan(
        offering=offering,
        name="Monthly",
        unit_price=Decimal(30),
        prices={"nodes": Decimal(10), "cpu": Decimal("0.05"), "licence": Decimal(3)},
        quotas={"nodes": 2},
    )
    return offering


class InvoiceStoryTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.quinn = make_user("quinn")
        cls.rose = make_user("rose", is_support=True)
        cls.provider_q = make_customer("Provider Q", owner=cls.quinn)
        with time_machine.travel(MID_APRIL, tick=False):
            cls.nimbus = nimbus(cls.provider_p)
            grant_offering_manager(offering=cls.nimbus, user=cls.oscar)
            order = make_order(cls.alice, cls.project_a1, cls.nimbus, name="alloc", limits={"licence": 4})
            order_services.approve_order_by_provider(order=order, user=cls.carol)
            order.refresh_from_db()
            if order.state != "done":
                order_services.complete_order(order=order, user=cls.carol)
            cls.alloc = Resource.objects.get(pk=order.resource_id)
            cls.quasar = make_offering(cls.provider_q, name="Quasar")
            cls.alloc_q = make_resource(cls.alice, cls.quinn, cls.project_a1, cls.quasar, name="alloc-q")
        with time_machine.travel(datetime.datetime(2026, 4, 25, 12, tzinfo=UTC), tick=False):
            set_usage(user=cls.carol, resource=cls.alloc, usages=[UsageItem("cpu", Decimal("123.45"))])
            set_usage(user=cls.quinn, resource=cls.alloc_q, usages=[UsageItem("cpu", Decimal(100))])
        with time_machine.travel(datetime.datetime(2026, 5, 1, 1, tzinfo=UTC), tick=False):
            cls.summary = services.refresh_invoices()
        cls.april = Invoice.objects.get(customer=cls.org_a, year=2026, month=4)
        cls.may = Invoice.objects.get(customer=cls.org_a, year=2026, month=5)

    def items(self, invoice: Invoice, resource: Any) -> dict[str, tuple[str, str, Decimal]]:
        return {
            item.billing_type: (item.unit, format(item.quantity.normalize(), "f"), item.price)
            for item in InvoiceItem.objects.filter(invoice=invoice, resource=resource)
        }

    def test_it_bills_april_from_the_plan_the_fixed_the_usage_and_the_prepaid_components(self) -> None:
        # 15 of April's 30 days live: half the plan and half the nodes; the CPU used; the licence once.
        assert self.items(self.april, self.alloc) == {
            "plan": ("month", "0.5", Decimal("15.00")),
            "fixed": ("month", "1", Decimal("10.00")),
            "usage": ("quantity", "123.45", Decimal("6.17")),  # 6.1725, rounded half up
            "prepaid": ("quantity", "4", Decimal("12.00")),
        }
        # Quasar: its CPU at 0.02, and its storage limit of 10 at 8 a month for half of April.
        assert self.items(self.april, self.alloc_q) == {
            "usage": ("quantity", "100", Decimal("2.00")),
            "limit": ("month", "5", Decimal("40.00")),
        }
        assert self.april.total_price == Decimal("85.17")

    def test_it_finalises_april_in_may_and_keeps_may_pending(self) -> None:
        assert (self.april.state, self.april.invoice_date) == ("created", datetime.date(2026, 5, 1))
        assert self.may.state == "pending"
        # May: the whole month of plan and nodes; the licence was paid in April; no usage yet.
        assert self.items(self.may, self.alloc) == {
            "plan": ("month", "1", Decimal("30.00")),
            "fixed": ("month", "2", Decimal("20.00")),
        }
        assert self.may.total_price == Decimal("130.00")  # and Quasar's storage, 80

    def test_it_leaves_a_finalised_invoice_as_it_is(self) -> None:
        Plan.objects.filter(offering=self.nimbus).update(unit_price=Decimal(60))
        with time_machine.travel(datetime.datetime(2026, 5, 2, tzinfo=UTC), tick=False):
            services.refresh_month(customer=self.org_a, month=APRIL)
            services.refresh_month(customer=self.org_a, month=MAY)
        self.april.refresh_from_db()
        self.may.refresh_from_db()
        assert (self.april.total_price, self.may.total_price) == (Decimal("85.17"), Decimal("160.00"))

    def test_its_total_agrees_with_a_recount_after_a_story_of_writes(self) -> None:
        with time_machine.travel(datetime.datetime(2026, 5, 20, tzinfo=UTC), tick=False):
            uuids = set(InvoiceItem.objects.filter(invoice=self.may).values_list("uuid", flat=True))
            set_usage(user=self.carol, resource=self.alloc, usages=[UsageItem("cpu", Decimal(10))])
            services.refresh_month(customer=self.org_a, month=MAY)
            set_usage(user=self.carol, resource=self.alloc, usages=[UsageItem("cpu", Decimal(20))])
            services.refresh_month(customer=self.org_a, month=MAY)
            lines = month_lines(customer=self.org_a, month=MAY)
        self.may.refresh_from_db()
        items = InvoiceItem.objects.filter(invoice=self.may)
        assert self.may.total_price == sum(item.price for item in items) == sum(line.price for line in lines)
        assert self.may.total_price == Decimal("131.00")  # 130 + 20 hours at 0.05
        # The lines billed before keep their uuids; the usage line is one, updated.
        assert uuids <= set(items.values_list("uuid", flat=True))
        assert items.filter(billing_type="usage").count() == 1

    def backfill_april_cpu(self, when: datetime.datetime, hours: int) -> None:
        """Staff corrects April's CPU hours after April's invoice was issued."""
        with time_machine.travel(when, tick=False):
            april_day = datetime.datetime(2026, 4, 25, 12, tzinfo=UTC)
            set_usage(
                user=self.staff,
                resource=self.alloc,
                usages=[UsageItem("cpu", Decimal(hours))],
                date=april_day,
            )
            services.refresh_invoices()

    def late(self, invoice: Invoice) -> list[tuple[str, str, Decimal]]:
        return [
            (item.name.split(" / ")[-1], format(item.quantity.normalize(), "f"), item.price)
            for item in invoice.items.filter(details__has_key="late_usage_month")
        ]

    def test_it_bills_usage_reported_late_on_the_pending_invoice_and_leaves_the_issued_one(self) -> None:
        self.backfill_april_cpu(datetime.datetime(2026, 5, 10, tzinfo=UTC), 150)  # 26.55 hours more
        self.april.refresh_from_db()
        self.may.refresh_from_db()
        assert self.april.total_price == Decimal("85.17")
        assert self.late(self.may) == [("CPU (usage of 2026-04, reported late)", "26.55", Decimal("1.33"))]
        assert self.may.total_price == Decimal("131.33")
        item = self.may.items.get(details__has_key="late_usage_month")
        assert (item.start, item.billing_type) == (MID_APRIL, "usage")  # April's span: what it bills
        # June: May is issued with the late item; June bills only what has been reported since.
        with time_machine.travel(datetime.datetime(2026, 6, 1, 1, tzinfo=UTC), tick=False):
            services.refresh_invoices()
        june = Invoice.objects.get(customer=self.org_a, year=2026, month=6)
        assert self.late(june) == []
        self.backfill_april_cpu(datetime.datetime(2026, 6, 3, tzinfo=UTC), 140)  # lowered: 10 hours credited
        assert self.late(june) == [("CPU (usage of 2026-04, reported late)", "-10", Decimal("-0.50"))]
        self.may.refresh_from_db()
        assert self.may.total_price == Decimal("131.33")

    def switch_to_large(self, when: datetime.datetime) -> None:
        """Nimbus gains a set-up fee billed on a plan switch (`few`) and a "Large" plan charging 25 for it;
        alice moves the allocation to Large at `when`."""
        with time_machine.travel(when, tick=False):
            offering_services.add_component(
                offering=self.nimbus, component_type="setup", name="Set-up", billing_type=BW.FEW
            )
            large = offering_services.create_plan(
                offering=self.nimbus,
                name="Large",
                unit_price=Decimal(62),
                prices={"nodes": Decimal(10), "cpu": Decimal("0.05"), "setup": Decimal(25)},
                quotas={"nodes": 2},
            )
            order = order_services.switch_resource_plan(resource=self.alloc, user=self.alice, plan=large)
            order_services.approve_order_by_provider(order=order, user=self.carol)
            order.refresh_from_db()
            if order.state != "done":
                order_services.complete_order(order=order, user=self.carol)

    def test_it_bills_a_plan_switch_component_once_in_the_month_of_the_switch(self) -> None:
        self.switch_to_large(datetime.datetime(2026, 5, 21, 12, tzinfo=UTC))
        with time_machine.travel(datetime.datetime(2026, 6, 1, 1, tzinfo=UTC), tick=False):
            services.refresh_invoices()
        may = InvoiceItem.objects.filter(invoice=self.may, resource=self.alloc)
        assert [
            (i.plan.name, format(i.quantity.normalize(), "f"), i.price)
            for i in may.filter(billing_type="few")
        ] == [("Large", "1", Decimal("25.00"))]
        assert {(i.plan.name, i.price) for i in may.filter(billing_type="plan")} == {
            ("Monthly", Decimal("20.32")),  # 21 days of 31 at 30 (each plan bills the day of the switch)
            ("Large", Decimal("22.00")),  # 11 days of 31 at 62
        }
        june = Invoice.objects.get(customer=self.org_a, year=2026, month=6)
        assert not june.items.filter(billing_type="few").exists()

    def pending(self) -> dict[tuple[Any, ...], tuple[Decimal, Decimal, Decimal]]:
        """Every pending invoice's items, and its total, by what they bill."""
        items = InvoiceItem.objects.filter(invoice__state="pending").select_related("invoice")
        rows = {
            (i.invoice.customer_id, i.resource_id, i.billing_type, i.plan_id, i.component_id, i.start): (
                i.unit_price,
                i.quantity,
                i.price,
            )
            for i in items
        }
        for invoice in Invoice.objects.filter(state="pending"):
            rows[(invoice.customer_id, "total")] = (invoice.total_price, Decimal(0), Decimal(0))
        return rows

    def refresh_at(self, hour: int, **kwargs: Any) -> dict[str, Any]:
        with time_machine.travel(datetime.datetime(2026, 5, 1, hour, tzinfo=UTC), tick=False):
            return services.refresh_invoices(**kwargs)

    def test_an_incremental_refresh_recomputes_what_changed_and_agrees_with_a_full_recount(self) -> None:
        assert self.summary == {"mode": "full", "customers": 1, "finalised": 1}  # May's first run: April
        cora, bert = make_user("cora"), make_user("bert")
        org_b = make_customer("Organisation B", owner=bert)
        org_c = make_customer("Organisation C", owner=cora)
        with time_machine.travel(datetime.datetime(2026, 5, 1, 2, tzinfo=UTC), tick=False):
            project_c1 = factories.make_project(org_c, "Project C1")
            make_resource(cora, self.quinn, project_c1, self.quasar, name="c-alloc")
        assert self.refresh_at(3) == {"mode": "incremental", "customers": 1, "finalised": 0}  # C's
        assert self.refresh_at(4) == {"mode": "incremental", "customers": 0, "finalised": 0}  # nothing new
        # Alice's allocation moves to Large and reports CPU; bert's organisation buys Quasar.
        self.switch_to_large(datetime.datetime(2026, 5, 1, 5, tzinfo=UTC))
        with time_machine.travel(datetime.datetime(2026, 5, 1, 6, tzinfo=UTC), tick=False):
            set_usage(user=self.carol, resource=self.alloc, usages=[UsageItem("cpu", Decimal(7))])
            project_b1 = factories.make_project(org_b, "Project B1")
            make_resource(bert, self.quinn, project_b1, self.quasar, name="b-alloc")
        assert self.refresh_at(7) == {"mode": "incremental", "customers": 2, "finalised": 0}  # A's and B's
        incremental = self.pending()
        assert self.refresh_at(8, full=True) == {"mode": "full", "customers": 3, "finalised": 0}
        assert self.pending() == incremental
        assert InvoiceItem.objects.filter(invoice__customer=self.org_a, billing_type="few").count() == 1

    def test_a_refresh_with_no_changes_reads_a_fixed_number_of_queries(self) -> None:
        with CaptureQueriesContext(connection) as captured:
            assert self.refresh_at(2)["customers"] == 0
        # The mark, the stale invoices, the three change scans (resources, usage, orders), the mark written.
        assert len(captured) == 6, [q["sql"] for q in captured]

    def test_the_owner_staff_and_support_read_the_invoices_through_the_sdk(self) -> None:
        for user in (self.alice, self.staff, self.rose):
            invoices = invoices_list.sync(client=sdk(user), customer_uuid=self.org_a.uuid)
            assert [(i.year, i.month, i.state) for i in invoices] == [
                (2026, 5, InvoiceStateEnum.PENDING),
                (2026, 4, InvoiceStateEnum.CREATED),
            ], user
        april = invoices_retrieve.sync(uuid=self.april.uuid, client=sdk(self.alice))
        assert (april.price, april.tax, april.total) == ("85.1700000000", "0.0000000000", "85.1700000000")
        # 6.1725 of CPU unrounded: the items' unit_price x quantity summed, as Waldur counts it.
        assert (april.compensations, april.incurred_costs) == (0.0, 85.1725)
        assert april.number == 100000 + self.april.pk
        assert april.due_date == datetime.date(2026, 5, 31)
        assert april.customer == f"http://testserver/api/customers/{self.org_a.uuid.hex}/"
        assert sorted(item.price for item in april.items) == [2.0, 6.17, 10.0, 12.0, 15.0, 40.0]
        plan = next(item for item in april.items if item.billing_type == "plan")
        assert (plan.unit_price, plan.quantity, plan.tax, plan.total, plan.resource_uuid) == (
            "30.0000000000",
            "0.5000000000",
            "0.00",
            "15.00",
            self.alloc.uuid,
        )
        assert plan.start == MID_APRIL and plan.end == datetime.datetime(2026, 5, 1, tzinfo=UTC)
        assert invoices_count.sync(client=sdk(self.alice), state=[InvoiceStateEnum.CREATED]) == 1

    def test_its_money_has_waldur_8s_json_types(self) -> None:
        """Read raw: the SDK would accept a number where a string belongs, a client's parser may not."""
        april = self.as_user(self.alice).get(f"/api/invoices/{self.april.uuid.hex}/").json()
        assert {key: april[key] for key in ("price", "tax", "total", "compensations", "incurred_costs")} == {
            "price": "85.1700000000",
            "tax": "0.0000000000",
            "total": "85.1700000000",
            "compensations": 0.0,
            "incurred_costs": 85.1725,
        }
        usage = next(item for item in april["items"] if item["price"] == 6.17)
        assert {key: usage[key] for key in ("price", "tax", "total", "unit_price", "quantity")} == {
            "price": 6.17,
            "tax": "0.00",
            "total": "6.17",
            "unit_price": "0.0500000000",
            "quantity": "123.4500000000",
        }
        detail = self.as_user(self.alice).get(f"/api/invoice-items/{usage['uuid']}/").json()
        assert (detail["price"], detail["unit_price"], detail["quantity"]) == (
            6.17,
            "0.0500000000",
            "123.4500000000",
        )

    def test_nobody_else_reads_the_invoices(self) -> None:
        for user in (self.bob, self.erin, self.carol, self.oscar, self.quinn, self.dave):
            assert invoices_list.sync(client=sdk(user)) == [], user
            assert status_of(invoices_retrieve.sync, uuid=self.april.uuid, client=sdk(user)) == 404

    def test_each_provider_reads_the_items_of_its_offerings_only(self) -> None:
        def seen(user: Any, **filters: Any) -> set[tuple[str, str]]:
            items = invoice_items_list.sync(client=sdk(user), page_size=100, **filters)
            return {(item.offering_name, item.name.split(" / ")[-1]) for item in items}

        nimbus_april = {("Nimbus", "Monthly"), ("Nimbus", "Nodes"), ("Nimbus", "CPU"), ("Nimbus", "Licence")}
        for user in (self.carol, self.oscar):
            assert seen(user, year=2026, month=4) == nimbus_april, user
        quasar = {("Quasar", "CPU"), ("Quasar", "Storage")}
        assert seen(self.quinn) == quasar
        assert seen(self.alice, year=2026, month=4) == nimbus_april | quasar
        for user in (self.bob, self.erin, self.dave):
            assert seen(user) == set(), user
        item = InvoiceItem.objects.filter(resource=self.alloc_q, billing_type="usage").first()
        assert item is not None
        detail = invoice_items_retrieve.sync(uuid=item.uuid, client=sdk(self.quinn))
        assert (detail.customer_name, detail.offering_uuid, detail.price) == (
            "Organisation A",
            self.quasar.uuid,
            2.0,
        )
        assert status_of(invoice_items_retrieve.sync, uuid=item.uuid, client=sdk(self.carol)) == 404

    def test_it_filters_items_by_resource(self) -> None:
        items = invoice_items_list.sync(client=sdk(self.alice), resource_uuid=self.alloc_q.uuid)
        assert {item.offering_name for item in items} == {"Quasar"}
        assert invoice_items_count.sync(client=sdk(self.alice), resource_uuid=self.alloc.uuid) == 6  # 4 + 2
        assert invoice_items_count.sync(client=sdk(self.alice), start_year=2026, start_month=5) == 3

    def test_every_write_is_refused(self) -> None:
        client = self.as_user(self.staff)
        item = InvoiceItem.objects.first()
        assert item is not None
        for method, path in (
            ("post", "/api/invoices/"),
            ("put", f"/api/invoices/{self.april.uuid.hex}/"),
            ("patch", f"/api/invoices/{self.april.uuid.hex}/"),
            ("delete", f"/api/invoices/{self.april.uuid.hex}/"),
            ("post", "/api/invoice-items/"),
            ("put", f"/api/invoice-items/{item.uuid.hex}/"),
            ("patch", f"/api/invoice-items/{item.uuid.hex}/"),
            ("delete", f"/api/invoice-items/{item.uuid.hex}/"),
        ):
            assert getattr(client, method)(path, {}, format="json").status_code == 405, (method, path)

    def test_its_lists_take_as_many_queries_for_ten_items_as_for_one(self) -> None:
        client = self.as_user(self.alice)

        def queries(path: str, **filters: str) -> tuple[int, int]:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, {"page_size": 100, **filters})
            assert response.status_code == 200
            rows = response.json()
            count = len(rows) if "invoice-items" in path else sum(len(i["items"]) for i in rows)
            return len(captured), count

        few, one = queries("/api/invoice-items/", resource_uuid=self.alloc_q.uuid.hex, year="2026", month="5")
        many, ten = queries("/api/invoice-items/")
        assert (one, ten) == (1, 9) and few == many
        invoices_few, _ = queries("/api/invoices/", year="2026", month="4")
        invoices_many, items = queries("/api/invoices/")
        assert items == 9 and invoices_few == invoices_many


class TimeQuantityTests(SimpleTestCase):
    """How many of a plan's units a live span within a month is (whole local days; started hours)."""

    def test_it_counts_each_unit_of_the_second_half_of_april(self) -> None:
        end = datetime.datetime(2026, 5, 1, tzinfo=UTC)
        assert [
            time_quantity(unit, MID_APRIL, end, APRIL) for unit in ("month", "half_month", "quarter", "day")
        ] == [
            Decimal("0.5"),
            Decimal(1),
            Decimal("0.1666666667"),
            Decimal(15),
        ]

    def test_it_counts_a_started_hour_and_a_touched_day_as_whole(self) -> None:
        end = MID_APRIL + datetime.timedelta(minutes=61)
        assert time_quantity("hour", MID_APRIL, end, APRIL) == 2
        assert time_quantity("day", MID_APRIL, end, APRIL) == 1


class RefreshJobTests(SimpleTestCase):
    def test_the_worker_runs_the_refresh_every_hour(self) -> None:
        assert load_jobs()["invoices.refresh"].cron == "41 * * * *"
