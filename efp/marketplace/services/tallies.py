"""Keeping `ListTally` true: the database triggers that move its counts with every write, and the recount.

Each counted table is declared once (`SOURCES`: how a row of it finds its offering, project, month and
state); the triggers of migration 0009 (`trigger_statements`) and the recount (`recount`) are both made
from that table, for SQLite and PostgreSQL. A trigger does one upsert per row written (two when a row
changes state or key, moving its count); the counts of a month's usage rise when a month's record or a
user's row is first written, not when a value is overwritten, so the rows they touch are not hot.

What the triggers do not see: PostgreSQL with `session_replication_role = replica` (the scale seed, which
recounts at the end) and TRUNCATE (tests' flush, which empties the tally too). A per-user row deleted
after its month's record would not find its key (Django deletes children first; nothing deletes them the
other way round); `recount` repairs any drift, and test_tallies.py compares both after every kind of write.
"""

# ruff: noqa: S608  (every name in this module's SQL is one of our tables or columns; no value is inlined)

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from efp.marketplace.models import ComponentUsage, ComponentUserUsage, ListTally, Order, Resource
from efp.marketplace.models.tallies import NO_PERIOD, NO_STATE

K = ListTally.Kind
TALLY = ListTally._meta.db_table
_RESOURCE, _USAGE = Resource._meta.db_table, ComponentUsage._meta.db_table
_USER_USAGE, _ORDER = ComponentUserUsage._meta.db_table, Order._meta.db_table

COLUMNS = "kind, offering_id, project_id, period, state, count"

PG = "postgresql"


def _upsert(vendor: str) -> str:
    return (
        " ON CONFLICT (kind, offering_id, project_id, period, state)"
        f" DO UPDATE SET count = {TALLY}.count + {'EXCLUDED' if vendor == 'postgresql' else 'excluded'}.count"
    )


def _period_literal(vendor: str) -> str:
    return f"DATE '{NO_PERIOD.isoformat()}'" if vendor == "postgresql" else f"'{NO_PERIOD.isoformat()}'"


@dataclass(frozen=True)
class Source:
    """How a row of `table` is counted: SQL expressions of its key, `{row}` standing for the row (NEW, OLD,
    or the recount's alias), reading `tables` joined `where` (its resource, its usage record)."""

    kind: str
    table: str
    offering: str
    project: str
    period: str | None  # None: not counted by month
    state: str | None  # None: not counted by state
    tables: str = ""
    where: str = ""
    key_columns: tuple[str, ...] = ()  # the columns whose change moves the row's count

    def select(self, row: str, vendor: str, amount: str, *, counted: str = "") -> str:
        """SELECT of the row's key and `amount`, with its FROM and WHERE (`row`: NEW, OLD or the alias of
        `counted`, the table itself as the recount reads it)."""
        period = self.period.format(row=row) if self.period else _period_literal(vendor)
        state = self.state.format(row=row) if self.state else f"'{NO_STATE}'"
        offering, project = self.offering.format(row=row), self.project.format(row=row)
        tables = ", ".join(part for part in (counted, self.tables) if part)
        # Always a WHERE: SQLite reads the ON CONFLICT of an INSERT ... SELECT right only after one.
        where = self.where.format(row=row) if self.where else "1 = 1"
        select = f"SELECT '{self.kind}', {offering}, {project}, {period}, {state}, {amount}"
        return f"{select}{f' FROM {tables}' if tables else ''} WHERE {where}"


SOURCES = (
    Source(
        K.COMPONENT_USAGE, _USAGE, "r.offering_id", "r.project_id", "{row}.billing_period", None,
        tables=f"{_RESOURCE} r", where="r.id = {row}.resource_id",
        key_columns=("resource_id", "billing_period"),
    ),
    Source(
        K.USER_USAGE, _USER_USAGE, "r.offering_id", "r.project_id", "u.billing_period", None,
        tables=f"{_USAGE} u JOIN {_RESOURCE} r ON r.id = u.resource_id",
        where="u.id = {row}.component_usage_id",
        key_columns=("component_usage_id",),
    ),
    Source(
        K.ORDER, _ORDER, "{row}.offering_id", "{row}.project_id", None, "{row}.state",
        key_columns=("state", "offering_id", "project_id"),
    ),
    Source(
        K.RESOURCE, _RESOURCE, "{row}.offering_id", "{row}.project_id", None, "{row}.state",
        key_columns=("state", "offering_id", "project_id"),
    ),
)  # fmt: skip


def _apply(source: Source, row: str, sign: int, vendor: str) -> str:
    return f"INSERT INTO {TALLY} ({COLUMNS}) {source.select(row, vendor, str(sign))}{_upsert(vendor)}"


