"""`efp restore FILE [--replace]`: the configured database made what a backup holds (efp/backups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from efp import backups


class Command(BaseCommand):
    help = (
        "Restore a backup made by `efp backup` into the configured database, in one transaction. "
        "The database must be empty unless --replace is given (stop the service and its workers first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--replace", action="store_true", help="drop everything the database holds before restoring"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backups.restore(options["file"], replace=options["replace"])
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {summary}")
