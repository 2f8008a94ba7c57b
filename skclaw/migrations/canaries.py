"""Canary rows: distinctive values that fit a table's types and constraints.

The replay (:mod:`skclaw.migrations.replay`) places a few in every pre-existing table and looks
for them after each statement. A value is tried after another when SQLite refuses it: the error
names the constraint, and so the columns whose values to change (an odometer over them, columns
still at their distinctive value first). Foreign keys take values of the parent's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from skclaw.migrations.sql import fold, lex

MAX_INSERT_ATTEMPTS = 150
_FOREIGN_KEY_ERROR = "FOREIGN KEY constraint failed"


def _interrupted(exc: sqlite3.Error) -> bool:
    """The progress handler stopped the statement (the file's time budget is spent)."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted"


Value = str | int | float | bytes | None


class _Omit:
    """Leave the column out of the INSERT, so its DEFAULT applies."""


OMIT = _Omit()
Candidate = Value | _Omit


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


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def main_table(table: str) -> str:
    """A table of ``main``: not a TEMP table of the same name, nor the check's own CTE."""
    return "main." + quote(table)


# --- tables as the canary replay sees them --------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    notnull: bool
    has_default: bool
    pk: int


@dataclass(frozen=True)
class Table:
    name: str
    virtual: bool
    without_rowid: bool
    strict: bool
    sql: str
    columns: tuple[Column, ...]  # without hidden and generated columns

    @cached_property
    def _by_key(self) -> dict[str, Column]:
        return {fold(c.name): c for c in self.columns}

    def column(self, name: str) -> Column | None:
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


def read_tables(conn: sqlite3.Connection, ignore: frozenset[str]) -> dict[str, Table]:
    """User tables of ``main`` in creation order, by folded name."""
    kinds = {
        str(name): (str(kind), bool(wr), bool(strict))
        for name, kind, wr, strict in conn.execute(
            "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'"
        )
    }
    tables: dict[str, Table] = {}
    master = "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' ORDER BY rowid"
    for name, sql in conn.execute(master).fetchall():
        key = fold(name)
        kind, without_rowid, strict = kinds.get(name, ("table", False, False))
        if key.startswith(("sqlite_", "_cf_")) or key in ignore or kind == "shadow":
            continue
        if kind == "virtual" and _content_elsewhere(sql or ""):
            continue
        columns = tuple(
            Column(str(cname), str(ctype or ""), bool(notnull), default is not None, int(pk))
            for cname, ctype, notnull, default, pk, hidden in conn.execute(
                'SELECT name, type, "notnull", dflt_value, pk, hidden '
                "FROM pragma_table_xinfo(?, 'main') ORDER BY cid",
                (name,),
            )
            if not hidden
        )
        tables[key] = Table(
            str(name), kind == "virtual", without_rowid, strict, str(sql or ""), columns
        )
    return tables


# --- placing canary rows --------------------------------------------------------------------------


def _affinity(table: Table, column: Column) -> str:
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


class Seeder:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._serial = 0

    def distinctive(self, table: Table, column: Column) -> list[Value]:
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

    def _foreign_key_groups(self, table: Table, k: int) -> list[_Group]:
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
        columns = ", ".join(quote(t) if t != "rowid" else "rowid" for t in targets)
        query = f"SELECT DISTINCT {columns} FROM {quote(parent)}"
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

    def _groups(self, table: Table, k: int) -> list[_Group]:
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

    def insert(self, table: Table, k: int) -> Placed | str:
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
                if _interrupted(exc):  # out of time: the replay says so
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
                return Placed("rowid = ?", [cursor.lastrowid], first)
            given_by_key = {fold(c): v for c, v in given.items()}
            keys = [c.name for c in table.columns if c.pk]
            where = " AND ".join(f"{quote(key)} IS ?" for key in keys)
            return Placed(where, [given_by_key.get(fold(key)) for key in keys], first)
        return error

    def read(self, table: Table, placed: Placed) -> tuple[dict[str, Value], frozenset[str]] | None:
        """A placed row's values now, and its columns that still hold their distinctive value."""
        names = [c.name for c in table.columns]
        select = ", ".join(quote(n) for n in names)
        row = self._conn.execute(
            f"SELECT {select} FROM {main_table(table.name)} WHERE {placed.where} LIMIT 1",
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
class Placed:
    """Where a canary row was inserted, and the distinctive values it was given."""

    where: str
    params: list[Value]
    first: dict[str, tuple[Candidate, ...]]  # folded column -> its distinctive candidates


def _insert_sql(table: Table, columns: list[str]) -> str:
    if not columns:
        return f"INSERT INTO {main_table(table.name)} DEFAULT VALUES"
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {main_table(table.name)} ({names}) VALUES ({marks})"


def _culprits(error: str, table: Table, groups: list[_Group]) -> list[int]:
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
