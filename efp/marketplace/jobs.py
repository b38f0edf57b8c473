"""Periodic jobs of the marketplace (efp.events.schedule)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from efp.events.schedule import periodic
from efp.marketplace.services import renewals
from efp.marketplace.services.forecasts import refresh_forecasts as refresh


@periodic("marketplace.refresh_forecasts", cron="23 2 * * *")
def refresh_forecasts() -> dict[str, Any]:
    """Every resource's forecast and flags, recomputed for the new day (rates and windows move with it)."""
    return {"refreshed": refresh()}


@periodic("marketplace.terminate_ended", cron="17 3 * * *")
def terminate_ended() -> dict[str, Any]:
    """Resources past their end date by more than `EFP_END_DATE_GRACE_DAYS`: one Terminate order each."""
    orders = renewals.terminate_ended_resources(grace_days=settings.EFP_END_DATE_GRACE_DAYS)
    return {"terminate_orders": len(orders)}
