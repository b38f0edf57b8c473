"""How many event dispatches a second one `efp worker` runs, and the CPU it spends on them: run against a
migrated copy of a scale database (EFP_DATABASE_URL; it writes usage).

    EFP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/efp_<name>_10k .venv/bin/python -m bench.dispatch_rate

What a site agent's reports write: for each of `--resources` OK resources, a month's total of one component
(`set_usage`) and one user's row of it (`set_user_usages`), two events and two dispatch tasks per resource.
Then one `efp worker --no-clock` (one process) is started and timed until no dispatch task is READY;
the worker's CPU seconds (user + system, its children included) are read when it has stopped.
Prints JSON. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from decimal import Decimal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=300)
    args = parser.parse_args()
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
    django.setup()
    from django_tasks_db.models import DBTaskResult

    from efp.accounts.models import User
    from efp.events.models import Event
    from efp.marketplace.models import ComponentUsage, OfferingComponent, Resource
    from efp.marketplace.services import usage as usage_services
    from efp.marketplace.services.user_usage import set_user_usages
    from efp.marketplace.states import ResourceState

    dispatch = DBTaskResult.objects.filter(task_path__startswith="efp.events.tasks.dispatch_event")
    stale = dispatch.filter(status="READY").count()
    staff, _ = User.objects.get_or_create(username="bench-dispatch", defaults={"is_staff": True})
    resources = list(
        Resource.objects.filter(state=ResourceState.OK)
        .order_by("?")
        .values_list("pk", "offering_id")[: args.resources]
    )
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    started = time.perf_counter()
    for pk, offering_id in resources:
        component = OfferingComponent.objects.filter(offering_id=offering_id).order_by("pk").first()
        if component is None:
            continue
        amount = Decimal(int(time.time()) % 1000 + 1)
        written = usage_services.set_usage(
            user=staff,
            resource=Resource.objects.get(pk=pk),
            usages=[usage_services.UsageItem(component.type, amount)],
        )
        usage = ComponentUsage.objects.get(pk=written[0].pk)
        set_user_usages(
            user=staff, component_usage=usage, items=[usage_services.UserUsageItem("bench-user", amount)]
        )
    recorded = time.perf_counter() - started
    events = Event.objects.filter(pk__gt=before).count()
    tasks = dispatch.filter(status="READY").count() - stale
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--no-clock", "--processes", "1"],
        stdout=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    while dispatch.filter(status="READY").exists() or dispatch.filter(status="RUNNING").exists():
        time.sleep(0.2)
    drained = time.perf_counter() - started
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = used.ru_utime + used.ru_stime
    print(
        json.dumps(
            {
                "resources": len(resources),
                "events": events,
                "dispatch_tasks": tasks,
                "stale_ready_before": stale,
                "record_seconds": round(recorded, 1),
                "drain_seconds": round(drained, 1),
                "events_per_second": round(events / drained, 1),
                "worker_cpu_seconds": round(cpu, 1),
                "cpu_per_event_ms": round(1000 * cpu / max(events, 1), 1),
                "load": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
