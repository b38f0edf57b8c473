"""`efp backup FILE` and `efp restore FILE`: the whole database, consistent, in one file.

PostgreSQL: `pg_dump --format=custom`, which reads one snapshot (a repeatable-read transaction), so the file
holds every transaction committed before the dump began and nothing of one that had not; restoring runs
the dump's SQL in a single transaction (`pg_restore -f - | psql --single-transaction`): it lands whole or
not at all. SQLite: the online backup API, copied in one step under a read transaction, written to a
temporary file that is checked (`PRAGMA integrity_check`) and renamed into place; restoring copies it
back the same way, in one transaction of the target. A restore refuses a database that holds tables
unless told to replace them; a backup of one engine is refused by the other.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

POSTGRES_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that could not be done; its message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    path: Path
    bytes: int
    seconds: float
    database: str

    def __str__(self) -> str:
        return f"{self.database}: {self.path} ({self.bytes / 1e6:.1f} MB) in {self.seconds:.1f} s"


def _database_label() -> str:
    return f"{connection.vendor} database {connection.settings_dict['NAME']}"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found: install PostgreSQL's client tools (pg_dump, pg_restore, psql)."
        )
    return found


def _pg_command(program: str) -> tuple[list[str], dict[str, str]]:
    settings = connection.settings_dict
    args = [_tool(program), "--no-password", "--dbname", str(settings["NAME"])]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings.get(key):
            args += [flag, str(settings[key])]
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    return args, env


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def _temporary_beside(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    return Path(name)


def backup(path: Path) -> Summary:
    """The configured database, consistent as of the moment the backup began, written to `path`
    (replaced only once the new file is complete and checked)."""
    started = time.monotonic()
    path = path.resolve()
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory.")
    partial = _temporary_beside(path)
    try:
        if connection.vendor == "postgresql":
            args, env = _pg_command("pg_dump")
            _run([*args, "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial)], env)
            _run([_tool("pg_restore"), "--list", str(partial)])  # the archive reads back whole
        elif connection.vendor == "sqlite":
            connection.ensure_connection()
            target = sqlite3.connect(partial)
            try:
                connection.connection.backup(target)  # one step: a consistent copy
                (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
            finally:
                target.close()
            if verdict != "ok":
                raise BackupError(f"The copy failed its integrity check: {verdict}")
        else:
            raise BackupError(f"Backups of {connection.vendor} are not supported.")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return Summary(path, path.stat().st_size, time.monotonic() - started, _database_label())


def _holds_tables() -> bool:
    with connection.cursor() as cursor:
        return bool(connection.introspection.table_names(cursor))


def restore(path: Path, *, replace: bool = False) -> Summary:
    """The configured database made exactly what `path` holds, in one transaction."""
    started = time.monotonic()
    path = path.resolve()
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    with path.open("rb") as handle:
        head = handle.read(16)
    kind = "postgresql" if head.startswith(POSTGRES_MAGIC) else "sqlite" if head == SQLITE_MAGIC else None
    if kind is None:
        raise BackupError(f"{path} is not a backup made by `efp backup`.")
    if kind != connection.vendor:
        raise BackupError(f"{path} is a {kind} backup; the configured database is {connection.vendor}.")
    if _holds_tables() and not replace:
        raise BackupError(
            f"The {_database_label()} is not empty. Restore into an empty database, or pass --replace "
            "to replace everything it holds (stop the service and its workers first)."
        )
    if kind == "postgresql":
        _restore_postgresql(path, replace=replace)
    else:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            connection.ensure_connection()
            source.backup(connection.connection)
        finally:
            source.close()
    connection.close()  # nothing cached of the database that was there before
    return Summary(path, path.stat().st_size, time.monotonic() - started, _database_label())


def _restore_postgresql(path: Path, *, replace: bool) -> None:
    connection.close()  # no session of ours holds a lock on what is dropped
    psql_args, env = _pg_command("psql")
    env["PGOPTIONS"] = "-c client_min_messages=warning"  # no NOTICE per dropped object on stderr
    dump = subprocess.Popen(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--file", "-", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    preamble = "DROP SCHEMA public CASCADE; CREATE SCHEMA public;\n" if replace else ""
    assert dump.stdout is not None
    psql = subprocess.Popen(
        [*psql_args, "-X", "--quiet", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--file", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert psql.stdin is not None
    try:
        psql.stdin.write(preamble.encode())
        while chunk := dump.stdout.read(1 << 20):
            psql.stdin.write(chunk)
    except BrokenPipeError:
        pass  # psql stopped at an error: it says which below
    finally:
        psql.stdin.close()
    dump_error = dump.stderr.read().decode() if dump.stderr else ""
    if dump.wait() != 0:
        psql.kill()
        psql.wait()
        raise BackupError(f"pg_restore failed: {dump_error.strip()[-2000:]}")
    psql_error = psql.stderr.read().decode() if psql.stderr else ""
    if psql.wait() != 0:
        raise BackupError(f"The restore was rolled back: {psql_error.strip()[-2000:]}")
