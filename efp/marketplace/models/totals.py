"""Maintained aggregates the provider's pages read instead of scanning every resource (issue 18)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from efp.marketplace.models.offerings import OfferingComponent


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
