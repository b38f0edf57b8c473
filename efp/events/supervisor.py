"""`efp worker`: N task-running processes (efp/events/child.py) and the clock of periodic jobs
(efp/events/clock.py), under one supervisor.

The supervisor restarts a child that dies (after a pause that grows while children die young: the
database may be down), returns at once the tasks a dead child had claimed to the queue (it knows the
child's worker id; efp/events/requeue.py), and keeps each live child's `WorkerBeat` fresh so that no other
machine takes its tasks for stale. SIGTERM or SIGINT stops it gracefully: the clock stops, each child
gets one SIGTERM and finishes its current task; a second Ctrl-C kills the children (SIGKILL) and their
tasks go back to the queue. Any number of supervisors, on any number of machines, may run against one
PostgreSQL: children claim tasks with SELECT ... FOR UPDATE SKIP LOCKED, the clocks claim job slots
under a unique constraint, and requeues are compare-and-swap updates.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string

from efp.events.child import child_main
from efp.events.clock import Clock
from efp.events.models import WorkerBeat
from efp.events.requeue import requeue_tasks_of

logger = logging.getLogger(__name__)
T = TypeVar("T")

HOST = socket.gethostname()
YOUNG = 10.0  # a child that dies within this many seconds of its start died young
MAX_PAUSE = 60.0  # the longest pause before restarting a child that keeps dying young


def beat_seconds() -> float:
    return max(0.5, min(5.0, settings.EFP_TASK_STALE_SECONDS / 4))


@dataclass
class Child:
    index: int
    worker_id: str
    process: BaseProcess
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, *, processes: int, interval: float, clock: bool = True) -> None:
        self.processes = processes
        self.interval = interval
        self.clock = Clock() if clock else None
        self.context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads forked
        self.children: dict[int, Child] = {}
        self.restart_at: dict[int, float] = {}
        self.young_deaths: dict[int, int] = {}
        self.orphans: set[str] = set()  # worker ids of dead children whose tasks are not yet requeued
        self.stopping = False
        self.forcing = False
        self.interrupted = False
        self.next_beat = 0.0

    # --- signals ---------------------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM stops gracefully however often it comes (systemd, a shell's trap and a terminal may all
        send one); a second Ctrl-C (SIGINT) does not wait for the current tasks."""
        if self.stopping and signum == signal.SIGINT and self.interrupted:
            logger.warning("SIGINT again: killing the workers; their tasks go back to the queue")
            self.forcing = True
        elif not self.stopping:
            logger.warning("%s: stopping after the current tasks", _name(signum))
        self.stopping = True
        self.interrupted = self.interrupted or signum == signal.SIGINT

    # --- the loop --------------------------------------------------------------------------------------

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        if self.clock is not None:
            self.clock.start()
        try:
            for index in range(self.processes):
                self.start_child(index)
            while not self.stopping:
                self.wait_a_little()
                self.reap()
                for index, when in list(self.restart_at.items()):
                    if time.monotonic() >= when and not self.stopping:
                        del self.restart_at[index]
                        self.start_child(index)
                self.maintain()
        finally:
            self.shutdown()

    def wait_a_little(self) -> None:
        with contextlib.suppress(InterruptedError):
            wait([child.process.sentinel for child in self.children.values()] or [], timeout=0.5)
        if not self.children:
            time.sleep(0.5)

    def start_child(self, index: int) -> None:
        worker_id = f"{HOST[:40]}-{os.getpid()}-{index}-{get_random_string(8)}"
        process = self.context.Process(
            target=child_main, args=(worker_id, self.interval), name=f"efp-worker-{index}"
        )
        process.start()
        self.children[index] = Child(index, worker_id, process)
        self.database(
            lambda: WorkerBeat.objects.update_or_create(
                worker_id=worker_id, defaults={"host": HOST[:255], "pid": process.pid}
            )
        )
        logger.info("worker %s started (pid %s)", worker_id, process.pid)

    def reap(self) -> None:
        """Forgets the children that ended; their tasks go back to the queue; schedules their restart."""
        for index, child in list(self.children.items()):
            if child.process.is_alive():
                continue
            child.process.join()
            del self.children[index]
            code = child.process.exitcode
            if not self.stopping:
                logger.error("worker %s ended (exit code %s); restarting it", child.worker_id, code)
            self.orphans.add(child.worker_id)
            if self.stopping:
                continue
            young = time.monotonic() - child.started < YOUNG
            self.young_deaths[index] = self.young_deaths.get(index, 0) + 1 if young else 0
            pause = min(MAX_PAUSE, 2.0 ** self.young_deaths[index] - 1) if young else 0.0
            self.restart_at[index] = time.monotonic() + pause
        self.requeue_orphans()

    def requeue_orphans(self) -> None:
        if not self.orphans:
            return
        orphans = set(self.orphans)

        def requeue() -> None:
            requeue_tasks_of(orphans)
            WorkerBeat.objects.filter(worker_id__in=orphans).delete()

        if self.database(requeue) is not _FAILED:
            self.orphans -= orphans

    def maintain(self) -> None:
        """Keeps the beats of the live children fresh."""
        if time.monotonic() < self.next_beat:
            return
        self.next_beat = time.monotonic() + beat_seconds()
        live = [child.worker_id for child in self.children.values() if child.process.is_alive()]
        self.database(lambda: WorkerBeat.objects.filter(worker_id__in=live).update(seen=timezone.now()))

    def shutdown(self) -> None:
        self.stopping = True
        if self.clock is not None:
            self.clock.stop()
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()  # one SIGTERM: finish the current task
        killed = False
        while any(child.process.is_alive() for child in self.children.values()):
            if self.forcing and not killed:
                for child in self.children.values():
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
                killed = True
            self.wait_a_little()
            self.maintain()
        self.reap()
        for _ in range(10):  # the database may be briefly away; requeue_stale covers the rest
            if not self.orphans:
                break
            time.sleep(0.5)
            self.requeue_orphans()
        connection.close()

    def database(self, work: Callable[[], T]) -> T | object:
        """Runs `work` on the supervisor's connection; a database error is logged, not fatal."""
        close_old_connections()
        try:
            return work()
        except DatabaseError:
            logger.exception("efp worker: the database is unavailable")
            connection.close()
            return _FAILED


_FAILED = object()


def _name(signum: int) -> str:
    return signal.Signals(signum).name
