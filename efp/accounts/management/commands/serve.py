import os
import shutil
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serves EFP Allocations with gunicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--workers", default=os.environ.get("EFP_WORKERS", "3"))

    def handle(self, *args: Any, **options: Any) -> None:
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
        if gunicorn is None:
            gunicorn = "gunicorn"
        argv = [
            gunicorn,
            "efp.wsgi:application",
            "--bind",
            f"{options['host']}:{options['port']}",
            "--workers",
            str(options["workers"]),
            "--access-logfile",
            "-",
            # gunicorn's control socket has one default path per user: a second `efp serve` on the same host
            # would take it over from the first. We do not use it.
            "--no-control-socket",
        ]
        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/")
        self.stdout.flush()
        os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with gunicorn