def _moves(source: Source, row: str, sign: int, vendor: str) -> list[str]:
    """When a resource changes offering or project, or a usage record changes resource or month, the
    counts of the rows hanging off it move with it."""
    upsert = _upsert(vendor)
    insert = f"INSERT INTO {TALLY} ({COLUMNS})"
    if source.kind == K.RESOURCE:
        keys = f"{row}.offering_id, {row}.project_id, c.billing_period, '{NO_STATE}', {sign} * COUNT(*)"
        return [
            f"{insert} SELECT '{K.COMPONENT_USAGE}', {keys} FROM {_USAGE} c WHERE c.resource_id = NEW.id"
            f" GROUP BY c.billing_period{upsert}",
            f"{insert} SELECT '{K.USER_USAGE}', {keys} FROM {_USER_USAGE} uu JOIN {_USAGE} c"
            " ON c.id = uu.component_usage_id WHERE c.resource_id = NEW.id"
            f" GROUP BY c.billing_period{upsert}",
        ]
    if source.kind == K.COMPONENT_USAGE:
        keys = f"r.offering_id, r.project_id, {row}.billing_period, '{NO_STATE}', {sign} * COUNT(*)"
        return [
            f"{insert} SELECT '{K.USER_USAGE}', {keys} FROM {_USER_USAGE} uu, {_RESOURCE} r"
            f" WHERE uu.component_usage_id = NEW.id AND r.id = {row}.resource_id"
            f" GROUP BY r.offering_id, r.project_id{upsert}"
        ]
    return []


def _move_columns(source: Source) -> tuple[str, ...]:
    """The columns whose change moves the counts of the rows hanging off `source`'s rows (`_moves`)."""
    if source.kind == K.RESOURCE:
        return ("offering_id", "project_id")
    return source.key_columns if source.kind == K.COMPONENT_USAGE else ()


def _changed(columns: tuple[str, ...], vendor: str) -> str:
    differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{column} {differs} NEW.{column}" for column in columns)


def trigger_statements(vendor: str, create: bool) -> list[str]:
    """The SQL that installs (or, `create=False`, removes) the tally's triggers (migration 0009)."""
    if vendor == "postgresql":
        return _postgresql(create)
    if vendor == "sqlite":
        return _sqlite(create)
    return []


def _postgresql(create: bool) -> list[str]:
    sql: list[str] = []
    for source in SOURCES:
        function, table = f"efp_tally_{source.table}", source.table
        sql += [
            f"DROP TRIGGER IF EXISTS {table}_tally ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_tally_update ON {table}",
            f"DROP FUNCTION IF EXISTS {function}()",
        ]
        if not create:
            continue
        moves = ""
        if move_columns := _move_columns(source):
            statements = [*_moves(source, "OLD", -1, PG), *_moves(source, "NEW", 1, PG)]
            body = "".join(f"        {statement};\n" for statement in statements)
            moves = f"    IF TG_OP = 'UPDATE' AND ({_changed(move_columns, PG)}) THEN\n{body}    END IF;\n"
        sql += [
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"    IF TG_OP <> 'INSERT' THEN {_apply(source, 'OLD', -1, 'postgresql')}; END IF;\n"
            f"    IF TG_OP <> 'DELETE' THEN {_apply(source, 'NEW', 1, 'postgresql')}; END IF;\n"
            f"{moves}    RETURN NULL;\nEND\n$$",
            f"CREATE TRIGGER {table}_tally AFTER INSERT OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE TRIGGER {table}_tally_update AFTER UPDATE OF {', '.join(source.key_columns)} ON {table}"
            f" FOR EACH ROW WHEN ({_changed(source.key_columns, PG)}) EXECUTE FUNCTION {function}()",
        ]
    return sql


def _sqlite(create: bool) -> list[str]:
    sql: list[str] = []
    for source in SOURCES:
        table = source.table
        sql += [f"DROP TRIGGER IF EXISTS {table}_tally_{op}" for op in ("insert", "delete", "update", "move")]
        if not create:
            continue
        old, new = _apply(source, "OLD", -1, "sqlite"), _apply(source, "NEW", 1, "sqlite")
        sql += [
            f"CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} BEGIN {new}; END",
            f"CREATE TRIGGER {table}_tally_delete AFTER DELETE ON {table} BEGIN {old}; END",
            f"CREATE TRIGGER {table}_tally_update AFTER UPDATE OF {', '.join(source.key_columns)} ON {table}"
            f" WHEN {_changed(source.key_columns, 'sqlite')} BEGIN {old}; {new}; END",
        ]
        if move_columns := _move_columns(source):
            moves = " ".join(
                f"{statement};"
                for statement in [*_moves(source, "OLD", -1, "sqlite"), *_moves(source, "NEW", 1, "sqlite")]
            )
            sql.append(
                f"CREATE TRIGGER {table}_tally_move AFTER UPDATE OF {', '.join(move_columns)} ON {table}"
                f" WHEN {_changed(move_columns, 'sqlite')} BEGIN {moves} END"
            )
    return sql


def recount_statements(vendor: str) -> list[str]:
    """Empty the tally and count every counted table again, grouped by key."""
    sql = []
    if vendor == "postgresql":  # writers wait until the new counts are in (readers do not)
        counted = ", ".join(source.table for source in SOURCES)
        sql += [f"LOCK TABLE {counted} IN SHARE MODE", f"LOCK TABLE {TALLY} IN EXCLUSIVE MODE"]
    sql.append(f"DELETE FROM {TALLY}")
    for source in SOURCES:
        select = source.select("x", vendor, "COUNT(*)", counted=f"{source.table} x")
        sql.append(f"INSERT INTO {TALLY} ({COLUMNS}) {select} GROUP BY 2, 3, 4, 5")
    return sql


@transaction.atomic
def recount() -> None:
    """Rebuilds the tally from the base tables, in one transaction (after a bulk load with the triggers
    off, or to repair drift). Takes the tally's rows for the transaction: writers wait for it."""
    with connection.cursor() as cursor:
        for statement in recount_statements(connection.vendor):
            cursor.execute(statement)
