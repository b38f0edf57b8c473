import csv
import datetime
import io
import re
from decimal import Decimal

import time_machine
from django.utils import timezone

from efp.marketplace.billing_months import add_months
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, UsageRevision
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.tests.factories import make_order
from efp.web.tests.base import WebTestCase

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)


@time_machine.travel(NOW, tick=False)
class ShowUsageTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        from efp.marketplace.models import Resource

        Resource.objects.filter(pk=self.alloc.pk).update(created=NOW - datetime.timedelta(days=400))
        june = datetime.date(2026, 6, 1)
        self.report(self.alloc, month=add_months(june, -2), cpu=300, storage=2)
        usage = self.report(self.alloc, cpu="120.5", storage=4)[0]
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=usage,
            items=[
                usage_services.UserUsageItem(username="bob", usage=Decimal("100")),
                usage_services.UserUsageItem(username="erin", usage=Decimal("20.5")),
            ],
        )
        self.url = f"/provider/resources/{self.alloc.uuid.hex}/usage/"

    def test_it_shows_a_tab_per_component_and_twelve_months_by_default(self) -> None:
        html = self.login(self.carol).get(self.url).content.decode()
        for name in ("CPU", "GPU", "Storage"):
            assert f">{name}</a>" in html
        assert "Support</a>" not in html  # fixed-price components have no usage
        assert '<svg class="chart chart-wide"' in html and '<svg class="chart chart-narrow"' in html
        assert 'aria-current="page">12 months</a>' in html
        assert html.count('<th scope="row">') >= 12
        assert "July 2025" in html and "June 2026" in html and "June 2025" not in html

    def test_it_shows_the_resources_events_newest_first_on_both_sides(self) -> None:
        html = self.login(self.carol).get(self.url).content.decode()
        timeline = html[html.index('id="timeline-heading"') :]
        erin = "Usage of cpu of user erin for 2026-06 of resource alloc has been reported."
        assert timeline.index(erin) < timeline.index("Resource alloc has been created.")
        assert timeline.index("Resource alloc has been created.") < timeline.index(
            "Resource alloc creation has been requested."
        )
        assert f"{erin}</span> by staff" in timeline
        mine = self.login(self.alice).get(f"/my/resources/{self.alloc.uuid.hex}/usage/").content.decode()
        assert erin in mine[mine.index('id="timeline-heading"') :]

    def test_it_draws_months_without_report_as_gaps(self) -> None:
        html = self.login(self.carol).get(self.url).content.decode()
        assert "May 2026: no report" in html
        assert "<em>no report</em>" in html

    def test_it_draws_the_limit_as_a_labelled_line(self) -> None:
        html = self.login(self.carol).get(self.url + "?component=storage").content.decode()
        assert 'class="limit"' in html and "limit 10 TB" in html

    def test_it_labels_the_current_month_and_names_every_month_on_both_charts(self) -> None:
        html = self.login(self.carol).get(self.url).content.decode()
        wide, narrow = html.split('class="chart chart-wide"')[1].split('class="chart chart-narrow"')
        for chart in (wide, narrow):
            ticks = re.findall(r'<text class="tick"[^>]*>([A-Z][a-z]{2})</text>', chart)
            assert ticks[-1] == "Jun", ticks  # June 2026, the current month
            assert chart.count('<g class="month" tabindex="0"') == 1  # one tab stop, on June
            assert 'tabindex="0" role="img" aria-label="Jun 2026: 120.50 core-hours' in chart
            assert 'aria-label="May 2026: no report"' in chart
        assert len(re.findall(r'<text class="tick"[^>]*>[A-Z][a-z]{2}</text>', narrow)) == 6
        assert "Hover a bar" not in html and "Tap a month" in html

    def test_it_switches_the_time_range(self) -> None:
        client = self.login(self.carol)
        six = client.get(self.url + "?months=6").content.decode()
        assert "January 2026" in six and "December 2025" not in six
        everything = client.get(self.url + "?months=all").content.decode()
        assert "May 2025" in everything  # the resource's creation month
        assert client.get(self.url + "?months=bogus").status_code == 200

    def test_it_lists_usage_per_user_for_a_month(self) -> None:
        html = self.login(self.carol).get(self.url + "?month=2026-06").content.decode()
        assert '<th scope="row">bob</th>' in html and '<th scope="row">erin</th>' in html
        assert "equals the total" in html
        april = self.login(self.carol).get(self.url + "?month=2026-04").content.decode()
        assert "No per-user usage reported for this month." in april

    def test_it_shows_usage_amounts_with_two_decimals(self) -> None:
        html = self.login(self.carol).get(self.url + "?month=2026-06").content.decode()
        # A column of amounts lines up: "120.50" and "100.00", not "120.5" beside "100".
        # Stacked on a phone, each cell says its unit (the header row is hidden there).
        assert '<td class="num" data-label="Usage (core-hours)">120.50</td>' in html
        assert '<td class="num" data-label="Amount (core-hours)">100.00</td>' in html
        assert '<td class="num" data-label="Amount (core-hours)">20.50</td>' in html
        assert "<title>Jun 2026: 120.50 core-hours" in html  # the bar's tooltip
        assert "limit 10 TB" in self.login(self.carol).get(self.url + "?component=storage").content.decode()

    def test_it_downloads_csv(self) -> None:
        response = self.login(self.carol).get(f"/provider/resources/{self.alloc.uuid.hex}/usage.csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(response.content.decode())))
        assert lines[0] == [
            "month",
            "component",
            "component_name",
            "unit",
            "username",
            "usage",
            "description",
        ]
        assert ["2026-06", "cpu", "CPU", "core-hours", "", "120.50", ""] in lines
        assert ["2026-06", "cpu", "CPU", "core-hours", "bob", "100.00", ""] in lines
        assert any(row[0] == "2026-04" for row in lines[1:])


@time_machine.travel(NOW, tick=False)
class ReportUsageTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        self.url = f"/provider/resources/{self.alloc.uuid.hex}/report/"

    def post(self, user=None, **data):  # type: ignore[no-untyped-def]
        body = {"month": "2026-06", **data}
        return self.login(user or self.carol).post(self.url, body)

    def test_it_shows_a_field_per_usage_or_limit_component(self) -> None:
        html = self.login(self.carol).get(self.url).content.decode()
        for field in ("amount_cpu", "amount_gpu", "amount_storage", "description_cpu", "user_cpu_0_name"):
            assert f'name="{field}"' in html, field
        assert 'name="amount_support"' not in html
        assert "June 2026 (current month)" in html
        assert "% of limit after this report" in html
        assert "Organisation <strong>Organisation A</strong>" in html

    def test_it_reports_usage_through_the_service(self) -> None:
        response = self.post(amount_cpu="12.5", description_cpu="batch", amount_storage="3")
        assert response.status_code == 302, response.content.decode()
        usage = ComponentUsage.objects.get(resource=self.alloc, component__type="cpu")
        assert usage.usage == Decimal("12.50") and usage.description == "batch"
        assert usage.billing_period == datetime.date(2026, 6, 1)
        revision = UsageRevision.objects.filter(component_usage=usage).get()
        assert revision.source == UsageRevision.Source.GUI and revision.actor == self.carol
        assert "usage/?component=cpu" in response["Location"]

    def test_it_shows_the_new_value_after_reporting(self) -> None:
        client = self.login(self.carol)
        response = client.post(self.url, {"month": "2026-06", "amount_cpu": "77"}, follow=True)
        html = response.content.decode()
        assert "Usage of alloc for June 2026 reported: CPU 77.00 core-hours." in html
        assert "June 2026</th>" in html and ">77.00</td>" in html

    def test_it_shows_a_negative_amount_error_beside_the_field_and_writes_nothing(self) -> None:
        response = self.post(amount_cpu="-1", amount_storage="3")
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="id_amount_cpu-error">Enter 0 or more: usage cannot be negative.' in html
        assert not ComponentUsage.objects.exists()

    def test_it_shows_a_three_decimals_error_beside_the_field_and_writes_nothing(self) -> None:
        response = self.post(amount_gpu="1.234", amount_cpu="5")
        assert response.status_code == 400
        assert (
            'id="id_amount_gpu-error">Use at most 2 decimals, for example 12.25.' in response.content.decode()
        )
        assert not ComponentUsage.objects.exists()

    def test_it_shows_a_parse_error_for_text(self) -> None:
        response = self.post(amount_cpu="lots")
        assert response.status_code == 400
        assert 'id="id_amount_cpu-error">Enter a number' in response.content.decode()

    def test_it_asks_for_at_least_one_amount(self) -> None:
        response = self.post()
        assert response.status_code == 400
        assert "Enter an amount for at least one component." in response.content.decode()

    def test_it_offers_a_grid_row_for_every_stored_user_and_one_more(self) -> None:
        usage = self.report(self.alloc, cpu=40)[0]
        names = ["u1", "u2", "u3", "u4"]
        user_usage_services.set_user_usages(
            user=self.staff,
            component_usage=usage,
            items=[usage_services.UserUsageItem(username=n, usage=Decimal(10)) for n in names],
        )
        html = self.login(self.carol).get(self.url).content.decode()
        assert "CPU: user 5 username" in html and "CPU: user 6 username" not in html
        response = self.post(amount_cpu="50", user_cpu_4_name="u5", user_cpu_4_usage="10")
        assert response.status_code == 302
        stored = ComponentUserUsage.objects.filter(component_usage__component__type="cpu")
        assert sorted(stored.values_list("username", flat=True)) == [*names, "u5"]

    def test_it_writes_per_user_values_with_the_total(self) -> None:
        response = self.post(
            amount_cpu="30",
            user_cpu_0_name="bob",
            user_cpu_0_usage="20",
            user_cpu_1_name="erin",
            user_cpu_1_usage="10",
        )
        assert response.status_code == 302
        assert sorted(ComponentUserUsage.objects.values_list("username", "usage")) == [
            ("bob", Decimal("20.00")),
            ("erin", Decimal("10.00")),
        ]

    def test_it_writes_nothing_when_a_per_user_value_is_invalid(self) -> None:
        response = self.post(amount_cpu="30", user_cpu_0_name="bob", user_cpu_0_usage="1.001")
        assert response.status_code == 400
        assert 'id="id_user_cpu_0_usage-error">Use at most 2 decimals, for example 12.25.' in (
            response.content.decode()
        )
        assert not ComponentUsage.objects.exists()
        assert not ComponentUserUsage.objects.exists()

    def test_it_needs_a_username_for_a_per_user_amount(self) -> None:
        response = self.post(amount_cpu="30", user_cpu_0_usage="5")
        assert response.status_code == 400
        assert "Enter the username this amount belongs to." in response.content.decode()

    def test_it_offers_past_months_for_limit_components_only(self) -> None:
        from efp.marketplace.models import Resource

        Resource.objects.filter(pk=self.alloc.pk).update(created=NOW - datetime.timedelta(days=70))
        html = self.login(self.carol).get(self.url).content.decode()
        assert '<option value="2026-05">May 2026</option>' in html
        assert "Past months can be reported for limit-based components only (Storage)" in html
        # A CPU value for a closed month is a correction: it asks for a reason, under the reason field.
        refused = self.post(month="2026-05", amount_cpu="5")
        assert refused.status_code == 400
        refused_html = refused.content.decode()
        assert (
            'id="id_reason_error"><p class="field-error">Give a reason: a value for a closed month'
            in refused_html
        )
        assert "id_month_error" not in refused_html
        assert not ComponentUsage.objects.exists()
        accepted = self.post(month="2026-05", amount_storage="5")
        assert accepted.status_code == 302
        assert ComponentUsage.objects.get().billing_period == datetime.date(2026, 5, 1)
        corrected = self.post(month="2026-05", amount_cpu="5", reason="Late accounting")
        assert corrected.status_code == 302
        cpu = ComponentUsage.objects.get(component__type="cpu")
        assert (cpu.billing_period, cpu.usage) == (datetime.date(2026, 5, 1), Decimal("5.00"))
        assert cpu.revisions.get(verb=UsageRevision.Verb.CORRECT).reason == "Late accounting"

    def test_it_disables_what_may_not_be_reported_for_the_chosen_month_with_the_reason(self) -> None:
        from efp.marketplace.models import Offering, Resource

        Resource.objects.filter(pk=self.alloc.pk).update(created=NOW - datetime.timedelta(days=70))
        Offering.objects.filter(pk=self.offering.pk).update(usage_corrected_by=Offering.CorrectedBy.STAFF)
        current = self.login(self.carol).get(self.url).content.decode()
        assert '<p class="refusal" id="refusal-cpu" hidden></p>' in current
        assert not re.search(r'id="id_amount_cpu"[^>]*disabled>', current)
        may = self.login(self.carol).get(self.url + "?month=2026-05").content.decode()
        assert '<option value="2026-05" selected>May 2026</option>' in may
        why = (
            "CPU cannot be reported for May 2026: Closed months of Offering O may be corrected by staff only."
        )
        assert f'<p class="refusal" id="refusal-cpu">{why}</p>' in may
        assert re.search(r'id="id_amount_cpu"[^>]*disabled>', may)
        assert re.search(r'name="description_cpu"[^>]*disabled', may)
        assert not re.search(r'id="id_amount_storage"[^>]*disabled>', may)  # limit-based: back-filled
        assert '"2026-05": "CPU cannot be reported for May 2026' in may.replace("&quot;", '"')  # for app.js
        # A value sent anyway is refused beside its field, in the same words, and nothing is written.
        refused = self.post(month="2026-05", amount_cpu="5", reason="Late")
        assert refused.status_code == 400
        assert f'id="id_amount_cpu-error">{why}' in refused.content.decode()
        assert not ComponentUsage.objects.exists()
        # Staff may correct any closed month: nothing is disabled for them.
        staff = self.login(self.staff).get(self.url + "?month=2026-05").content.decode()
        assert '<p class="refusal" id="refusal-cpu" hidden></p>' in staff

    def test_it_says_a_correctable_closed_month_needs_a_reason(self) -> None:
        from efp.marketplace.models import Resource

        Resource.objects.filter(pk=self.alloc.pk).update(created=NOW - datetime.timedelta(days=70))
        html = self.login(self.carol).get(self.url + "?month=2026-05").content.decode()
        assert '<p class="help correction-note" id="correction-cpu">The month is closed' in html
        assert '<p class="help correction-note" id="correction-storage" hidden>' in html
        assert '<p class="refusal" id="refusal-cpu" hidden></p>' in html

    def test_it_says_a_refusal_of_the_service_in_the_users_words(self) -> None:
        from unittest import mock

        from efp.errors import Forbidden

        with mock.patch("efp.web.views.usage.report_month_usage", side_effect=Forbidden()):
            response = self.post(amount_cpu="1")
        assert response.status_code == 403
        html = response.content.decode()
        assert "Your role does not let you report usage of this resource." in html
        assert Forbidden.DEFAULT not in html

    def test_it_refuses_a_month_outside_the_selector(self) -> None:
        response = self.post(month="2020-01", amount_storage="5")
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="id_month_error"><p class="field-error">Choose one of the months in the list;' in html
        assert "Select a valid choice" not in html

    def test_it_lets_an_offering_manager_report(self) -> None:
        assert self.post(self.oscar, amount_cpu="1").status_code == 302

    def test_it_refuses_a_reader_with_a_reason(self) -> None:
        response = self.login(self.rita).get(self.url)
        assert response.status_code == 403
        assert "organisation owners and offering managers may report usage" in response.content.decode()
        assert self.post(self.rita, amount_cpu="1").status_code == 403
        assert not ComponentUsage.objects.exists()

    def test_it_refuses_a_resource_that_is_not_ready(self) -> None:
        order = make_order(self.alice, self.project_a1, self.offering, name="new")
        response = self.login(self.carol).get(f"/provider/resources/{order.resource.uuid.hex}/report/")
        assert response.status_code == 409
        assert "this one is Creating" in response.content.decode()

    def test_it_forbids_consumers(self) -> None:
        assert self.post(self.alice, amount_cpu="1").status_code == 403
        assert self.post(self.bob, amount_cpu="1").status_code == 403
        assert not ComponentUsage.objects.exists()


class ReportUsageClockTests(WebTestCase):
    def test_it_reports_the_current_month_with_the_current_time(self) -> None:
        resource = self.resource()
        month = timezone.localdate().strftime("%Y-%m")
        response = self.login(self.carol).post(
            f"/provider/resources/{resource.uuid.hex}/report/", {"month": month, "amount_cpu": "1"}
        )
        assert response.status_code == 302
        assert ComponentUsage.objects.get().billing_period == timezone.localdate().replace(day=1)
