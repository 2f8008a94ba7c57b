"""The verdict on pending D1 migrations: replay them over canary rows and see what is lost.

DESIGN.md, "Safety policy": whether a migration loses data is decided by running it, not by
reading it. Statement text is only used to name what the replay found.

1. Two in-memory SQLite databases (stdlib :mod:`sqlite3`, no wrangler, no network) are set up
   like D1: ``PRAGMA foreign_keys = ON`` and wrangler's migrations table. ``ATTACH`` and so
   ``VACUUM INTO`` are disabled (nothing is written outside memory) and each file has a time
   budget, so a runaway query cannot hang a run. The applied files are replayed into the first
   database (the *schema* replay) and copied into the second (the *canary* replay).
2. Before each pending file, every pre-existing table of the canary replay (one that existed
   before the pending set; not ``sqlite_*``, ``_cf_*``, the migrations table, ``ignore_tables``,
   shadow tables, or FTS tables whose content lives elsewhere) gets a few canary rows:
   distinctive values (" Canary-12 email", 7340000013) that satisfy the table's types, NOT NULL,
   UNIQUE, CHECK constraints and foreign keys (parents first; several candidate values are
   tried). Seeding before every file, not only the first, stands for rows written while the
   earlier files were applied: a copy made in one file does not protect rows written after it.
3. Each statement runs in the schema replay, where any error that is not about rows is the
   file's fault (:class:`UsageError`, exit 2: the lint cannot vouch for what it could not run).
   Then it runs in the canary replay, where triggers fire and foreign key actions run. A
   statement that fails there only because the tables hold rows (``ADD COLUMN ... NOT NULL``
   without a default, a CHECK) is reported as a note and skipped: D1 would refuse the file on
   such rows, and so lose nothing. A foreign key error is retried with foreign keys off, as if
   no rows referenced the ones it removes.
4. After each statement that changed rows or the schema, every canary row is looked up: in the
   table of its original name following ``ALTER TABLE ... RENAME TO`` (or, when that table is
   gone, in the table of its original name: a rebuild that renames the old table away), in its
   pre-existing columns following ``RENAME COLUMN`` (names match case-insensitively, as in
   SQLite). It is intact when some row holds all its values. What is not intact at the end is
   lost, and blamed on the statement after which it stopped being intact for good.

Values of columns the pending set adds are not compared, and only canary rows are: rows the
applied migrations inserted are their fixtures, and a statement aimed at a row the migration
names (``DELETE ... WHERE key = 'legacy'``) is the author's intent, not collateral damage. A table
in which no canary row can be placed is not silently passed: each statement that could change
its rows (going by its text) is reported as ``unchecked``, which counts as destructive.

Limits: canary values are distinctive, not realistic, so a ``WHERE`` aimed at real-looking values
(``created_at < '2026-01-01'``, a de-duplication) may match none of them and pass. A column
renamed by a rebuild (``INSERT INTO new_t (full_name) SELECT name ...``) is reported as dropped:
only ``RENAME COLUMN`` is followed.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skclaw.errors import UsageError
from skclaw.migrations.canaries import (
    Column,
    Placed,
    Seeder,
    Table,
    Value,
    main_table,
    quote,
    read_tables,
)
from skclaw.migrations.findings import (
    CHANGE_VALUES,
    DELETE_ROWS,
    DROP_COLUMN,
    DROP_TABLE,
    FAILS_WITH_ROWS,
    NOT_NULL_WITHOUT_DEFAULT,
    RENAME_COLUMN,
    RENAME_TABLE,
    UNCHECKED,
    Finding,
)
from skclaw.migrations.order import read_migration
from skclaw.migrations.sql import (
    Statement,
    added_column,
    dropped_table,
    fold,
    may_change_rows_of,
    rename_of,
    split_statements,
)

DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
DEFAULT_FILE_TIMEOUT = 30.0
CANARY_ROWS = 3

# wrangler 4.86 creates this before listing or applying (reference/wrangler.md §7).
_MIGRATIONS_TABLE_DDL = """CREATE TABLE IF NOT EXISTS {table}(
\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""

_NOT_NULL_ERROR = "NOT NULL column with default value NULL"
_FOREIGN_KEY_ERROR = "FOREIGN KEY constraint failed"

ROW = ""  # the aspect of a canary that stands for the whole row (other aspects: its columns)

# --- the two databases ----------------------------------------------------------------------------


class _Clock:
    """The time budget of one file, shared by both databases' progress handlers."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = math.inf
        self.timed_out = False

    def start(self) -> None:
        self.deadline = time.monotonic() + self.timeout
        self.timed_out = False

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def _open(migrations_table: str, clock: _Clock) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    # No ATTACH, and so no VACUUM INTO: the replay never writes outside memory.
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.set_progress_handler(clock.progress, 10_000)
    conn.execute("PRAGMA foreign_keys = ON")  # D1 enforces foreign keys
    conn.execute(_MIGRATIONS_TABLE_DDL.format(table=quote(migrations_table)))
    return conn


def _execute(conn: sqlite3.Connection, stmt: Statement) -> None:
    for _row in conn.execute(stmt.text):  # step SELECTs and RETURNING to the end
        pass


def _execute_retrying_foreign_keys(conn: sqlite3.Connection, stmt: Statement) -> None:
    """Run ``stmt``; after a foreign key error, again with foreign keys off.

    The second run answers "what would it do if no rows referenced the ones it removes": rows
    that may well not exist in the real database, so the statement must not be judged by them.
    """
    try:
        _execute(conn, stmt)
        return
    except sqlite3.IntegrityError as exc:
        if _FOREIGN_KEY_ERROR not in str(exc) or conn.in_transaction:
            raise
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        _execute(conn, stmt)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _about_rows(exc: sqlite3.Error | sqlite3.Warning) -> bool:
    """Did the statement fail because of the rows the tables hold, not because of its SQL?"""
    return isinstance(exc, sqlite3.IntegrityError) or _NOT_NULL_ERROR in str(exc)


# --- where pre-existing tables are, and their canary rows -----------------------------------------


@dataclass(frozen=True)
class _Where:
    file: str
    stmt: Statement


@dataclass(eq=False)  # identity: a place is one table's history
class _Place:
    """A table that existed before the pending set, followed through renames."""

    origin: str  # its name before the pending set
    name: str  # its name now (follows RENAME TO)
    columns: dict[str, str]  # column before the pending set -> its name now (RENAME COLUMN)
    renamed_by: _Where | None = None
    column_renamed_by: dict[str, _Where] = field(default_factory=dict)

    def locate(self, tables: dict[str, Table]) -> Table | None:
        return tables.get(fold(self.name)) or tables.get(fold(self.origin))

    def column_in(self, table: Table, column: str) -> Column | None:
        return table.column(self.columns[column]) or table.column(column)


@dataclass
class _Canary:
    place: _Place
    values: dict[str, Value]  # column before the pending set -> value
    distinctive: frozenset[str]  # columns whose value is this canary's own
    lost: dict[str, _Where] = field(default_factory=dict)  # aspect -> statement blamed


def _parents_first(places: list[_Place], tables: dict[str, Table], conn: sqlite3.Connection) -> list[_Place]:
    order: list[_Place] = []
    visiting: set[int] = set()
    by_table = {}
    for place in places:
        table = place.locate(tables)
        if table is not None:
            by_table[fold(table.name)] = place

    def visit(place: _Place) -> None:
        if place in order or id(place) in visiting:
            return
        visiting.add(id(place))
        table = place.locate(tables)
        if table is not None:
            for (parent,) in conn.execute(
                'SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)', (table.name,)
            ):
                parent_place = by_table.get(fold(str(parent)))
                if parent_place is not None:
                    visit(parent_place)
        order.append(place)

    for place in places:
        visit(place)
    return order


# --- the replay -----------------------------------------------------------------------------------


class _Replay:
    def __init__(self, ignore: frozenset[str], migrations_table: str, timeout: float) -> None:
        self._ignore = ignore
        self._clock = _Clock(timeout)
        self._schema_db = _open(migrations_table, self._clock)
        self._canary_db = _open(migrations_table, self._clock)
        self._seeder = Seeder(self._canary_db)
        self._places: list[_Place] = []
        self._canaries: list[_Canary] = []
        self._notes: list[tuple[int, Finding]] = []  # (file index, finding)
        self._files: list[str] = []
        self._tables: dict[str, Table] = {}
        self._tables_version: int | None = None
        self._last_change: tuple[int, int] | None = None

    def close(self) -> None:
        self._schema_db.close()
        self._canary_db.close()

    # -- running files

    def _fail(self, role: str, name: str, where: str, exc: BaseException) -> UsageError:
        if self._clock.timed_out:
            detail = f"took longer than {self._clock.timeout:g} s"
        else:
            detail = str(exc)
        return UsageError(
            f"{role} migration {name} does not replay: {where}{detail}",
            hint=f"Fix {name} so that it runs on SQLite, then try again.",
        )

    def _finish(self, conn: sqlite3.Connection, role: str, name: str) -> None:
        try:
            if conn.in_transaction:  # a BEGIN without COMMIT
                conn.execute("COMMIT")
            conn.execute("PRAGMA foreign_keys = ON")  # each file is its own D1 query
        except sqlite3.Error as exc:
            raise self._fail(role, name, "", exc) from exc

    def applied(self, name: str, statements: list[Statement]) -> None:
        self._clock.start()
        for stmt in statements:
            self._run_schema(name, "applied", stmt)
        self._finish(self._schema_db, "applied", name)

    def _run_schema(self, name: str, role: str, stmt: Statement) -> None:
        """Run ``stmt`` in the schema replay; an error that is not about rows is the file's."""
        try:
            _execute_retrying_foreign_keys(self._schema_db, stmt)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if not _about_rows(exc) or self._clock.timed_out:
                raise self._fail(role, name, f"line {stmt.line}: ", exc) from exc
            # Fails on the rows the applied files inserted; the canary replay reports it.

    def start_pending(self) -> None:
        """Copy the applied schema (and rows) into the canary replay; note the tables there."""
        try:
            self._schema_db.backup(self._canary_db)
            tables = self._read_tables()
        except sqlite3.Error as exc:
            raise UsageError(
                f"the schema the applied migrations leave cannot be read: {exc}",
                hint="An applied migration left the schema broken; fix it.",
            ) from exc
        self._places = [
            _Place(t.name, t.name, {c.name: c.name for c in t.columns}) for t in tables.values()
        ]

    def pending(self, name: str, statements: list[Statement]) -> None:
        self._files.append(name)
        self._clock.start()
        try:
            unseeded = self._seed()
        except sqlite3.Error as exc:
            raise self._fail("pending", name, "while placing canary rows: ", exc) from exc
        self._last_change = None
        for stmt in statements:
            self._run_schema(name, "pending", stmt)
            ran = self._run_canary(name, stmt)
            for place, reason in unseeded.items():
                if may_change_rows_of(stmt, place.name) or may_change_rows_of(stmt, place.origin):
                    self._note_unchecked(name, stmt, place, reason)
            if not ran:
                continue
            where = _Where(name, stmt)
            self._follow_rename(where)
            try:
                self._check(where)
            except sqlite3.Error as exc:
                raise self._fail("pending", name, f"line {stmt.line}: ", exc) from exc
        self._finish(self._schema_db, "pending", name)
        self._finish(self._canary_db, "pending", name)

    def _run_canary(self, name: str, stmt: Statement) -> bool:
        """Run ``stmt`` over the canary rows; False (and a note) when the rows make it fail."""
        try:
            _execute_retrying_foreign_keys(self._canary_db, stmt)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if self._clock.timed_out:
                raise self._fail("pending", name, f"line {stmt.line}: ", exc) from exc
            self._note_failure(name, stmt, exc)
            return False
        return True

    # -- canary rows

    def _read_tables(self) -> dict[str, Table]:
        version = int(self._canary_db.execute("PRAGMA schema_version").fetchone()[0])
        if version != self._tables_version:
            self._tables = read_tables(self._canary_db, self._ignore)
            self._tables_version = version
        return self._tables

    def _seed(self) -> dict[_Place, str]:
        """Canary rows in every pre-existing table; returns the tables that got none, and why.

        Values are read back once every table has its rows: an insert trigger may change rows
        placed earlier (a counter in the parent, say), and that change is not the migration's.
        Intact canaries of earlier files that the new rows' triggers changed take the new values.
        """
        tables = self._read_tables()
        reasons: dict[_Place, str] = {}
        placed: list[tuple[_Place, Table, Placed]] = []
        for place in _parents_first(self._places, tables, self._canary_db):
            table = place.locate(tables)
            if table is None:
                continue
            reasons[place] = "no columns"
            for k in range(CANARY_ROWS):
                result = self._seeder.insert(table, k)
                if isinstance(result, str):
                    reasons[place] = result
                else:
                    placed.append((place, table, result))
        tables = self._read_tables()
        for canary in self._canaries:
            if not canary.lost:
                self._rebaseline(canary, tables)
        seeded: set[_Place] = set()
        for place, table, where in placed:
            read = self._seeder.read(table, where)
            if read is None:
                reasons[place] = "the rows placed in it were removed at once (by a trigger?)"
                continue
            row, distinctive = read
            values: dict[str, Value] = {}
            mine: set[str] = set()
            for column in place.columns:
                found = place.column_in(table, column)
                if found is not None:
                    values[column] = row[found.name]
                    if found.name in distinctive:
                        mine.add(column)
            self._canaries.append(_Canary(place, values, frozenset(mine)))
            seeded.add(place)
        return {place: reason for place, reason in reasons.items() if place not in seeded}

    def _follow_rename(self, where: _Where) -> None:
        rename = rename_of(where.stmt)
        if rename is None:
            return
        for place in self._places:
            if fold(place.name) != fold(rename.table):
                continue
            if rename.column is None:
                place.name, place.renamed_by = rename.new_name, where
                continue
            for column, now in place.columns.items():
                if fold(now) == fold(rename.column):
                    place.columns[column] = rename.new_name
                    place.column_renamed_by[column] = where

    def _check(self, where: _Where) -> None:
        conn = self._canary_db
        change = (int(conn.execute("PRAGMA schema_version").fetchone()[0]), conn.total_changes)
        if change == self._last_change:
            return
        self._last_change = change
        tables = self._read_tables()
        intact = self._intact(tables)
        for canary in self._canaries:
            if id(canary) in intact:
                continue
            lost = self._lost(canary, tables)
            blamed: dict[str, _Where] = {}
            for aspect in lost:
                if aspect in canary.lost:
                    blamed[aspect] = canary.lost[aspect]
                elif ROW in canary.lost:  # gone with the row, earlier
                    blamed[aspect] = canary.lost[ROW]
                else:
                    blamed[aspect] = where
            canary.lost = blamed

    def _intact(self, tables: dict[str, Table]) -> set[int]:
        """Canaries (by id) not lost so far that are still intact, found in one query per table.

        The common case (a statement that touched none of them) costs one query per table
        instead of one per canary.
        """
        groups: dict[tuple[int, tuple[str, ...]], list[_Canary]] = {}
        for canary in self._canaries:
            if not canary.lost:
                groups.setdefault((id(canary.place), tuple(canary.values)), []).append(canary)
        intact: set[int] = set()
        for (_, columns), canaries in groups.items():
            place = canaries[0].place
            table = place.locate(tables)
            if table is None or not columns:
                continue
            found = [place.column_in(table, column) for column in columns]
            if any(f is None for f in found):
                continue
            width = len(columns) + 1
            for start in range(0, len(canaries), max(1, 900 // width)):
                chunk = canaries[start : start + max(1, 900 // width)]
                rows = ", ".join("(" + ", ".join("?" * width) + ")" for _ in chunk)
                names = ", ".join(f"v{i}" for i in range(width))
                match = " AND ".join(
                    f"t.{quote(f.name)} IS c.v{i + 1}" for i, f in enumerate(found) if f
                )
                sql = (
                    f"WITH c({names}) AS (VALUES {rows}) SELECT c.v0 FROM c WHERE EXISTS "
                    f"(SELECT 1 FROM {main_table(table.name)} AS t WHERE {match})"
                )
                params: list[Value] = []
                for index, canary in enumerate(chunk):
                    params += [index, *(canary.values[c] for c in columns)]
                for (index,) in self._canary_db.execute(sql, params):
                    intact.add(id(chunk[int(index)]))
        return intact

    def _rebaseline(self, canary: _Canary, tables: dict[str, Table]) -> None:
        """Take the values an intact canary holds now, after placing rows changed it."""
        if not self._lost(canary, tables):
            return
        table = canary.place.locate(tables)
        keys = [c for c in canary.distinctive]
        if table is None or not keys:
            return
        columns = {c: found.name for c in canary.values if (found := canary.place.column_in(table, c))}
        if not set(keys) <= set(columns):
            return
        select = ", ".join(quote(now) for now in columns.values())
        where = " AND ".join(f"{quote(columns[c])} IS ?" for c in keys)
        row = self._canary_db.execute(
            f"SELECT {select} FROM {main_table(table.name)} WHERE {where} LIMIT 1",
            [canary.values[c] for c in keys],
        ).fetchone()
        if row is not None:
            canary.values.update(zip(columns, row, strict=True))

    def _lost(self, canary: _Canary, tables: dict[str, Table]) -> frozenset[str]:
        """What of the canary no row holds now: ROW, or the columns whose values are gone."""
        table = canary.place.locate(tables)
        if table is None:
            return frozenset({ROW})
        present: dict[str, str] = {}
        missing: set[str] = set()
        for column in canary.values:
            found = canary.place.column_in(table, column)
            if found is None:
                missing.add(column)
            else:
                present[column] = found.name
        conn, source = self._canary_db, main_table(table.name)
        if present:
            where = " AND ".join(f"{quote(now)} IS ?" for now in present.values())
            params = [canary.values[c] for c in present]
            if conn.execute(f"SELECT 1 FROM {source} WHERE {where} LIMIT 1", params).fetchone():
                return frozenset(missing)
        keys = [c for c in present if c in canary.distinctive]
        if not keys:
            return frozenset({ROW}) if present else frozenset(missing)
        same = ", ".join(f"({quote(now)} IS ?)" for now in present.values())
        anywhere = " OR ".join(f"{quote(present[c])} IS ?" for c in keys)
        params = [canary.values[c] for c in present] + [canary.values[c] for c in keys]
        rows = conn.execute(f"SELECT {same} FROM {source} WHERE {anywhere}", params).fetchall()
        if not rows:
            return frozenset({ROW})
        best = max(rows, key=sum)
        differing = {c for c, equal in zip(present, best, strict=True) if not equal}
        return frozenset(missing | differing)

    # -- findings

    def _note(self, name: str, finding: Finding) -> None:
        index = self._files.index(name) if name in self._files else len(self._files)
        self._notes.append((index, finding))

    def _note_failure(self, name: str, stmt: Statement, exc: BaseException) -> None:
        added = added_column(stmt)
        if _NOT_NULL_ERROR in str(exc) and added is not None:
            table, column = added
            message = (
                f"adds NOT NULL column {column} to table {table} without a DEFAULT, which fails "
                f"when {table} has rows"
            )
            self._note(
                name,
                _finding(NOT_NULL_WITHOUT_DEFAULT, name, message, stmt, table=table, column=column),
            )
            return
        message = (
            f"fails when the tables hold rows ({exc}), so D1 would refuse this file then; "
            "the rest of the file is checked without it"
        )
        self._note(name, _finding(FAILS_WITH_ROWS, name, message, stmt))

    def _note_unchecked(self, name: str, stmt: Statement, place: _Place, reason: str) -> None:
        message = (
            f"may change rows of table {place.origin}, which the replay could not check "
            f"(no canary row fits in it: {reason})"
        )
        self._note(name, _finding(UNCHECKED, name, message, stmt, table=place.origin))

    def findings(self) -> list[Finding]:
        tables = self._read_tables()
        found = list(self._notes)
        for canary in self._canaries:
            for aspect, where in canary.lost.items():
                finding = _loss(canary.place, aspect, where, tables)
                found.append((self._files.index(where.file), finding))
        for place in self._places:
            found += self._renames(place, tables)
        found.sort(
            key=lambda item: (item[0], item[1].line or 0, item[1].table or "", item[1].column or "")
        )
        unique: list[Finding] = []
        seen: set[tuple[str, int | None, str, str | None, str | None]] = set()
        for _, finding in found:
            key = (finding.file, finding.line, finding.code, finding.table, finding.column)
            if key not in seen:
                seen.add(key)
                unique.append(finding)
        return unique

    def _renames(self, place: _Place, tables: dict[str, Table]) -> list[tuple[int, Finding]]:
        table = tables.get(fold(place.name))
        if table is None:
            return []
        notes: list[tuple[int, Finding]] = []
        by = place.renamed_by
        if by is not None and fold(place.name) != fold(place.origin):
            message = f"renames table {place.origin} to {table.name}"
            notes.append(
                (
                    self._files.index(by.file),
                    _finding(RENAME_TABLE, by.file, message, by.stmt, table=place.origin),
                )
            )
        for column, by in place.column_renamed_by.items():
            now = table.column(place.columns[column])
            if now is None or fold(now.name) == fold(column):
                continue
            message = f"renames column {column} of table {place.origin} to {now.name}"
            finding = _finding(
                RENAME_COLUMN, by.file, message, by.stmt, table=place.origin, column=column
            )
            notes.append((self._files.index(by.file), finding))
        return notes


def _finding(
    code: str,
    file: str,
    what: str,
    stmt: Statement,
    *,
    table: str | None = None,
    column: str | None = None,
) -> Finding:
    message = f"{what}: {stmt.summary} (line {stmt.line})"
    return Finding(code, file, message, table, column, stmt.line, stmt.summary)


def _loss(place: _Place, aspect: str, where: _Where, tables: dict[str, Table]) -> Finding:
    """The finding for one lost aspect of a canary, named by the statement blamed for it."""
    table = place.locate(tables)
    stmt = where.stmt
    dropped = dropped_table(stmt)
    rebuilt = dropped is not None and fold(dropped) in (fold(place.name), fold(place.origin))
    origin = place.origin
    if aspect == ROW:
        if table is None:
            code, what = DROP_TABLE, f"drops table {origin}"
        elif rebuilt:
            code, what = DROP_TABLE, f"drops table {origin} and creates it again without its rows"
        else:
            code, what = DELETE_ROWS, f"deletes rows of table {origin}"
    elif table is None or place.column_in(table, aspect) is None:
        code, what = DROP_COLUMN, f"drops column {aspect} of table {origin}"
    elif rebuilt:
        code, what = CHANGE_VALUES, f"rebuilds table {origin} without the values of column {aspect}"
    else:
        code, what = CHANGE_VALUES, f"changes values of column {aspect} of table {origin}"
    if code in (DELETE_ROWS, CHANGE_VALUES) and not rebuilt:
        names = stmt.names
        if fold(origin) not in names and fold(place.name) not in names:
            what += " (through a trigger or a foreign key action)"
    column = None if aspect == ROW else aspect
    return _finding(code, where.file, what, stmt, table=origin, column=column)


# --- the lint -------------------------------------------------------------------------------------


def lint_migrations(
    migrations_dir: Path,
    applied: Sequence[str],
    pending: Sequence[str],
    *,
    ignore_tables: Sequence[str] = (),
    migrations_table: str = DEFAULT_MIGRATIONS_TABLE,
    timeout: float = DEFAULT_FILE_TIMEOUT,
) -> list[Finding]:
    """Findings for applying ``pending`` (in the given order) after ``applied``.

    ``migrations_table`` is created like wrangler does and never reported; ``ignore_tables`` are
    not reported either. ``timeout`` bounds the replay of each file, in seconds. A file that does
    not replay (or cannot be read) is a :class:`UsageError`.
    """
    if not migrations_dir.is_dir():
        raise UsageError(
            f"No migrations present at {migrations_dir}.",
            hint="Create the directory or set migrations_dir in the wrangler config.",
        )
    ignore = frozenset(fold(t) for t in (*ignore_tables, DEFAULT_MIGRATIONS_TABLE))
    ignore |= {fold(migrations_table)}
    files = [(name, "applied") for name in applied] + [(name, "pending") for name in pending]
    texts = {name: read_migration(migrations_dir, name, role) for name, role in files}

    replay = _Replay(ignore, migrations_table, timeout)
    try:
        for name in applied:
            replay.applied(name, split_statements(texts[name]))
        if not pending:
            return []
        replay.start_pending()
        for name in pending:
            replay.pending(name, split_statements(texts[name]))
        return replay.findings()
    finally:
        replay.close()
