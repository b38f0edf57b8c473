from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from efp.events.schedule import load_jobs
from efp.events.supervisor import Supervisor


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ArgumentTypeError("must be at least 1")
    return number


def interval(value: str) -> float:
    seconds = float(value)
    if not 0 <= seconds <= 60:
        raise ArgumentTypeError("must be between 0 and 60 seconds")
    return seconds


class Command(BaseCommand):
    help = (
        "Runs the background work: N task-running processes and the clock of the periodic jobs. Run any "
        "number of them, on any machine, against one PostgreSQL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processes", type=positive_int, default=1, help="task-running processes (1)")
        parser.add_argument(
            "--interval", type=interval, default=0.2, help="seconds an idle process waits between polls (0.2)"
        )
        parser.add_argument(
            "--no-clock", action="store_false", dest="clock", help="run tasks only, no periodic jobs"
        )

    def handle(self, *args: Any, processes: int, interval: float, clock: bool, **options: Any) -> None:
        jobs = ", ".join(sorted(load_jobs())) if clock else "none (--no-clock)"
        self.stdout.write(f"efp worker: {processes} process(es), polling every {interval} s; jobs: {jobs}")
        self.stdout.flush()
        Supervisor(processes=processes, interval=interval, clock=clock).run()
        self.stdout.write("efp worker: stopped")
