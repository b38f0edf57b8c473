"""Corrections of a month's usage with a reason (issue 16): who may, how far back, what is kept.

Offering O's CPU is usage-billed (providers may not back-fill it), its storage limit-billed. Staff
reports CPU for last month and for five months ago; carol owns the provider, oscar manages O."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from efp.errors import Forbidden, InvalidInput
from efp.events.models import Event
from efp.marketplace.billing_months import add_months, billing_period_of, month_start
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, UsageRevision
from efp.marketplace.services import corrections
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.offerings import set_correction_policy
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.services.user_usage import MonthReportItem, Users, UsersExceedTotal
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_resource

By = Offering.CorrectedBy
CORRECTED = "marketplace_component_usage_corrected"


class CorrectionTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering)
        cls.current = billing_period_of(timezone.now())
        cls.last_month = add_months(cls.current, -1)
        cls.old_month = add_months(cls.current, -5)
        [cls.now_cpu] = cls.report(cls.current, "10")
        [cls.last_cpu] = cls.report(cls.last_month, "763.45")
        [cls.old_cpu] = cls.report(cls.old_month, "20")

    @classmethod
    def report(cls, month: Any, amount: str) -> list[ComponentUsage]:
        date = None if month == cls.current else month_start(month)
        return usage_services.set_usage(
            user=cls.staff,
            resource=cls.resource,
            usages=[UsageItem(type="cpu", amount=Decimal(amount))],
            date=date,
        )

    def correct(self, user: Any, usage: ComponentUsage, amount: str = "12.50", reason: str = "Typo") -> Any:
        return corrections.correct_usage(user=user, usage=usage, amount=Decimal(amount), reason=reason)

    def value(self, usage: ComponentUsage) -> Decimal:
        return ComponentUsage.objects.get(pk=usage.pk).usage


class CorrectUsageServiceTests(CorrectionTestCase):
    def test_it_corrects_a_closed_month_with_a_revision_and_an_event(self) -> None:
        self.correct(self.carol, self.last_cpu, "12.50", "Accounting counted a job twice")
        assert self.value(self.last_cpu) == Decimal("12.50")
        revision = UsageRevision.objects.filter(component_usage=self.last_cpu).latest("pk")
        assert (revision.old_value, revision.new_value) == (Decimal("763.45"), Decimal("12.50"))
        assert (revision.verb, revision.reason, revision.actor) == (
            UsageRevision.Verb.CORRECT,
            "Accounting counted a job twice",
            self.carol,
        )
        event = Event.objects.get(event_type=CORRECTED)
        assert event.context["reason"] == "Accounting counted a job twice"
        assert (event.context["old_usage"], event.context["usage"]) == ("763.45", "12.50")
        assert event.resource_id == self.resource.pk and event.actor == self.carol

    def test_it_writes_nothing_for_the_value_the_month_already_has(self) -> None:
        before = UsageRevision.objects.filter(component_usage=self.last_cpu).count()
        usage = self.correct(self.carol, self.last_cpu, "763.45", "Checked again")
        assert usage.usage == Decimal("763.45")
        assert UsageRevision.objects.filter(component_usage=self.last_cpu).count() == before
        assert not Event.objects.filter(event_type=CORRECTED).exists()

    def test_it_lets_offering_managers_and_staff_correct_by_default(self) -> None:
        self.correct(self.oscar, self.last_cpu, "1")
        self.correct(self.staff, self.old_cpu, "2")
        assert (self.value(self.last_cpu), self.value(self.old_cpu)) == (Decimal("1.00"), Decimal("2.00"))

    def test_it_updates_the_current_usages_for_the_current_month(self) -> None:
        self.correct(self.carol, self.now_cpu, "4")
        self.resource.refresh_from_db()
        assert self.resource.current_usages["cpu"] == 4.0

    def test_it_refuses_a_blank_reason(self) -> None:
        for reason in ("", "   "):
            with self.assertRaises(InvalidInput) as caught:
                self.correct(self.carol, self.last_cpu, "1", reason)
            assert caught.exception.field_errors() == {"reason": [corrections.MSG_REASON]}
        assert self.value(self.last_cpu) == Decimal("763.45")

    def test_it_refuses_bad_amounts(self) -> None:
        for amount in ("-1", "1.234"):
            with self.assertRaises(InvalidInput) as caught:
                self.correct(self.carol, self.last_cpu, amount)
            assert list(caught.exception.field_errors()) == ["usage"]
        assert not Event.objects.filter(event_type=CORRECTED).exists()

    def test_it_refuses_consumers_and_outsiders(self) -> None:
        for user in (self.alice, self.bob, self.erin, self.dave):
            with self.assertRaises(Forbidden):
                self.correct(user, self.last_cpu)
            with self.assertRaises(Forbidden):
                self.correct(user, self.now_cpu)
        assert self.value(self.last_cpu) == Decimal("763.45")

    def test_it_refuses_months_older_than_the_window_except_to_staff(self) -> None:
        with self.assertRaises(Forbidden) as caught:
            self.correct(self.carol, self.old_cpu)
        assert "may be corrected back to" in str(caught.exception)
        set_correction_policy(user=self.carol, offering=self.offering, months=6)
        self.correct(self.carol, self.old_cpu, "3")
        assert self.value(self.old_cpu) == Decimal("3.00")

    def test_it_follows_the_offerings_choice_of_correctors(self) -> None:
        set_correction_policy(user=self.carol, offering=self.offering, corrected_by=By.OWNERS)
        with self.assertRaises(Forbidden) as caught:
            self.correct(self.oscar, self.last_cpu)
        assert "provider's owners only" in str(caught.exception)
        self.correct(self.carol, self.last_cpu, "5")
        set_correction_policy(user=self.carol, offering=self.offering, corrected_by=By.STAFF)
        with self.assertRaises(Forbidden):
            self.correct(self.carol, self.last_cpu)
        self.correct(self.oscar, self.now_cpu, "6")  # the current month is a report, whoever may report
        self.correct(self.staff, self.last_cpu, "7")
        assert self.value(self.last_cpu) == Decimal("7.00")

    def test_it_refuses_a_future_month_as_invalid(self) -> None:
        refusal = corrections.correction_refusal(
            user=self.staff, resource=self.resource, month=add_months(self.current, 1)
        )
        assert refusal is not None and refusal.kind == "invalid"


class CorrectionPolicyServiceTests(CorrectionTestCase):
    def test_it_refuses_bad_values_and_those_who_may_not_manage_the_offering(self) -> None:
        with self.assertRaises(InvalidInput) as caught:
            set_correction_policy(user=self.carol, offering=self.offering, corrected_by="all", months=-1)
        assert set(caught.exception.field_errors()) == {"usage_corrected_by", "usage_correction_months"}
        for user in (self.alice, self.dave, self.oscar):
            with self.assertRaises(Forbidden):
                set_correction_policy(user=user, offering=self.offering, months=1)
        self.offering.refresh_from_db()
        assert (self.offering.usage_corrected_by, self.offering.usage_correction_months) == (
            By.OWNERS_AND_MANAGERS,
            3,
        )
        assert Event.objects.filter(event_type="marketplace_offering_updated").count() == 0
        set_correction_policy(user=self.carol, offering=self.offering, months=1)
        assert (
            Event.objects.get(event_type="marketplace_offering_updated").context["usage_correction_months"]
            == 1
        )


class MonthReportTests(CorrectionTestCase):
    """The GUI's month report: totals below their users' rows, and closed months of usage components."""

    def users(self, usage: ComponentUsage, **rows: str) -> None:
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=usage,
            items=[UserUsageItem(username=name, usage=Decimal(value)) for name, value in rows.items()],
        )

    def month_report(self, month: Any, amount: str, *users_rows: tuple[str, str], **options: Any) -> Any:
        item = MonthReportItem(
            usage=UsageItem(type="cpu", amount=Decimal(amount)),
            users=[UserUsageItem(username=name, usage=Decimal(value)) for name, value in users_rows],
        )
        return user_usage_services.report_month_usage(
            user=options.pop("user", self.carol), resource=self.resource, month=month, items=[item], **options
        )

    def rows(self, usage: ComponentUsage) -> dict[str, Decimal]:
        return dict(ComponentUserUsage.objects.filter(component_usage=usage).values_list("username", "usage"))

    def test_it_asks_before_a_total_goes_below_its_users(self) -> None:
        self.users(self.now_cpu, anna="500", ben="435.05")
        with self.assertRaises(UsersExceedTotal) as caught:
            self.month_report(self.current, "12.50")
        assert caught.exception.exceeding == {"cpu": (Decimal("935.05"), Decimal("12.50"))}
        assert self.value(self.now_cpu) == Decimal("10.00")
        with self.assertRaises(InvalidInput) as blank:
            self.month_report(self.current, "12.50", users=Users.KEEP)
        assert blank.exception.field_errors() == {"reason": [corrections.MSG_REASON]}

    def test_it_keeps_the_users_when_told_to(self) -> None:
        self.users(self.now_cpu, anna="500", ben="435.05")
        self.month_report(self.current, "12.50", users=Users.KEEP, reason="Only part was billable")
        assert self.value(self.now_cpu) == Decimal("12.50")
        assert self.rows(self.now_cpu) == {"anna": Decimal("500.00"), "ben": Decimal("435.05")}
        revision = UsageRevision.objects.filter(component_usage=self.now_cpu, username="").latest("pk")
        assert (revision.new_value, revision.reason) == (Decimal("12.50"), "Only part was billable")

    def test_it_clears_the_users_with_revisions(self) -> None:
        self.users(self.now_cpu, anna="500", ben="435.05")
        self.month_report(self.current, "12.50", users=Users.CLEAR, reason="Rows were test jobs")
        assert self.rows(self.now_cpu) == {}
        removed = UsageRevision.objects.filter(component_usage=self.now_cpu, new_value__isnull=True)
        assert sorted((r.username, r.old_value, r.reason) for r in removed) == [
            ("anna", Decimal("500.00"), "Rows were test jobs"),
            ("ben", Decimal("435.05"), "Rows were test jobs"),
        ]

    def test_it_replaces_the_users_with_the_reported_rows(self) -> None:
        self.users(self.now_cpu, anna="500", ben="435.05")
        self.month_report(self.current, "12.50", ("anna", "12.50"), users=Users.REPLACE, reason="Recount")
        assert self.rows(self.now_cpu) == {"anna": Decimal("12.50")}
        assert UsageRevision.objects.filter(username="ben", new_value__isnull=True, reason="Recount").exists()

    def test_it_routes_a_closed_month_of_a_usage_component_to_a_correction(self) -> None:
        with self.assertRaises(InvalidInput) as caught:
            self.month_report(self.last_month, "12.50")
        assert caught.exception.field_errors() == {"reason": [corrections.MSG_REASON]}
        self.month_report(self.last_month, "12.50", reason="Double-counted jobs")
        assert self.value(self.last_cpu) == Decimal("12.50")
        revision = UsageRevision.objects.filter(component_usage=self.last_cpu).latest("pk")
        assert (revision.verb, revision.reason) == (UsageRevision.Verb.CORRECT, "Double-counted jobs")

    def test_it_creates_a_closed_months_record_by_correction(self) -> None:
        month = add_months(self.current, -2)
        self.month_report(month, "4", reason="Late accounting")
        usage = ComponentUsage.objects.get(resource=self.resource, billing_period=month)
        assert usage.usage == Decimal("4.00")
        assert Event.objects.filter(event_type=CORRECTED, context__billing_period=month.isoformat()).exists()

    def test_it_refuses_a_correction_past_the_window(self) -> None:
        with self.assertRaises(Forbidden):
            self.month_report(self.old_month, "1", reason="Too old")
        assert self.value(self.old_cpu) == Decimal("20.00")


class ReportCorrectionsTests(CorrectionTestCase):
    """What Report usage disables: per component, the closed months whose value is a correction, with the
    correction rule's answer for each (None: taken with a reason)."""

    def answer(self, user: Any) -> dict[str, dict[Any, Any]]:
        components = list(self.offering.components.order_by("pk"))
        months = [self.current, self.last_month, self.old_month]
        return corrections.report_corrections(
            user=user, resource=self.resource, components=components, months=months
        )

    def test_it_refuses_closed_months_of_usage_components_outside_the_window(self) -> None:
        answer = self.answer(self.carol)
        assert "storage" not in answer  # limit-billed: providers back-fill it, no correction
        cpu = answer["cpu"]
        assert self.current not in cpu and cpu[self.last_month] is None
        assert "may be corrected back to" in cpu[self.old_month].message

    def test_it_names_who_may_correct_when_the_offering_says_staff(self) -> None:
        set_correction_policy(user=self.carol, offering=self.offering, corrected_by=By.STAFF, months=3)
        refusal = self.answer(self.oscar)["cpu"][self.last_month]
        assert refusal.message == "Closed months of Offering O may be corrected by staff only."

    def test_it_refuses_nothing_to_staff(self) -> None:
        assert self.answer(self.staff) == {}
