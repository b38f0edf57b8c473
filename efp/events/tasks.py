"""Tasks of the events app, on Django's tasks interface (`django_tasks`, database backend)."""

from __future__ import annotations

import logging
import traceback

from django.utils import timezone
from django_tasks import task

from efp.events.models import Event, JobRun
from efp.events.recorder import dispatchers
from efp.events.schedule import load_jobs

logger = logging.getLogger(__name__)


@task()
def dispatch_event(event_id: int) -> list[str]:
    """Runs every registered dispatcher that acts on the event. Each dispatcher is idempotent (it writes its
    rows under unique keys), so a dispatch that runs again after a crash does not send anything twice."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return []
    done = []
    for dispatcher in dispatchers():
        if dispatcher.acts_on(event.event_type, event.context):
            dispatcher.function(event)
            done.append(dispatcher.name)
    return done


@task()
def dispatch_events(event_uuids: list[str]) -> int:
    """`dispatch_event` for each of a batch of events (`recorder.record_many`), in order; the number done."""
    keys = list(Event.objects.filter(uuid__in=event_uuids).order_by("pk").values_list("pk", flat=True))
    for event_id in keys:
        dispatch_event.call(event_id)
    return len(keys)


@task()
def run_job(job_run_id: int) -> str:
    """Runs the periodic job of one `JobRun` and records how it went. A run that already finished is not
    run again (its task was returned to the queue after its worker died); one that was running is (jobs
    are idempotent). A failure is recorded on the run and raised, so the task shows it too. The summary
    goes to the run (it may hold dates); the task's result is the run's status."""
    runs = JobRun.objects.filter(pk=job_run_id)
    claimed = runs.filter(status__in=[JobRun.Status.ENQUEUED, JobRun.Status.RUNNING]).update(
        status=JobRun.Status.RUNNING, started=timezone.now(), finished=None, error=""
    )
    run = runs.first()
    if run is None or not claimed:
        return run.status if run is not None else "missing"
    try:
        job = load_jobs().get(run.job)
        if job is None:
            raise LookupError(f"no periodic job is named {run.job!r} (efp.events.schedule)")
        summary = job.function()
    except Exception:
        runs.update(status=JobRun.Status.FAILED, finished=timezone.now(), error=traceback.format_exc())
        raise
    runs.update(status=JobRun.Status.SUCCEEDED, finished=timezone.now(), summary=summary)
    return JobRun.Status.SUCCEEDED.value
