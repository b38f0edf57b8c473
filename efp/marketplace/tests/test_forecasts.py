"""Forecasts and flags (issue 16, point 7): when a limit runs out, and which resources are flagged.

Today is 10 June 2026. alice's allocations of offering O (storage: a monthly limit) and of offering T
(storage: a limit over the resource's whole life) were created on 20 February; staff back-fills the
months before June as a provider's accountant would.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import time_machine
from django.test import TestCase
from django.utils import timezone

from efp.events.schedule import load_jobs
from efp.events.tests.running import run_tasks
from efp.marketplace import demo, forecasts
from efp.marketplace.billing_months import month_start
from efp.marketplace.jobs import refresh_forecasts as daily_job
from efp.marketplace.models import OfferingComponent, OfferingType, Resource, ResourceForecast, UsageRevision
from efp.marketplace.services import offerings as offering_services
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services.forecasts import refresh_forecasts
from efp.marketplace.services.resources import set_resource_end_date_by_provider
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order

TODAY = datetime.date(2026, 6, 10)
NOW = datetime.datetime(2026, 6, 10, 12, tzinfo=datetime.UTC)
CREATED = datetime.datetime(2026, 2, 20, 12, tzinfo=datetime.UTC)


class ForecastTestCase(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with time_machine.travel(CREATED, tick=False):
            cls.total = offering_services.create_offering(
                customer=cls.provider_p,
                category=cls.offering.category,
                name="Offering T",
                offering_type=OfferingType.SLURM,
            )
            offering_services.add_component(
                offering=cls.total,
                component_type="storage",
                name="Storage",
                billing_type=OfferingComponent.BillingType.LIMIT,
                measured_unit="TB",
                limit_period=OfferingComponent.LimitPeriod.TOTAL,
            )
            offering_services.create_plan(offering=cls.total, name="Standard", prices={"storage": Decimal(1)})

    def setUp(self) -> None:
        traveller = time_machine.travel(NOW, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)

    def allocation(self, name: str, *, limit: int = 100, offering: Any = None, **fields: Any) -> Resource:
        with time_machine.travel(CREATED, tick=False):
            order = make_order(
                self.alice, self.project_a1, offering or self.offering, name=name, limits={"storage": limit}
            )
            order_services.approve_order_by_provider(order=order, user=self.carol)
            order.refresh_from_db()
            if order.state != "done":
                order_services.complete_order(order=order, user=self.carol)
        resource = Resource.objects.get(pk=order.resource_id)
        if fields:
            Resource.objects.filter(pk=resource.pk).update(**fields)
        return resource

    def report(self, resource: Resource, month: datetime.date | None = None, **amounts: Any) -> None:
        """Staff reports the month's totals (June, today, unless `month` is given)."""
        date = timezone.now() if month is None else month_start(month) + datetime.timedelta(days=27, hours=12)
        usage_services.set_usage(
            user=self.staff,
            resource=resource,
            usages=[usage_services.UsageItem(type=t, amount=Decimal(str(a))) for t, a in amounts.items()],
            date=date,
            source=UsageRevision.Source.API,
        )

    def history(self, resource: Resource, months: dict[str, Any], component: str = "storage") -> None:
        for key, amount in months.items():
            month = datetime.date.fromisoformat(f"{key}-01")
            self.report(resource, month if month < TODAY.replace(day=1) else None, **{component: amount})

    def forecast(self, resource: Resource) -> ResourceForecast:
        refresh_forecasts(resource_ids=[resource.pk])
        return ResourceForecast.objects.get(resource=resource)


