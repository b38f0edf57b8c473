"""The GUI of corrections: the Correct form, the Corrections list on both sides, the users-exceed
confirmation of Report usage, the flag of Show usage and the offering's correction policy."""

from __future__ import annotations

import datetime
from decimal import Decimal

import time_machine

from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, UsageRevision
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UserUsageItem
from efp.web.tests.base import WebTestCase

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
MAY, JANUARY = datetime.date(2026, 5, 1), datetime.date(2026, 1, 1)


@time_machine.travel(NOW, tick=False)
class CorrectionPagesTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        [self.may_cpu] = self.report(self.alloc, month=MAY, cpu="763.45")
        [self.june_cpu] = self.report(self.alloc, cpu="10")
        self.report(self.alloc, month=JANUARY, cpu="20")
        self.correct_url = f"/provider/resources/{self.alloc.uuid.hex}/correct/"
        self.usage_url = f"/provider/resources/{self.alloc.uuid.hex}/usage/"
        self.my_usage_url = f"/my/resources/{self.alloc.uuid.hex}/usage/"

    def test_it_corrects_a_closed_month_and_both_sides_see_the_reason(self) -> None:
        form = self.login(self.carol).get(f"{self.correct_url}?component=cpu&month=2026-05")
        assert form.status_code == 200
        assert 'role="alert"' not in form.content.decode()
        assert "Stored for CPU in May 2026: 763.45 core-hours." in form.content.decode()
        data = {"component": "cpu", "month": "2026-05", "amount": "12.50", "reason": "A job counted twice"}
        response = self.login(self.carol).post(self.correct_url, data)
        assert response.status_code == 302, response.content.decode()
        assert ComponentUsage.objects.get(pk=self.may_cpu.pk).usage == Decimal("12.50")
        revision = UsageRevision.objects.get(verb=UsageRevision.Verb.CORRECT)
        assert (revision.source, revision.actor) == (UsageRevision.Source.GUI, self.carol)
        for user, url in ((self.carol, self.usage_url), (self.alice, self.my_usage_url)):
            html = self.login(user).get(url).content.decode()
            assert "Corrections" in html and "A job counted twice" in html, user
            assert "763.45 → 12.50 core-hours" in html and "May 2026" in html, user
        assert "Correct usage" not in self.login(self.alice).get(self.my_usage_url).content.decode()

    def test_it_shows_the_refusal_for_a_month_out_of_reach(self) -> None:
        html = self.login(self.carol).get(f"{self.correct_url}?component=cpu&month=2026-01").content.decode()
        assert "may be corrected back to March 2026 only; ask staff for older months." in html
        data = {"component": "cpu", "month": "2026-01", "amount": "1", "reason": "Too old"}
        response = self.login(self.carol).post(self.correct_url, data)
        assert response.status_code == 403
        assert "may be corrected back to March 2026 only" in response.content.decode()
        assert not UsageRevision.objects.filter(verb=UsageRevision.Verb.CORRECT).exists()

    def test_it_puts_errors_beside_their_fields_and_writes_nothing(self) -> None:
        data = {"component": "cpu", "month": "2026-05", "amount": "-1", "reason": " "}
        response = self.login(self.carol).post(self.correct_url, data)
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="id_reason_error"><p class="field-error">Give a reason' in html
        data = {"component": "cpu", "month": "2026-05", "amount": "1.234", "reason": "Typo"}
        html = self.login(self.carol).post(self.correct_url, data).content.decode()
        assert (
            'id="id_amount_error"><p class="field-error">Ensure that there are no more than 2 decimal' in html
        )
        assert ComponentUsage.objects.get(pk=self.may_cpu.pk).usage == Decimal("763.45")

    def test_it_refuses_readers_and_consumers(self) -> None:
        data = {"component": "cpu", "month": "2026-06", "amount": "1", "reason": "x"}
        html = self.login(self.rita).get(f"{self.correct_url}?component=cpu&month=2026-06").content.decode()
        assert "Only the provider&#x27;s owners and offering managers may correct it." in html
        assert self.login(self.rita).post(self.correct_url, data).status_code == 403
        assert self.login(self.alice).post(self.correct_url, data).status_code == 403
        assert self.login(self.quinn).post(self.correct_url, data).status_code == 404
        assert ComponentUsage.objects.get(pk=self.june_cpu.pk).usage == Decimal("10.00")


