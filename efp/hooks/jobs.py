"""Periodic job of the hooks app (run by `efp worker`'s clock, see efp.events.schedule)."""

from __future__ import annotations

from typing import Any

from efp.events.schedule import periodic
from efp.hooks import services


@periodic("hooks.resume_due", cron="* * * * *")
def resume_due() -> dict[str, Any]:
    """Every minute: re-enqueue pending deliveries that are due and not held (a lost task, an expired
    lease after a worker died mid-send), queue again e-mail hook messages not sent, and deactivate hooks
    that have failed for 3 days."""
    return {
        "enqueued": services.resume_due_deliveries(),
        "emails_enqueued": services.resume_unsent_emails(),
        "deactivated": services.deactivate_failing_hooks(),
    }
