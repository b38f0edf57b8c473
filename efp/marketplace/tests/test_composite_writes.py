"""Composite writes are service verbs: an offering with its components and plans, a category, a month of
usage with its per-user rows. Each is all or nothing, and refuses those who may not."""

from __future__ import annotations

import datetime
from decimal import Decimal

import time_machine
from django.db import IntegrityError

from efp.errors import Forbidden, InvalidInput
from efp.marketplace.models import (
    Category,
    ComponentUsage,
    ComponentUserUsage,
    Offering,
    OfferingComponent,
    Plan,
    UsageRevision,
)
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.services.user_usage import MonthReportItem, UserUsagesInvalid, report_month_usage
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
BT = OfferingComponent.BillingType
COMPONENTS = [
    offering_services.ComponentSpec(
        type="cpu", name="CPU", billing_type=BT.USAGE, fields={"measured_unit": "h"}
    ),
    offering_services.ComponentSpec(type="storage", name="Storage", billing_type=BT.LIMIT),
]


class CreateOfferingTests(MarketplaceTestCase):
    def create(self, user: object, **fields: object) -> Offering:
        return offering_services.create_offering(
            user=user,
            customer=self.provider_p,
            category=Category.objects.get(),
            name="Lumi",
            offering_type="Marketplace.Slurm",
            **{"components": COMPONENTS, "plans": [offering_services.PlanSpec(name="Default")], **fields},  # type: ignore[arg-type]
        )

    def test_it_creates_an_offering_with_its_components_and_plans(self) -> None:
        plan = offering_services.PlanSpec(
            name="Default", unit_price=Decimal(10), prices={"cpu": Decimal("0.5")}, quotas={"storage": 5}
        )
        offering = self.create(self.staff, plans=[plan])
        assert sorted(offering.components.values_list("type", "measured_unit")) == [
            ("cpu", "h"),
            ("storage", ""),
        ]
        [stored] = offering.plans.all()
        assert stored.unit_price == Decimal(10)
        assert {pc.component.type: (pc.price, pc.amount) for pc in stored.components.all()} == {
            "cpu": (Decimal("0.5"), 0),
            "storage": (Decimal(0), 5),
        }

    def test_it_refuses_everyone_but_staff(self) -> None:
        for user in (self.carol, self.oscar, self.alice, self.dave):
            with self.assertRaises(Forbidden):
                self.create(user)
        assert not Offering.objects.filter(name="Lumi").exists()

    def test_it_writes_nothing_when_a_component_is_named_twice(self) -> None:
        with self.assertRaises(InvalidInput) as refused:
            self.create(self.staff, components=[*COMPONENTS, COMPONENTS[0]])
        assert refused.exception.as_data() == {"type": ["The offering already has a component of type cpu."]}
        assert not Offering.objects.filter(name="Lumi").exists()

    def test_it_writes_nothing_when_a_later_plan_is_refused_by_the_database(self) -> None:
        plans = [
            offering_services.PlanSpec(name="Good"),
            offering_services.PlanSpec(name="Bad", max_amount=-1),
        ]
        with self.assertRaises(IntegrityError):
            self.create(self.staff, plans=plans)
        assert not Offering.objects.filter(name="Lumi").exists()
        assert not OfferingComponent.objects.filter(offering__name="Lumi").exists()
        assert not Plan.objects.filter(name="Good").exists()

    def test_it_answers_a_doubled_component_before_a_bad_plan(self) -> None:
        category = Category.objects.get()
        body = {
            "customer": f"http://testserver/api/customers/{self.provider_p.uuid.hex}/",
            "category": f"http://testserver/api/marketplace-categories/{category.uuid.hex}/",
            "name": "Lumi",
            "type": "Marketplace.Slurm",
            "components": [{"type": "a", "name": "A"}, {"type": "a", "name": "B"}],
            "plans": [{"name": "p", "unit_price": "-1"}],
        }
        response = self.as_user(self.staff).post("/api/marketplace-provider-offerings/", body, format="json")
        assert response.status_code == 400
        assert response.json() == {"type": ["The offering already has a component of type a."]}
        assert not Offering.objects.filter(name="Lumi").exists()


