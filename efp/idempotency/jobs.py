"""Periodic job of the idempotency app (run by `efp worker`'s clock, see efp.events.schedule)."""

from __future__ import annotations

from typing import Any

from efp.events.schedule import periodic
from efp.idempotency import api


@periodic("idempotency.expire_keys", cron="17 * * * *")
def expire_keys() -> dict[str, Any]:
    """Every hour: forget the keys older than 24 hours (a retry after that runs the write again)."""
    return {"deleted": api.expire_keys()}
