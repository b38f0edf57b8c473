"""Maintained aggregates the provider's pages read instead of scanning every resource (issue 18)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from efp.marketplace.models.offerings import Offering, OfferingComponent
from efp.marketplace.models.resources import Resource


class ComponentMonthTotal(models.Model):
    """The summed `ComponentUsage.usage` of one offering component in one billing month, over every
    resource, and how many usage rows it sums (`rows`; 0 once they are all gone).

    Written by database triggers on `marketplace_componentusage` (migration 0011_dashboard_scale), in the
    transaction of the write, whoever writes (services, imports, the scale seed's COPY): no Python code
    writes it. `test_component_month_totals.py` recounts it after every kind of usage write.
    """

    component = models.ForeignKey(OfferingComponent, on_delete=models.CASCADE, related_name="+")
    billing_period = models.DateField()
    usage = models.DecimalField(max_digits=24, decimal_places=2, default=Decimal(0))
    rows = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["component", "billing_period"], name="one_total_per_component_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component_id} {self.billing_period:%Y-%m}: {self.usage} ({self.rows} rows)"


class ResourceLimitUsage(models.Model):
    """Usage against one limit of one resource in the limit's period, as `metering` computes it: one row
    per resource and component that has a limit (a limit-billed component with a value in the resource's
    `limits`, or a usage-billed component with a `limit_amount`), none for the others.

    `period` is the limit period that counts (`metering.counted_period`: the month for a monthly or unset
    one) and `period_start` the start of the period the row was computed in. A row whose period is over
    (a new month, quarter or year came with no write) stands for 0 used in the current one: readers take
    only the rows of the current periods (`metering.at_or_above`).

    Written by `services/limit_usage.refresh` in the transaction of every usage, limits or component write
    (the scale seed recounts it). `test_limit_usage.py` compares it with metering's own computation.
    """

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    component = models.ForeignKey(OfferingComponent, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=10, choices=OfferingComponent.LimitPeriod.choices)
    period_start = models.DateField()
    used = models.DecimalField(max_digits=24, decimal_places=2)
    percent = models.IntegerField()  # `metering.ComponentStatus.percent`: floor(used * 100 / limit)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource", "component"], name="one_limit_usage_per_component")
        ]
        # "At or above N % of a limit in the current period": four ranges of one index (one per period).
        indexes = [
            models.Index(fields=["period", "period_start", "percent", "resource"], name="limit_usage_percent")
        ]

    def __str__(self) -> str:
        return f"{self.resource_id}/{self.component_id} {self.period} {self.period_start}: {self.percent} %"


class CoverageMonth(models.Model):
    """The usage coverage rule (`coverage.py`) of one offering in one billing month, counted, so that the
    missing cells of whole offerings cost a sum over a few rows at any number of resources:

    - `reported`: the resources of the offering that reported usage for the month while live in it (its
      reported cells);
    - `live_change`: the resources whose live months start with this one, less those whose live months
      stopped before it (a termination, a restore's gap); the sum over the months up to one is the number
      of resources live in it (its due cells, when the offering is metered and the month closed).

    Written by `services/coverage_months.kept` around every write that may add a resource's first report
    of a month, remove its last, or move or drop its live window (usage reports, per-user totals,
    corrections, CSV imports, an unlink, the transitions); the migration that added it and the scale seed
    recount it. `test_coverage_months.py` compares it with the rule's SQL after every kind of write.
    """

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="+")
    billing_period = models.DateField()
    reported = models.IntegerField(default=0)
    live_change = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["offering", "billing_period"], name="one_coverage_month_per_offering"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.offering_id} {self.billing_period:%Y-%m}: {self.reported} reported, {self.live_change:+}"
        )