class ForecastArithmeticTests(ForecastTestCase):
    def test_it_takes_the_rate_of_the_month_to_date_and_the_last_3_months(self) -> None:
        # 62 + 60 + 62 + 20 = 204 over 102 days (1 March to 10 June): 2 TB a day; 20 of 40 used in June.
        resource = self.allocation("climate", limit=40)
        self.history(resource, {"2026-02": 500, "2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        stored = self.forecast(resource)
        assert stored.components == {
            "storage": {"runs_out": "2026-06-20", "rate_per_day": "2", "used": "20", "limit": "40"}
        }
        assert stored.flag_list == ["runs_out_before_end"]

    def test_a_monthly_limit_that_starts_over_before_it_runs_out_has_no_date(self) -> None:
        resource = self.allocation("roomy", limit=100)  # 80 left at 2 a day: 40 days, after 30 June
        self.history(resource, {"2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        assert self.forecast(resource).components["storage"]["runs_out"] is None
        assert self.forecast(resource).flag_list == []

    def test_a_limit_over_the_whole_life_counts_every_month_and_never_starts_over(self) -> None:
        resource = self.allocation("archive", limit=300, offering=self.total)  # 204 used, 96 left: 48 days
        self.history(resource, {"2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        assert self.forecast(resource).components["storage"] == {
            "runs_out": "2026-07-28",
            "rate_per_day": "2",
            "used": "204",
            "limit": "300",
        }

    def test_a_resource_younger_than_3_months_is_counted_from_its_creation(self) -> None:
        resource = self.allocation("young", limit=300, offering=self.total)
        Resource.objects.filter(pk=resource.pk).update(
            created=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
        )
        self.history(resource, {"2026-06": 30})  # 30 in 10 days: 3 a day, 270 left: 90 days
        assert self.forecast(resource).components["storage"]["rate_per_day"] == "3"
        assert self.forecast(resource).components["storage"]["runs_out"] == "2026-09-08"

    def test_components_without_a_limit_have_no_forecast(self) -> None:
        resource = self.allocation("cpu-only")
        self.history(resource, {"2026-05": 1000, "2026-06": 500}, component="cpu")
        assert list(self.forecast(resource).components) == ["storage"]  # cpu has no limit

    def test_zero_usage_runs_out_never(self) -> None:
        resource = self.allocation("idle", limit=10)
        assert self.forecast(resource).components == {
            "storage": {"runs_out": None, "rate_per_day": "0", "used": "0", "limit": "10"}
        }
        assert self.forecast(resource).flag_list == []

    def test_the_pure_functions_agree_with_the_stored_forecast(self) -> None:
        monthly = {datetime.date(2026, 5, 1): Decimal(31), datetime.date(2026, 6, 1): Decimal(10)}
        assert forecasts.daily_rate(monthly, today=TODAY, since=datetime.date(2026, 5, 1)) == Decimal("1")
        assert forecasts.period_end(None, TODAY) == datetime.date(2026, 6, 30)
        assert forecasts.period_end("quarterly", TODAY) == datetime.date(2026, 6, 30)
        assert forecasts.period_end("annual", TODAY) == datetime.date(2026, 12, 31)
        assert forecasts.period_end("total", TODAY) is None
        out = forecasts.runs_out(used=Decimal(5), limit=Decimal(0), rate=Decimal(1), today=TODAY, end=None)
        assert out is None  # a zero limit has nothing to run out of


class FlagTests(ForecastTestCase):
    def test_it_flags_running_out_before_the_end_date_and_not_after_it(self) -> None:
        early = self.allocation("early", limit=40, end_date=datetime.date(2026, 6, 25))
        late = self.allocation("late", limit=40, end_date=datetime.date(2026, 6, 20))
        for resource in (early, late):
            self.history(resource, {"2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        assert self.forecast(early).flag_list == ["runs_out_before_end"]  # runs out on the 20th
        assert self.forecast(late).flag_list == []  # it ends that day

    def test_it_flags_usage_over_a_limit_and_not_at_it(self) -> None:
        over, full = self.allocation("over", limit=10), self.allocation("full", limit=10)
        self.report(over, storage=12)
        self.report(full, storage=9)
        assert self.forecast(over).flag_list == ["over_limit"]
        assert self.forecast(over).components["storage"]["runs_out"] == "2026-06-10"
        assert "over_limit" not in self.forecast(full).flag_list

    def test_it_flags_a_lowered_total_within_3_months_and_not_a_raised_one(self) -> None:
        lowered, raised = self.allocation("lowered"), self.allocation("raised")
        self.history(lowered, {"2026-05": 763.45}, component="cpu")
        self.report(lowered, datetime.date(2026, 5, 1), cpu=12.5)  # May's total lowered
        self.history(raised, {"2026-05": 12.5}, component="cpu")
        self.report(raised, datetime.date(2026, 5, 1), cpu=763.45)
        assert self.forecast(lowered).flag_list == ["usage_fell"]
        assert self.forecast(raised).flag_list == []

    def test_a_total_lowered_more_than_3_months_ago_is_old_news(self) -> None:
        resource = self.allocation("old-news")
        with time_machine.travel(datetime.datetime(2026, 2, 25, tzinfo=datetime.UTC), tick=False):
            self.report(resource, storage=50)
            self.report(resource, storage=5)
        assert UsageRevision.objects.filter(component_usage__resource=resource, new_value=5).exists()
        assert self.forecast(resource).flag_list == []

    def test_it_flags_a_month_over_3_times_its_median_month(self) -> None:
        spiky, steady = self.allocation("spiky"), self.allocation("steady")
        self.history(spiky, {"2026-02": 10, "2026-03": 12, "2026-04": 8, "2026-05": 40}, component="cpu")
        self.history(steady, {"2026-02": 10, "2026-03": 12, "2026-04": 8, "2026-05": 30}, component="cpu")
        assert self.forecast(spiky).flag_list == ["spike"]  # May: 40 > 3 times 10
        assert self.forecast(steady).flag_list == []  # May: 30 is not over 30

    def test_this_month_can_spike_too(self) -> None:
        resource = self.allocation("now")
        self.history(resource, {"2026-03": 10, "2026-04": 10, "2026-05": 10, "2026-06": 31}, component="cpu")
        assert self.forecast(resource).flag_list == ["spike"]

    def test_a_spike_needs_3_months_before_it(self) -> None:
        resource = self.allocation("new")
        self.history(resource, {"2026-03": 10, "2026-04": 10, "2026-05": 100}, component="cpu")
        assert self.forecast(resource).flag_list == []  # May has two months before it

    def test_flags_are_one_list_of_names_with_labels(self) -> None:
        assert forecasts.FLAG_NAMES == ("runs_out_before_end", "over_limit", "usage_fell", "spike")
        assert all(forecasts.FLAG_LABELS[name] for name in forecasts.FLAG_NAMES)


class RefreshTests(ForecastTestCase):
    def test_a_usage_report_refreshes_the_forecast_when_its_event_is_dispatched(self) -> None:
        resource = self.allocation("reported", limit=10)
        run_tasks()
        assert not ResourceForecast.objects.filter(resource=resource).exists()
        self.report(resource, storage=12)
        run_tasks()
        stored = ResourceForecast.objects.get(resource=resource)
        assert stored.flag_list == ["over_limit"]
        self.report(resource, storage=5)
        run_tasks()
        stored.refresh_from_db()
        assert stored.flag_list == ["usage_fell"]
        assert stored.components["storage"]["used"] == "5"

    def test_a_new_end_date_refreshes_the_flags_when_its_event_is_dispatched(self) -> None:
        resource = self.allocation("deadline", limit=40)  # runs out on 20 June at 2 TB a day
        self.history(resource, {"2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        run_tasks()
        assert ResourceForecast.objects.get(resource=resource).flag_list == ["runs_out_before_end"]
        set_resource_end_date_by_provider(
            resource=resource, user=self.carol, end_date=datetime.date(2026, 6, 17)
        )
        run_tasks()
        assert ResourceForecast.objects.get(resource=resource).flag_list == []

    def test_the_daily_job_refreshes_every_live_resource_and_forgets_terminated_ones(self) -> None:
        over, gone = self.allocation("over", limit=10), self.allocation("gone", limit=10)
        self.report(over, storage=12)
        self.report(gone, storage=12)
        assert load_jobs()["marketplace.refresh_forecasts"].function is daily_job
        assert daily_job() == {"refreshed": Resource.objects.exclude(state="Terminated").count()}
        assert ResourceForecast.objects.get(resource=over).flag_list == ["over_limit"]
        Resource.objects.filter(pk=gone.pk).update(state="Terminated")
        daily_job()
        daily_job()  # idempotent
        assert ResourceForecast.objects.get(resource=over).flag_list == ["over_limit"]
        assert not ResourceForecast.objects.filter(resource=gone).exists()

    def test_a_new_day_moves_the_forecast(self) -> None:
        resource = self.allocation("tomorrow", limit=40)
        self.history(resource, {"2026-03": 62, "2026-04": 60, "2026-05": 62, "2026-06": 20})
        daily_job()
        with time_machine.travel(datetime.datetime(2026, 7, 1, 3, tzinfo=datetime.UTC), tick=False):
            daily_job()  # a new month: nothing reported in July yet, 142 over 92 days since 1 April
        stored = ResourceForecast.objects.get(resource=resource)
        assert stored.components["storage"] == {
            "runs_out": "2026-07-27",
            "rate_per_day": "1.5435",
            "used": "0",
            "limit": "40",
        }

    def test_refreshing_many_resources_takes_a_fixed_number_of_queries(self) -> None:
        resources = [self.allocation(f"many-{i}", limit=10) for i in range(3)]
        for resource in resources:
            self.report(resource, storage=12)
        with self.assertNumQueries(10):  # terminated cleanup, ids, a chunk: resources, metering, ...
            refresh_forecasts()
        more = [self.allocation(f"more-{i}", limit=10) for i in range(5)]
        for resource in more:
            self.report(resource, storage=3)
        with self.assertNumQueries(10):
            refresh_forecasts()
        assert ResourceForecast.objects.count() == Resource.objects.exclude(state="Terminated").count()


class BackfillTests(ForecastTestCase):
    def test_usage_back_filled_before_the_resource_was_created_counts_for_the_rate(self) -> None:
        resource = self.allocation("moved-in", limit=1000, offering=self.total)
        Resource.objects.filter(pk=resource.pk).update(
            created=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
        )
        self.history(resource, {"2026-05": 31, "2026-06": 10})  # 41 over 41 days since 1 May
        assert self.forecast(resource).components["storage"]["rate_per_day"] == "1"


class DemoTests(TestCase):
    def test_the_demo_shows_every_flag_however_often_it_runs(self) -> None:
        demo.build()
        demo.build()
        shown = {
            flag: sorted(
                ResourceForecast.objects.filter(flags__contains=f",{flag},").values_list(
                    "resource__name", flat=True
                )
            )
            for flag in forecasts.FLAG_NAMES
        }
        assert "climate-downscaling" in shown["over_limit"]
        assert "genome-longread" in shown["usage_fell"]
        assert "materials-dft" in shown["spike"]
        assert "climate-ensembles" in shown["runs_out_before_end"]
        assert (
            UsageRevision.objects.filter(
                component_usage__resource__name="materials-dft", new_value=40000
            ).count()
            == 1
        )
