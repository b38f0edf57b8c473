"""Billing months are computed in one module, in settings.TIME_ZONE (docs/contract.md §7.3)."""

from __future__ import annotations

import datetime

import time_machine
from django.test import SimpleTestCase, override_settings

from efp.marketplace import billing_months as bm

JAN, FEB, DEC = datetime.date(2027, 1, 1), datetime.date(2027, 2, 1), datetime.date(2026, 12, 1)


class BillingMonthTests(SimpleTestCase):
    def test_it_counts_months_across_the_turn_of_the_year(self) -> None:
        assert bm.add_months(DEC, 1) == JAN
        assert bm.add_months(JAN, -1) == DEC
        assert bm.add_months(datetime.date(2027, 3, 31), -13) == datetime.date(2026, 2, 1)
        assert bm.month_range(datetime.date(2026, 12, 17), FEB) == [DEC, JAN, FEB]
        assert bm.month_range(FEB, JAN) == []

    def test_it_names_the_quarter_and_the_year_a_month_belongs_to(self) -> None:
        assert bm.quarter_start(datetime.date(2026, 12, 31)) == datetime.date(2026, 10, 1)
        assert bm.quarter_start(FEB) == JAN
        assert bm.year_start(datetime.date(2026, 7, 9)) == datetime.date(2026, 1, 1)

    def test_it_reads_back_the_month_keys_it_writes(self) -> None:
        assert bm.month_key(DEC) == "2026-12"
        assert bm.parse_month(bm.month_key(DEC)) == DEC
        for bad in (None, "", "2026-13", "2026-00", "1899-05", "2026-1", "2026-01-01", "x"):
            assert bm.parse_month(bad) is None, bad

    @override_settings(TIME_ZONE="Europe/Tallinn")
    def test_it_takes_the_month_of_a_moment_in_the_configured_time_zone(self) -> None:
        # 22:30 UTC on 31 December is already January in Tallinn (UTC+2).
        moment = datetime.datetime(2026, 12, 31, 22, 30, tzinfo=datetime.UTC)
        assert bm.billing_period_of(moment) == JAN
        assert bm.month_start(JAN) == datetime.datetime(2026, 12, 31, 22, 0, tzinfo=datetime.UTC)
        with time_machine.travel(moment, tick=False):
            assert bm.current_month() == JAN