class CreateCategoryTests(MarketplaceTestCase):
    def test_it_creates_a_category(self) -> None:
        category = offering_services.create_category(user=self.staff, title="AI", description="Models")
        assert Category.objects.get(title="AI") == category and category.description == "Models"

    def test_it_refuses_everyone_but_staff(self) -> None:
        for user in (self.carol, self.alice, self.dave):
            with self.assertRaises(Forbidden):
                offering_services.create_category(user=user, title="AI")
        assert not Category.objects.filter(title="AI").exists()

    def test_it_answers_201_with_the_category_and_its_location(self) -> None:
        response = self.as_user(self.staff).post(
            "/api/marketplace-categories/", {"title": "AI"}, format="json"
        )
        assert response.status_code == 201
        category = Category.objects.get(title="AI")
        url = f"http://testserver/api/marketplace-categories/{category.uuid.hex}/"
        assert response.json() == {
            "url": url,
            "uuid": category.uuid.hex,
            "title": "AI",
            "description": "",
            "offering_count": 0,
        }
        assert response["Location"] == url


@time_machine.travel(NOW, tick=False)
class ReportMonthUsageTests(MarketplaceTestCase):
    def setUp(self) -> None:
        self.resource = make_resource(self.alice, self.carol, self.project_a1, self.offering)

    def report(
        self, user: object, items: list[MonthReportItem], month: datetime.date | None = None
    ) -> list[ComponentUsage]:
        return report_month_usage(
            user=user, resource=self.resource, month=month or datetime.date(2026, 6, 1), items=items
        )

    @staticmethod
    def item(kind: str, amount: str, **users: str) -> MonthReportItem:
        return MonthReportItem(
            usage=UsageItem(type=kind, amount=Decimal(amount)),
            users=[UserUsageItem(username=name, usage=Decimal(value)) for name, value in users.items()],
        )

    def test_it_writes_the_totals_and_the_per_user_rows(self) -> None:
        [cpu, storage] = self.report(
            self.carol, [self.item("cpu", "30", bob="20", erin="10"), self.item("storage", "2")]
        )
        assert (cpu.usage, cpu.billing_period, cpu.date) == (Decimal(30), datetime.date(2026, 6, 1), NOW)
        assert sorted(ComponentUserUsage.objects.values_list("component_usage", "username", "usage")) == [
            (cpu.pk, "bob", Decimal(20)),
            (cpu.pk, "erin", Decimal(10)),
        ]
        assert storage.usage == Decimal(2) and not storage.user_usages.exists()
        assert set(UsageRevision.objects.values_list("source", flat=True)) == {UsageRevision.Source.GUI}

    def test_it_dates_a_past_month_at_its_start(self) -> None:
        [storage] = self.report(self.staff, [self.item("storage", "4")], month=datetime.date(2026, 5, 1))
        assert storage.billing_period == datetime.date(2026, 5, 1)
        assert storage.date == datetime.datetime(2026, 5, 1, tzinfo=storage.date.tzinfo)

    def test_it_refuses_a_consumer_who_sees_the_usage(self) -> None:
        with self.assertRaises(Forbidden):
            self.report(self.alice, [self.item("cpu", "30", bob="30")])
        assert not ComponentUsage.objects.exists()

    def test_it_refuses_an_outsider_as_if_the_resource_did_not_exist(self) -> None:
        with self.assertRaises(InvalidInput) as refused:
            self.report(self.dave, [self.item("cpu", "30")])
        assert "resource" in refused.exception.field_errors()
        assert not ComponentUsage.objects.exists()

    def test_it_writes_nothing_when_a_later_per_user_row_is_invalid(self) -> None:
        items = [self.item("cpu", "30", bob="30"), self.item("gpu", "5", erin="1.001")]
        with self.assertRaises(UserUsagesInvalid) as refused:
            self.report(self.carol, items)
        assert refused.exception.component_type == "gpu"
        assert refused.exception.as_data() == {
            "usages": [{"usage": ["Ensure that there are no more than 2 decimal places."]}]
        }
        assert not ComponentUsage.objects.exists()
        assert not ComponentUserUsage.objects.exists()
        assert not UsageRevision.objects.exists()
