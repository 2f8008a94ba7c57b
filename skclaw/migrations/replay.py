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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from skclaw.errors import UsageError
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
    lex,
    may_change_rows_of,
    rename_of,
    split_statements,
)

DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
DEFAULT_FILE_TIMEOUT = 30.0
CANARY_ROWS = 3
MAX_INSERT_ATTEMPTS = 150

# wrangler 4.86 creates this before listing or applying (reference/wrangler.md §7).
_MIGRATIONS_TABLE_DDL = """CREATE TABLE IF NOT EXISTS {table}(
\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""

_NOT_NULL_ERROR = "NOT NULL column with default value NULL"
_FOREIGN_KEY_ERROR = "FOREIGN KEY constraint failed"

Value = str | int | float | bytes | None


class _Omit:
    """Leave the column out of the INSERT, so its DEFAULT applies."""


OMIT = _Omit()
Candidate = Value | _Omit

ROW = ""  # the aspect of a canary that stands for the whole row (other aspects: its columns)

# Values tried after a column's distinctive one, when a constraint refuses that.
_FALLBACKS: tuple[Value, ...] = (
    1,
    0,
    2,
    -1,
    100,
    1.5,
    "a",
    "A",
    "",
    "2026-01-01",
    "2026-01-01 00:00:00",
    "2026-01-01T00:00:00.000Z",
    "{}",
    "[]",
    "canary@example.com",
    "https://example.com/canary",
    "00000000-0000-4000-8000-000000000000",
    b"canary",
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _main(table: str) -> str:
    """A table of ``main``: not a TEMP table of the same name, nor the check's own CTE."""
    return "main." + _quote(table)


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
    conn.execute(_MIGRATIONS_TABLE_DDL.format(table=_quote(migrations_table)))
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


# --- tables as the canary replay sees them --------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    notnull: bool
    has_default: bool
    pk: int


@dataclass(frozen=True)
class _Table:
    name: str
    virtual: bool
    without_rowid: bool
    strict: bool
    sql: str
    columns: tuple[_Column, ...]  # without hidden and generated columns

    @cached_property
    def _by_key(self) -> dict[str, _Column]:
        return {fold(c.name): c for c in self.columns}

    def column(self, name: str) -> _Column | None:
        return self._by_key.get(fold(name))


def _content_elsewhere(sql: str) -> bool:
    """An FTS table with ``content=`` (external or contentless) holds no content of its own."""
    tokens = list(lex(sql))
    using = next((i for i, t in enumerate(tokens) if t.is_word("USING")), None)
    if using is None or using + 1 >= len(tokens):
        return False
    if fold(tokens[using + 1].text) not in ("fts3", "fts4", "fts5"):
        return False
    return any(
        t.is_name and fold(t.text) == "content" and nxt.is_punct("=")
        for t, nxt in zip(tokens[using + 2 :], tokens[using + 3 :], strict=False)
    )


def _read_tables(conn: sqlite3.Connection, ignore: frozenset[str]) -> dict[str, _Table]:
    """User tables of ``main`` in creation order, by folded name."""
    kinds = {
        str(name): (str(kind), bool(wr), bool(strict))
        for name, kind, wr, strict in conn.execute(
            "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'"
        )
    }
    tables: dict[str, _Table] = {}
    master = "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' ORDER BY rowid"
    for name, sql in conn.execute(master).fetchall():
        key = fold(name)
        kind, without_rowid, strict = kinds.get(name, ("table", False, False))
        if key.startswith(("sqlite_", "_cf_")) or key in ignore or kind == "shadow":
            continue
        if kind == "virtual" and _content_elsewhere(sql or ""):
            continue
        columns = tuple(
            _Column(str(cname), str(ctype or ""), bool(notnull), default is not None, int(pk))
            for cname, ctype, notnull, default, pk, hidden in conn.execute(
                'SELECT name, type, "notnull", dflt_value, pk, hidden '
                "FROM pragma_table_xinfo(?, 'main') ORDER BY cid",
                (name,),
            )
            if not hidden
        )
        tables[key] = _Table(
            str(name), kind == "virtual", without_rowid, strict, str(sql or ""), columns
        )
    return tables


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

    def locate(self, tables: dict[str, _Table]) -> _Table | None:
        return tables.get(fold(self.name)) or tables.get(fold(self.origin))

    def column_in(self, table: _Table, column: str) -> _Column | None:
        return table.column(self.columns[column]) or table.column(column)


