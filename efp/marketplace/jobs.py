"""Periodic jobs of the marketplace (efp.events.schedule)."""

from __future__ import annotations

from typing import Any

from efp.events.schedule import periodic
from efp.marketplace.services.forecasts import refresh_forecasts as refresh


@periodic("marketplace.refresh_forecasts", cron="23 2 * * *")
def refresh_forecasts() -> dict[str, Any]:
    """Every resource's forecast and flags, recomputed for the new day (rates and windows move with it)."""
    return {"refreshed": refresh()}
