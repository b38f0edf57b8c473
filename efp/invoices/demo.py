"""The invoices' part of the demo (`efp demo`, through `marketplace.demo.built`): the invoices of the
organisations with resources, for the last six months (the past ones finalised, this one pending), so
that `owner` and `provider` have invoices to look at. Idempotent: a finalised invoice is left as it is."""

from __future__ import annotations

from typing import Any

from efp.invoices.services import finalise_month, refresh_month
from efp.marketplace.billing_months import add_months, current_month
from efp.structure.models import Customer

DEMO_MONTHS = 6


def add_demo_invoices(sender: Any, users: dict[str, Any], **kwargs: Any) -> None:
    current = current_month()
    for customer in Customer.objects.filter(projects__resources__isnull=False).distinct().order_by("pk"):
        for back in range(DEMO_MONTHS - 1, 0, -1):
            finalise_month(customer=customer, month=add_months(current, -back))
        refresh_month(customer=customer, month=current)
