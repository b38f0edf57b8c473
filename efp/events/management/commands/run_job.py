from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from efp.events.clock import claim_slot
from efp.events.schedule import load_jobs
from efp.events.tasks import run_job


class Command(BaseCommand):
    help = "Runs one periodic job now, in this process, recorded as its run for the current minute."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the job's name, e.g. events.requeue_stale")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        jobs = load_jobs()
        if name not in jobs:
            raise CommandError(f"no job named {name!r}; the jobs are: {', '.join(sorted(jobs))}")
        run = claim_slot(name, timezone.now(), enqueue=False)
        if run is None:
            raise CommandError(f"{name} already has a run for this minute; try again in a minute")
        try:
            run_job.call(run.pk)
        except Exception as error:
            raise CommandError(f"{name} failed: {error}") from error
        finally:
            run.refresh_from_db()
            self.stdout.write(f"{run.job} @ {run.slot:%Y-%m-%d %H:%M}: {run.status} {run.summary}")
