"""A task for the worker-process tests, importable by `efp worker`: it says it started (one line per
attempt in `<folder>/<key>.attempts`), waits until `<folder>/release` exists, then writes its row under a
unique key, as a dispatcher does: an Event whose uuid is the key (written once however often it runs)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from django_tasks import task

from efp.events.models import Event


@task()
def deliver(key: str, folder: str) -> str:
    base = Path(folder)
    with (base / f"{key}.attempts").open("a") as attempts:
        attempts.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 120
    while not (base / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    Event.objects.get_or_create(
        uuid=uuid.UUID(key), defaults={"event_type": "webhook_test", "message": f"delivered {key}"}
    )
    return key
