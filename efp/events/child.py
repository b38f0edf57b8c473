"""One task-running process of `efp worker`: django_tasks_db's own database worker loop, started by the
supervisor (efp/events/supervisor.py) with a unique worker id. This module imports nothing of Django at
the top: the process is spawned fresh and sets Django up itself."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1


def child_main(worker_id: str, interval: float) -> None:
    # The supervisor decides when to stop: Ctrl-C in a terminal reaches the whole process group, and the
    # supervisor turns it into one SIGTERM here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):  # Linux: SIGTERM when the supervisor dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    import django

    django.setup()
    from django_tasks_db.management.commands.db_worker import Worker

    class ChildWorker(Worker):
        """db_worker's loop; SIGTERM (from the supervisor, systemd, or the supervisor's death) stops it
        after the current task, however often it comes; only SIGKILL interrupts a task."""

        def configure_signals(self) -> None:
            signal.signal(signal.SIGTERM, self.stop)

        def stop(self, signum: int, frame: FrameType | None) -> None:
            self.running = False
            if not self.running_task:
                sys.exit(0)  # between tasks; a task claimed but not begun is requeued by the supervisor

    worker = ChildWorker(
        queue_names=["*"],
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    worker.configure_signals()
    worker.run()
