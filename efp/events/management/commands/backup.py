"""`efp backup FILE`: the whole database, consistent as of the moment it began (efp/backups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from efp import backups


class Command(BaseCommand):
    help = "Write a consistent backup of the configured database to FILE (pg_dump; SQLite's online backup)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backups.backup(options["file"])
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backed up {summary}")
