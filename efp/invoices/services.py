"""The only writers of invoices. An invoice comes to exist when its month is first refreshed with something
to bill; while its month runs it is `pending` and each refresh brings its items up to date (an item keeps
its uuid across refreshes while it bills the same thing); once the month is over it is refreshed a last
time and becomes `created` (Waldur's states), and nothing changes it any more: usage reported for its
month after that is billed on the pending invoice (`late_usage.py`). `jobs.py` runs `refresh_invoices`
every hour."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from efp.invoices import changes
from efp.invoices.late_usage import late_lines
from efp.invoices.models import Invoice, InvoiceItem
from efp.invoices.pricing import Line, month_lines
from efp.marketplace.billing_months import add_months, current_month
from efp.structure.models import Customer

FIELDS = (
    "name", "unit", "unit_price", "quantity", "price", "end", "details", "measured_unit", "article_code",
    "resource_name", "project_name",
)  # fmt: skip


def _item_fields(line: Line) -> dict[str, Any]:
    resource, component = line.resource, line.component
    return {
        "resource": resource,
        "resource_uuid": resource.uuid,
        "resource_name": resource.name,
        "project": resource.project,
        "project_uuid": resource.project.uuid,
        "project_name": resource.project.name,
        "offering": resource.offering,
        "plan": line.plan,
        "component": component,
        "billing_type": line.billing_type,
        "name": line.name,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "quantity": line.quantity,
        "price": line.price,
        "measured_unit": component.measured_unit if component is not None else "",
        "article_code": (component.article_code if component is not None else "")
        or (line.plan.article_code if line.plan is not None else ""),
        "start": line.start,
        "end": line.end,
        "details": line.details,
    }


def _key(item: InvoiceItem) -> tuple[Any, ...]:
    return (item.resource_id, item.billing_type, item.plan_id, item.component_id, item.start)


@transaction.atomic
def refresh_month(*, customer: Customer, month: datetime.date) -> Invoice | None:
    """Bring `customer`'s invoice for `month` up to date (creating it when there is something to bill);
    an invoice no longer pending is left as it is. Returns the invoice, or None when there is none."""
    invoice = (
        Invoice.objects.select_for_update()
        .filter(customer=customer, year=month.year, month=month.month)
        .first()
    )
    if invoice is not None and invoice.state != Invoice.State.PENDING:
        return invoice
    lines = month_lines(customer=customer, month=month) + late_lines(customer=customer, month=month)
    if invoice is None:
        if not lines:
            return None
        invoice, _ = Invoice.objects.get_or_create(customer=customer, year=month.year, month=month.month)
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.state != Invoice.State.PENDING:
            return invoice
    existing = {_key(item): item for item in invoice.items.all()}
    created, changed = [], []
    for line in lines:
        fields = _item_fields(line)
        item = existing.pop(line.key, None)
        if item is None:
            created.append(InvoiceItem(invoice=invoice, **fields))
            continue
        if any(getattr(item, name) != fields[name] for name in FIELDS):
            for name in FIELDS:
                setattr(item, name, fields[name])
            changed.append(item)
    if existing:
        InvoiceItem.objects.filter(pk__in=[item.pk for item in existing.values()]).delete()
    InvoiceItem.objects.bulk_create(created)
    if changed:
        InvoiceItem.objects.bulk_update(changed, FIELDS)
    total = sum((line.price for line in lines), Decimal(0))
    if created or changed or existing or invoice.total_price != total:
        Invoice.objects.filter(pk=invoice.pk).update(total_price=total, modified=timezone.now())
        invoice.refresh_from_db()
    return invoice


@transaction.atomic
def finalise_month(*, customer: Customer, month: datetime.date) -> Invoice | None:
    """Refresh a past month's invoice a last time and make it `created` (compare-and-swap from pending)."""
    if month >= current_month():
        raise ValueError("Only a month that is over can be finalised.")
    invoice = refresh_month(customer=customer, month=month)
    if invoice is None or invoice.state != Invoice.State.PENDING:
        return invoice
    Invoice.objects.filter(pk=invoice.pk, state=Invoice.State.PENDING).update(
        state=Invoice.State.CREATED, invoice_date=timezone.localdate(), modified=timezone.now()
    )
    invoice.refresh_from_db()
    return invoice


def refresh_invoices(*, full: bool = False) -> dict[str, Any]:
    """Past months' pending invoices finalised (the first run of a month), and the current month's
    invoice refreshed for every organisation whose resources, usage or orders changed since the last
    refresh, or for all of them (`changes.py` says when: `full` forces it). One transaction per
    organisation and month. Returns `{mode, customers, finalised}`: how it ran, how many organisations
    it recomputed and how many invoices it finalised."""
    started = timezone.now()
    current = current_month()
    previous = add_months(current, -1)
    mark = changes.last_mark()
    mode = changes.mode_for(mark, started, full=full)
    summary: dict[str, Any] = {"mode": mode, "customers": 0, "finalised": 0}
    stale = Invoice.objects.filter(state=Invoice.State.PENDING).exclude(
        year=current.year, month=current.month
    )
    for invoice in stale.select_related("customer").order_by("year", "month", "pk"):
        finalise_month(customer=invoice.customer, month=datetime.date(invoice.year, invoice.month, 1))
        summary["finalised"] += 1
    for customer in changes.customers_to_refresh(mode, mark):
        summary["customers"] += 1
        billed = Invoice.objects.filter(customer=customer, year=previous.year, month=previous.month)
        if not billed.exists() and finalise_month(customer=customer, month=previous) is not None:
            summary["finalised"] += 1
        refresh_month(customer=customer, month=current)
    changes.record_refresh(mark, started=started, mode=mode)
    return summary