@dataclass
class _Canary:
    place: _Place
    values: dict[str, Value]  # column before the pending set -> value
    distinctive: frozenset[str]  # columns whose value is this canary's own
    lost: dict[str, _Where] = field(default_factory=dict)  # aspect -> statement blamed


# --- placing canary rows --------------------------------------------------------------------------


def _affinity(table: _Table, column: _Column) -> str:
    """INTEGER, REAL, TEXT or BLOB: what kind of distinctive value the column takes."""
    declared = column.type.upper()
    if table.strict:  # exactly INT, INTEGER, REAL, TEXT, BLOB or ANY
        return {"INT": "INTEGER", "ANY": "TEXT"}.get(declared, declared)
    if "INT" in declared:
        return "INTEGER"
    if any(k in declared for k in ("CHAR", "CLOB", "TEXT")) or "BLOB" in declared:
        return "TEXT"  # a BLOB column stores text as given; text is easier to recognise
    if not declared:
        return "TEXT"
    if any(k in declared for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "INTEGER"  # NUMERIC affinity: BOOLEAN, DATETIME, DECIMAL(10, 2)...


def _literals(sql: str) -> list[Value]:
    """String and number literals of a CREATE TABLE (CHECK lists, bounds) and their neighbours."""
    values: list[Value] = []
    tokens = list(lex(sql))
    for i, tok in enumerate(tokens):
        if tok.kind == "string":
            values.append(tok.text)
        elif tok.kind == "number":
            try:
                number: int | float = int(tok.text, 0) if "." not in tok.text else float(tok.text)
            except ValueError:
                continue
            if i and tokens[i - 1].is_punct("-"):
                number = -number
            values += [number, number + 1, number - 1]
    return values


@dataclass
class _Group:
    """Columns whose values are chosen together (one column, or one foreign key's columns)."""

    columns: tuple[str, ...]
    candidates: list[tuple[Candidate, ...]]
    foreign_key: bool = False
    distinctive: int = 0  # how many of the first candidates are this row's own values


class _Seeder:
    def __init__(self, conn: sqlite3.Connection, clock: _Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._serial = 0

    def distinctive(self, table: _Table, column: _Column) -> list[Value]:
        """Values of this cell only. Text starts with a space and has capitals, so that
        ``trim`` and ``lower`` change it; without the space in case a CHECK forbids it."""
        self._serial += 1
        affinity = _affinity(table, column)
        if affinity == "INTEGER":
            return [7_340_000_000 + self._serial]
        if affinity == "REAL":
            return [7_340_000_000.25 + self._serial]
        text = f"Canary-{self._serial} {column.name}"
        if affinity == "BLOB":
            return [text.encode()]
        return [" " + text, text]

    def _foreign_key_groups(self, table: _Table, k: int) -> list[_Group]:
        rows = self._conn.execute(
            'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
            (table.name,),
        ).fetchall()
        by_id: dict[int, list[tuple[str, str, str | None]]] = {}
        for fk_id, parent, child_col, parent_col in rows:
            by_id.setdefault(int(fk_id), []).append((str(parent), str(child_col), parent_col))
        groups: list[_Group] = []
        taken: set[str] = set()
        for refs in by_id.values():
            parent = refs[0][0]
            children = tuple(child for _, child, _ in refs)
            if taken.intersection(fold(c) for c in children):
                continue
            taken.update(fold(c) for c in children)
            targets = [str(to) if to is not None else "" for _, _, to in refs]
            candidates = self._parent_keys(parent, targets, k)
            nullable = all(
                (col := table.column(c)) is None or not col.notnull for c in children
            )
            if nullable:
                candidates.append(tuple(None for _ in children))
            groups.append(_Group(children, candidates, foreign_key=True))
        return groups

    def _parent_keys(self, parent: str, targets: list[str], k: int) -> list[tuple[Candidate, ...]]:
        if not all(targets):  # REFERENCES parent: its primary key
            pk = self._conn.execute(
                "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (parent,)
            ).fetchall()
            targets = [str(name) for (name,) in pk] or ["rowid"]
        columns = ", ".join(_quote(t) if t != "rowid" else "rowid" for t in targets)
        query = f"SELECT DISTINCT {columns} FROM {_quote(parent)}"
        try:  # the newest rows first: the parent's canary rows of this round
            rows = self._conn.execute(f"{query} ORDER BY rowid DESC LIMIT 12").fetchall()
        except sqlite3.Error:  # WITHOUT ROWID
            try:
                rows = self._conn.execute(f"{query} LIMIT 12").fetchall()
            except sqlite3.Error:
                return []
        keys = [tuple(row) for row in rows]
        k %= max(len(keys), 1)
        return keys[k:] + keys[:k]  # each canary row a different parent, where there are several

    def _groups(self, table: _Table, k: int) -> list[_Group]:
        groups = self._foreign_key_groups(table, k)
        in_fk = {fold(c) for g in groups for c in g.columns}
        literals = _literals(table.sql)
        for column in table.columns:
            if fold(column.name) in in_fk:
                continue
            own = self.distinctive(table, column)
            values: list[Candidate] = [*own, OMIT, *literals, *_FALLBACKS]
            if not column.notnull:
                values.append(None)
            unique: list[Candidate] = []
            for value in values:
                if not any(type(value) is type(u) and value == u for u in unique):
                    unique.append(value)
            groups.append(_Group((column.name,), [(v,) for v in unique], distinctive=len(own)))
        return groups

    def insert(self, table: _Table, k: int) -> _Placed | str:
        """Insert canary row ``k`` of ``table``; where it is, or why no row fits."""
        groups = self._groups(table, k)
        choice = [0] * len(groups)
        error = "no candidate values"
        for _ in range(MAX_INSERT_ATTEMPTS):
            chosen: dict[str, Candidate] = {}
            for group, i in zip(groups, choice, strict=True):
                if group.candidates:
                    chosen.update(zip(group.columns, group.candidates[i], strict=True))
            given = {c: v for c, v in chosen.items() if not isinstance(v, _Omit)}
            try:
                cursor = self._conn.execute(_insert_sql(table, list(given)), list(given.values()))
            except sqlite3.Error as exc:
                if self._clock.timed_out:
                    raise
                error = str(exc)
                if not _next_choice(choice, groups, _culprits(error, table, groups)):
                    return error
                continue
            first = {
                fold(g.columns[0]): tuple(c[0] for c in g.candidates[: g.distinctive])
                for g in groups
            }
            if not table.without_rowid:
                return _Placed("rowid = ?", [cursor.lastrowid], first)
            given_by_key = {fold(c): v for c, v in given.items()}
            keys = [c.name for c in table.columns if c.pk]
            where = " AND ".join(f"{_quote(key)} IS ?" for key in keys)
            return _Placed(where, [given_by_key.get(fold(key)) for key in keys], first)
        return error

    def read(self, table: _Table, placed: _Placed) -> tuple[dict[str, Value], frozenset[str]] | None:
        """A placed row's values now, and its columns that still hold their distinctive value."""
        names = [c.name for c in table.columns]
        select = ", ".join(_quote(n) for n in names)
        row = self._conn.execute(
            f"SELECT {select} FROM {_main(table.name)} WHERE {placed.where} LIMIT 1",
            placed.params,
        ).fetchone()
        if row is None:
            return None
        values: dict[str, Value] = dict(zip(names, row, strict=True))
        distinctive = frozenset(
            name
            for name, value in values.items()
            if any(
                type(own) is type(value) and own == value
                for own in placed.first.get(fold(name), ())
            )
        )
        return values, distinctive


@dataclass(frozen=True)
class _Placed:
    """Where a canary row was inserted, and the distinctive values it was given."""

    where: str
    params: list[Value]
    first: dict[str, tuple[Candidate, ...]]  # folded column -> its distinctive candidates


def _insert_sql(table: _Table, columns: list[str]) -> str:
    if not columns:
        return f"INSERT INTO {_main(table.name)} DEFAULT VALUES"
    names = ", ".join(_quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {_main(table.name)} ({names}) VALUES ({marks})"


def _culprits(error: str, table: _Table, groups: list[_Group]) -> list[int]:
    """The groups whose values SQLite's error message blames, in column order."""
    index = {fold(c): i for i, g in enumerate(groups) for c in g.columns}
    everything = list(range(len(groups)))
    detail = error.split(": ", 1)[1] if ": " in error else ""
    named: list[str] = []
    if error.startswith(("NOT NULL constraint failed", "UNIQUE constraint failed")):
        named = [part.rsplit(".", 1)[-1] for part in detail.split(", ")]
    elif error.startswith("CHECK constraint failed"):
        named = [t.text for t in lex(detail) if t.kind in ("word", "quoted")]
        if not any(fold(n) in index for n in named):
            named = _named_check(table.sql, detail)
    elif error.startswith(_FOREIGN_KEY_ERROR):
        return [i for i, g in enumerate(groups) if g.foreign_key] or everything
    elif error.startswith("cannot store"):
        named = [error.rsplit(".", 1)[-1]]
    elif "datatype mismatch" in error:
        named = [c.name for c in table.columns if c.pk]
    found = sorted({index[fold(n)] for n in named if fold(n) in index})
    return found or everything


def _named_check(sql: str, name: str) -> list[str]:
    """The identifiers inside ``CONSTRAINT name CHECK (...)`` of a CREATE TABLE."""
    tokens = list(lex(sql))
    for i, tok in enumerate(tokens[:-2]):
        if tok.is_name and fold(tok.text) == fold(name) and tokens[i + 1].is_word("CHECK"):
            depth, names = 0, []
            for t in tokens[i + 2 :]:
                depth += t.is_punct("(") - t.is_punct(")")
                if t.kind in ("word", "quoted"):
                    names.append(t.text)
                if depth == 0:
                    break
            return names
    return []


def _next_choice(choice: list[int], groups: list[_Group], culprits: Iterable[int]) -> bool:
    """Advance the culprit groups' choices like an odometer; False when all were tried.

    Groups still at their first (distinctive) value move first: when a CHECK such as
    ``discount <= price`` fails after ``price`` was moved off its value to satisfy another
    constraint, ``discount`` is the one to change.
    """
    for g in sorted(culprits, key=lambda g: (choice[g], g)):
        if choice[g] + 1 < len(groups[g].candidates):
            choice[g] += 1
            return True
        choice[g] = 0
    return False


def _parents_first(places: list[_Place], tables: dict[str, _Table], conn: sqlite3.Connection) -> list[_Place]:
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
        self._seeder = _Seeder(self._canary_db, self._clock)
        self._places: list[_Place] = []
        self._canaries: list[_Canary] = []
        self._notes: list[tuple[int, Finding]] = []  # (file index, finding)
        self._files: list[str] = []
        self._tables: dict[str, _Table] = {}
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

    def _read_tables(self) -> dict[str, _Table]:
        version = int(self._canary_db.execute("PRAGMA schema_version").fetchone()[0])
        if version != self._tables_version:
            self._tables = _read_tables(self._canary_db, self._ignore)
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
        placed: list[tuple[_Place, _Table, _Placed]] = []
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

    def _intact(self, tables: dict[str, _Table]) -> set[int]:
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
                    f"t.{_quote(f.name)} IS c.v{i + 1}" for i, f in enumerate(found) if f
                )
                sql = (
                    f"WITH c({names}) AS (VALUES {rows}) SELECT c.v0 FROM c WHERE EXISTS "
                    f"(SELECT 1 FROM {_main(table.name)} AS t WHERE {match})"
                )
                params: list[Value] = []
                for index, canary in enumerate(chunk):
                    params += [index, *(canary.values[c] for c in columns)]
                for (index,) in self._canary_db.execute(sql, params):
                    intact.add(id(chunk[int(index)]))
        return intact

    def _rebaseline(self, canary: _Canary, tables: dict[str, _Table]) -> None:
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
        select = ", ".join(_quote(now) for now in columns.values())
        where = " AND ".join(f"{_quote(columns[c])} IS ?" for c in keys)
        row = self._canary_db.execute(
            f"SELECT {select} FROM {_main(table.name)} WHERE {where} LIMIT 1",
            [canary.values[c] for c in keys],
        ).fetchone()
        if row is not None:
            canary.values.update(zip(columns, row, strict=True))

    def _lost(self, canary: _Canary, tables: dict[str, _Table]) -> frozenset[str]:
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
        conn, source = self._canary_db, _main(table.name)
        if present:
            where = " AND ".join(f"{_quote(now)} IS ?" for now in present.values())
            params = [canary.values[c] for c in present]
            if conn.execute(f"SELECT 1 FROM {source} WHERE {where} LIMIT 1", params).fetchone():
                return frozenset(missing)
        keys = [c for c in present if c in canary.distinctive]
        if not keys:
            return frozenset({ROW}) if present else frozenset(missing)
        same = ", ".join(f"({_quote(now)} IS ?)" for now in present.values())
        anywhere = " OR ".join(f"{_quote(present[c])} IS ?" for c in keys)
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

    def _renames(self, place: _Place, tables: dict[str, _Table]) -> list[tuple[int, Finding]]:
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


def _loss(place: _Place, aspect: str, where: _Where, tables: dict[str, _Table]) -> Finding:
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