@time_machine.travel(NOW, tick=False)
class UsersExceedTotalPagesTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        [self.cpu] = self.report(self.alloc, cpu="763.45")
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=self.cpu,
            items=[
                UserUsageItem(username="anna", usage=Decimal("500")),
                UserUsageItem(username="ben", usage=Decimal("435.05")),
            ],
        )
        self.report_url = f"/provider/resources/{self.alloc.uuid.hex}/report/"

    def test_it_asks_what_becomes_of_the_users_rows_and_then_clears_them(self) -> None:
        client = self.login(self.carol)
        asked = client.post(self.report_url, {"month": "2026-06", "amount_cpu": "12.50"})
        assert asked.status_code == 400
        html = asked.content.decode()
        assert "CPU: users 935.05, total 12.50. Keep, clear or replace the users&#x27; rows" in html
        assert 'name="users" value="clear"' in html
        assert ComponentUsage.objects.get(pk=self.cpu.pk).usage == Decimal("763.45")
        data = {"month": "2026-06", "amount_cpu": "12.50", "users": "clear", "reason": "Test jobs"}
        assert client.post(self.report_url, data).status_code == 302
        assert not ComponentUserUsage.objects.filter(component_usage=self.cpu).exists()
        assert UsageRevision.objects.filter(new_value__isnull=True, reason="Test jobs").count() == 2

    def test_show_usage_flags_the_month_instead_of_shares_over_100_percent(self) -> None:
        self.login(self.carol).post(
            self.report_url,
            {"month": "2026-06", "amount_cpu": "12.50", "users": "keep", "reason": "Billable part"},
        )
        for user, url in (
            (self.carol, f"/provider/resources/{self.alloc.uuid.hex}/usage/"),
            (self.alice, f"/my/resources/{self.alloc.uuid.hex}/usage/"),
        ):
            html = self.login(user).get(f"{url}?component=cpu&month=2026-06").content.decode()
            assert "users 935.05, total 12.50" in html, user
            assert "June 2026</th>" in html and html.count('class="flag">users 935.05, total 12.50') == 2, (
                user
            )
            assert "4000 %" not in html and "3480 %" not in html


class CorrectionPolicyPageTests(WebTestCase):
    def test_it_lets_the_provider_set_who_corrects_and_how_far_back(self) -> None:
        url = f"/provider/offerings/{self.offering.uuid.hex}/corrections/"
        assert self.login(self.oscar).get(url).status_code == 200  # the offering's manager reads it
        response = self.login(self.carol).post(
            url, {"usage_corrected_by": "owners", "usage_correction_months": "6"}
        )
        assert response.status_code == 302
        offering = Offering.objects.get(pk=self.offering.pk)
        assert (offering.usage_corrected_by, offering.usage_correction_months) == ("owners", 6)
        bad = self.login(self.carol).post(
            url, {"usage_corrected_by": "owners", "usage_correction_months": "-2"}
        )
        assert bad.status_code == 400 and 'id="id_usage_correction_months_error"' in bad.content.decode()

    def test_it_refuses_readers_consumers_and_other_providers(self) -> None:
        url = f"/provider/offerings/{self.offering.uuid.hex}/corrections/"
        data = {"usage_corrected_by": "staff", "usage_correction_months": "1"}
        assert self.login(self.rita).post(url, data).status_code == 403
        assert self.login(self.oscar).post(url, data).status_code == 403  # the offering's manager
        assert self.login(self.alice).post(url, data).status_code == 403
        assert self.login(self.quinn).post(url, data).status_code == 404
        assert Offering.objects.get(pk=self.offering.pk).usage_corrected_by == "owners_and_managers"
