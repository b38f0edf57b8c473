"""The invoices' periodic job (efp.events.schedule)."""

from __future__ import annotations

from typing import Any

from efp.events.schedule import periodic
from efp.invoices.services import refresh_invoices


@periodic("invoices.refresh", cron="41 * * * *")
def refresh() -> dict[str, Any]:
    """Every hour: the current month's invoices brought up to date, past months' finalised."""
    return refresh_invoices()
