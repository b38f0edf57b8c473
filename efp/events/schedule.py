"""Periodic jobs, declared once: `@periodic("name", cron="0 * * * *")` on a function that returns a
summary (a dict for `JobRun.summary`). Apps declare them in a `jobs.py` module; `efp worker` loads those
modules, and its clock (APScheduler) claims each slot once in `JobRun` and enqueues the run.
A job must be idempotent: it may run again for a slot after a crash, and tests call it directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Job = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Periodic:
    name: str
    cron: str  # five fields, in settings.TIME_ZONE: minute hour day month weekday
    function: Job


JOBS: dict[str, Periodic] = {}


def periodic(name: str, *, cron: str) -> Callable[[Job], Job]:
    def register(function: Job) -> Job:
        JOBS[name] = Periodic(name, cron, function)
        return function

    return register


def load_jobs() -> dict[str, Periodic]:
    """Every job of every installed app (their `jobs` modules), by name."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("jobs")
    return JOBS
