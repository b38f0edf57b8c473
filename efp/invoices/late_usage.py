"""Usage reported for a month whose invoice is already final ("late usage"): an issued invoice stays as
issued, so the difference between what the month's usage now costs and what has been billed for it is
billed on the pending invoice, one item per usage line, priced as `pricing.py` prices the month.

A usage row is late when it was written after its month's invoice stopped being pending (the invoice's
`modified`, which nothing changes after that). What has been billed for a line is the quantity of the items
with its key (resource, plan, component, start) on invoices no longer pending: the month's own item and the
late items billed since. The difference is billed whatever its sign (a lowered report is credited); a
report lowered to zero has no line to compare and is not credited. Months without an invoice are not
late: the first run of a month finalises the past one with its usage (`services.refresh_invoices`)."""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef
from django.db.models.functions import ExtractMonth, ExtractYear

from efp.invoices.models import Invoice, InvoiceItem
from efp.invoices.pricing import Line, month_lines
from efp.marketplace.billing_months import month_start
from efp.marketplace.models import ComponentUsage


def _late_usages(customer: Any, month: datetime.date) -> list[ComponentUsage]:
    """The usage rows of months before `month` written after their month's invoice was final (one query)."""
    final = Invoice.objects.filter(
        customer=customer,
        year=ExtractYear(OuterRef("billing_period")),
        month=ExtractMonth(OuterRef("billing_period")),
        modified__lt=OuterRef("modified"),
    ).exclude(state=Invoice.State.PENDING)
    return list(
        ComponentUsage.objects.filter(resource__project__customer=customer, billing_period__lt=month)
        .filter(Exists(final))
        .only("resource_id", "component_id", "billing_period")
    )


def _billed(customer: Any, resource_ids: set[int], before: datetime.date) -> dict[tuple[Any, ...], Decimal]:
    """The quantity billed so far per usage line key (resource, plan, component, start), months before."""
    items = InvoiceItem.objects.filter(
        invoice__customer=customer,
        billing_type=InvoiceItem.BillingType.USAGE,
        resource_id__in=resource_ids,
        start__lt=month_start(before),
    ).exclude(invoice__state=Invoice.State.PENDING)
    billed: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for resource_id, plan_id, component_id, start, quantity in items.values_list(
        "resource_id", "plan_id", "component_id", "start", "quantity"
    ):
        billed[(resource_id, plan_id, component_id, start)] += quantity
    return billed


def late_lines(*, customer: Any, month: datetime.date) -> list[Line]:
    """The late usage lines to bill on `customer`'s pending invoice for `month` (one query when none)."""
    late = _late_usages(customer, month)
    if not late:
        return []
    wanted: dict[datetime.date, set[tuple[int, int]]] = defaultdict(set)
    for usage in late:
        wanted[usage.billing_period].add((usage.resource_id, usage.component_id))
    billed = _billed(customer, {usage.resource_id for usage in late}, month)
    lines = []
    for period in sorted(wanted):
        for line in month_lines(customer=customer, month=period):
            if line.billing_type != "usage" or line.component is None:
                continue
            if (line.resource.pk, line.component.pk) not in wanted[period]:
                continue
            plan_id = line.plan.pk if line.plan else None
            quantity = line.quantity - billed.get(
                (line.resource.pk, plan_id, line.component.pk, line.start), 0
            )
            if quantity == 0:
                continue
            label = f"{period:%Y-%m}"
            lines.append(
                dataclasses.replace(
                    line,
                    quantity=quantity,
                    name=f"{line.name} (usage of {label}, reported late)",
                    details={**line.details, "late_usage_month": label},
                )
            )
    return [line for line in lines if line.price != 0]
