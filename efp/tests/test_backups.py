"""Backups that restore (issue 20, point 5). Carol's site agent streams usage reports at `efp serve` (three
allocations, two components a report; per-user reports of three people); mid-stream the operator runs
`efp backup FILE`, and later `efp restore FILE` into an empty database. The restored database holds every
report acknowledged before the backup began, nothing half-written, nothing that was never sent.
On SQLite the service runs on a database file of its own (the tests' database lives in memory)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TransactionTestCase

from efp.marketplace.tests import served
from efp.marketplace.tests.usage_streams import Stream, build_stream_world, check_invariants

EFP = Path(sys.executable).with_name("efp")


@contextmanager
def connected_to(name: str) -> Iterator[None]:
    """This process's connection on another database of the same server (PostgreSQL) or file (SQLite);
    the tests' in-memory SQLite database cannot be closed, so its connection is set aside meanwhile."""
    settings = connection.settings_dict
    saved = settings["NAME"]
    held = connection.connection if connection.vendor == "sqlite" and connection.is_in_memory_db() else None
    if held is not None:
        connection.connection = None
    else:
        connection.close()
    settings["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        settings["NAME"] = saved
        if held is not None:
            connection.connection = held


def efp(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EFP_DATABASE_URL": database_url}
    return subprocess.run([str(EFP), *args], env=env, capture_output=True, text=True, check=False)


def snapshot(stream: Stream) -> Stream:
    """What the stream had been told when the backup began: those reports must be in it; the rest may."""
    told = stream.acknowledged.copy()
    return dataclasses.replace(stream, acknowledged=told, unknown=stream.unknown.copy())


class BackupUnderWriteLoad(TransactionTestCase):
    def setUp(self) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="efp-backup-"))
        self.addCleanup(shutil.rmtree, self.scratch, ignore_errors=True)
        if connection.vendor == "sqlite":
            self.source_name = str(self.scratch / "service.sqlite3")
            self.source_url = f"sqlite:///{self.source_name}"
            migrated = efp("migrate", "--noinput", "-v", "0", database_url=self.source_url)
            assert migrated.returncode == 0, migrated.stderr
            self.restored_name = str(self.scratch / "restored.sqlite3")
            self.restored_url = f"sqlite:///{self.restored_name}"
        else:
            self.source_name = str(connection.settings_dict["NAME"])
            self.source_url = served.test_database_url()
            self.restored_name = f"{self.source_name}_restored"
            self.restored_url = self.source_url.rsplit("/", 1)[0] + "/" + self.restored_name
            admin_url = self.source_url.rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.restored_name}"')
                admin.execute(f'CREATE DATABASE "{self.restored_name}"')

            def drop_restored() -> None:
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{self.restored_name}" WITH (FORCE)')

            self.addCleanup(drop_restored)
        with connected_to(self.source_name):
            self.world = build_stream_world()
        self.server = served.Server(workers=2, database_url=self.source_url)
        self.addCleanup(self.server.kill)

    def test_a_backup_taken_mid_stream_restores_every_report_acknowledged_before_it_began(self) -> None:
        streams = self.world.streams()
        self.server.start()
        stop = threading.Event()
        threads = [
            threading.Thread(target=s.run, args=(self.server.url, self.world.token, stop)) for s in streams
        ]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while sum(len(s.acknowledged) for s in streams) < 40 and time.monotonic() < deadline:
                time.sleep(0.02)
            told = [snapshot(s) for s in streams]  # the moment the backup begins
            backup = self.scratch / "efp.backup"
            made = efp("backup", str(backup), database_url=self.source_url)
            acknowledged_at_end_of_backup = sum(len(s.acknowledged) for s in streams)
            time.sleep(0.5)  # the stream goes on after the backup
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert made.returncode == 0, made.stderr
        assert sum(len(s.acknowledged) for s in told) >= 40
        assert sum(len(s.acknowledged) for s in streams) > acknowledged_at_end_of_backup  # it was under load

        restored = efp("restore", str(backup), database_url=self.restored_url)
        assert restored.returncode == 0, restored.stderr
        # Everything sent, acknowledged before the backup or not, is what may be in it.
        for before, after in zip(told, streams, strict=True):
            before.unknown = (after.acknowledged | after.unknown) - before.acknowledged
        with connected_to(self.restored_name):
            check_invariants(told, self.world.parent)

        # A second restore into the now full database is refused, and changes nothing.
        again = efp("restore", str(backup), database_url=self.restored_url)
        assert again.returncode != 0 and "is not empty" in again.stderr, again.stderr


class RestoreRefusals(TransactionTestCase):
    def test_it_refuses_what_is_not_a_backup_of_this_engine_and_a_full_database(self) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="efp-backup-"))
        self.addCleanup(shutil.rmtree, scratch, ignore_errors=True)
        junk = scratch / "junk.bin"
        junk.write_bytes(b"not a backup at all")
        other = scratch / "other.backup"
        other.write_bytes(b"SQLite format 3\x00" if connection.vendor == "postgresql" else b"PGDMP\x01\x0e")
        with self.assertRaisesMessage(CommandError, "is not a backup made by `efp backup`"):
            call_command("restore", str(junk))
        with self.assertRaisesMessage(CommandError, "backup; the configured database is"):
            call_command("restore", str(other))
        with self.assertRaisesMessage(CommandError, "is not empty"):
            mine = scratch / "mine.backup"
            call_command("backup", str(mine))
            call_command("restore", str(mine))
        with self.assertRaisesMessage(CommandError, "is not a directory"):
            call_command("backup", str(scratch / "missing" / "x.backup"))
