"""The clock of `efp worker`: APScheduler fires each periodic job at its cron times, and each firing
claims the job's slot in `JobRun` (one row per job and scheduled minute). However many workers run, on
however many machines, one insert wins the slot and enqueues `run_job` in the same transaction; the others
find the row taken and do nothing.

At start the clock claims the latest slot of every job that has passed: a slot missed while every worker
was down runs once, late (the missed slots coalesce into that one), and a slot already run is not run
again."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from efp.events.models import JobRun
from efp.events.schedule import JOBS, load_jobs
from efp.events.tasks import run_job

logger = logging.getLogger(__name__)

# Windows searched, shortest first, for the latest fire time of a trigger (a cron fires at least yearly).
_LOOKBACK = tuple(
    datetime.timedelta(minutes=minutes) for minutes in (2, 120, 2 * 1440, 32 * 1440, 367 * 1440, 1830 * 1440)
)


def trigger_of(cron: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=settings.TIME_ZONE)


def latest_slot(cron: str, now: datetime.datetime) -> datetime.datetime | None:
    """The latest time at or before `now` when `cron` fires, to the minute; None if it never did."""
    trigger = trigger_of(cron)
    one_second = datetime.timedelta(seconds=1)
    for window in _LOOKBACK:
        fire = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while (following := trigger.get_next_fire_time(fire, fire + one_second)) and following <= now:
            fire = following
        return fire.replace(second=0, microsecond=0)
    return None


def claim_slot(job: str, slot: datetime.datetime, *, enqueue: bool = True) -> JobRun | None:
    """Inserts the run of `job` for `slot` and, unless told not to, enqueues it in the same transaction.
    None when the slot is taken (another worker's clock, or an earlier run of the same minute)."""
    slot = slot.replace(second=0, microsecond=0)
    table = connection.ops.quote_name(JobRun._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # ON CONFLICT DO NOTHING: the losers of a slot leave no error in the database's log.
        cursor.execute(
            f"INSERT INTO {table} (job, slot, status, enqueued, summary, error)"  # noqa: S608 - our table
            " VALUES (%s, %s, %s, %s, '{}', '') ON CONFLICT (job, slot) DO NOTHING RETURNING id",
            [
                job,
                connection.ops.adapt_datetimefield_value(slot),
                JobRun.Status.ENQUEUED.value,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        if enqueue:
            run_job.enqueue(row[0])
    return JobRun.objects.get(pk=row[0])


def fire(job: str, now: datetime.datetime) -> JobRun | None:
    """What the clock does at a fire time of `job`: claims its slot (the fire time, to the minute)."""
    slot = latest_slot(JOBS[job].cron, now)
    return None if slot is None else claim_slot(job, slot)


def catch_up(now: datetime.datetime | None = None) -> list[JobRun]:
    """Claims the latest past slot of every job: what was missed while no clock ran, once."""
    claimed = []
    for job in sorted(load_jobs()):
        run = fire(job, now or timezone.now())
        if run is not None:
            logger.info("%s: catching up the run of %s", job, f"{run.slot:%Y-%m-%d %H:%M}")
            claimed.append(run)
    return claimed


class Clock:
    """APScheduler in a background thread of the `efp worker` supervisor."""

    def __init__(self) -> None:
        defaults: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        self.scheduler = BackgroundScheduler(timezone=settings.TIME_ZONE, job_defaults=defaults)

    def start(self) -> None:
        for job in load_jobs().values():
            self.scheduler.add_job(self._fire, trigger_of(job.cron), args=[job.name], id=job.name)
        self.scheduler.add_job(self._catch_up, id="catch-up")  # once, now, in the scheduler's thread
        self.scheduler.start()

    # The scheduler's threads keep no database connection open between fires.
    @staticmethod
    def _fire(job: str) -> None:
        try:
            fire(job, timezone.now())
        finally:
            connections.close_all()

    @staticmethod
    def _catch_up() -> None:
        try:
            catch_up()
        finally:
            connections.close_all()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
