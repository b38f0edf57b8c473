"""What a user may read of invoices (efp.structure.access has the rules): an organisation's invoices for
its owners; an invoice item also for the provider side of its offering (owners and offering managers);
everything for staff and support; nothing for anybody else."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from efp.invoices.models import Invoice, InvoiceItem
from efp.structure import access


def visible_invoices(user: Any) -> QuerySet[Invoice]:
    """With their items (two queries per page)."""
    invoices = Invoice.objects.select_related("customer").prefetch_related(
        Prefetch("items", queryset=InvoiceItem.objects.order_by("pk"))
    )
    return access.billing_customers(user).filter(invoices, "customer_id")


def visible_invoice_items(user: Any) -> QuerySet[InvoiceItem]:
    items = InvoiceItem.objects.select_related("invoice__customer", "offering").order_by(
        "-invoice__year", "-invoice__month", "invoice_id", "pk"
    )
    if access.sees_everything(user):
        return items
    if access.is_anonymous(user):
        return items.none()
    return items.filter(
        access.billing_customers(user).q("invoice__customer_id")
        | access.billing_offerings(user).q("offering_id")
    )
