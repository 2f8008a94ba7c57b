"""Offline lint of pending D1 migrations: would applying them destroy data?

``skclaw migrate`` asks this module before the safety gate. It replays the applied migrations into
an in-memory SQLite database (stdlib :mod:`sqlite3`, no wrangler, no network), then runs each
pending file one statement at a time and compares the schema before and after. Statement text is
also checked on its own for row-level damage that the schema cannot show.

Finding codes (stable). ``Finding.destructive`` (the change needs the destructive consent of
DESIGN.md) is true for all but the two ``rename-*`` codes. Tables named ``sqlite_*`` or ``_cf_*``,
the migrations table and ``ignore_tables`` are never reported.

``drop-table``
    A table that existed before the file is gone at its end, or was dropped and created again
    under the same name without its rows being copied (``INSERT ... SELECT`` / ``CREATE TABLE ...
    AS SELECT``) from the old table.
``drop-column``
    A column of a table that survives the file is gone: ``ALTER TABLE t DROP COLUMN c``, or
    SQLite's rebuild (``CREATE TABLE new_t (fewer columns)``; ``INSERT INTO new_t SELECT ... FROM
    t``; ``DROP TABLE t``; ``ALTER TABLE new_t RENAME TO t``), which is a rebuild, not a drop of
    ``t``, because ``new_t`` got ``t``'s rows and ends with ``t``'s name.
``rename-table`` / ``rename-column`` (informational)
    ``ALTER TABLE a RENAME TO b`` / ``ALTER TABLE t RENAME COLUMN a TO b``. Columns lost as well
    are reported as ``drop-column``.
``delete-without-where`` / ``update-without-where``
    A top-level ``DELETE FROM t`` / ``UPDATE t SET ...`` (optionally after ``WITH``) with no
    ``WHERE`` at parenthesis depth 0; a ``WHERE`` inside a subquery does not count. Statements
    inside ``CREATE TRIGGER`` bodies are not run by the migration and are not checked.
``not-null-without-default``
    ``ALTER TABLE t ADD COLUMN c ... NOT NULL`` with no default (or ``DEFAULT NULL``). SQLite
    (and so D1) rejects it when ``t`` has rows, so it is found statically. If it fails in the
    replay because the replayed ``t`` has rows, the finding stands and the statement is skipped so
    the rest of the file is still checked; any other replay failure is a ``UsageError``.

A file that does not replay, an unreadable or non-UTF-8 file, a name that is not a plain file name
and a missing directory are :class:`~skclaw.errors.UsageError` (exit 2): the lint cannot vouch
for what it could not run, so it refuses rather than guessing "not destructive". For the same
reason an applied migration missing from the directory is an error, not a skip.

The replay mirrors D1 where that matters: ``PRAGMA foreign_keys = ON``, and wrangler's
migrations table exists. ``ATTACH`` and ``VACUUM INTO`` are disabled (nothing is written
outside memory) and each file has a time budget, so a runaway recursive query cannot hang a run.

Each pending file is judged on its own, as wrangler applies it: a copy made in an earlier file
does not make a later ``DROP TABLE`` safe (rows written in between would be lost).

Limits: only the schema is compared (the replay holds only rows the migrations insert), so a
rebuild that copies just some rows, or ``INSERT OR REPLACE``, is not reported.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import string
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skclaw.errors import UsageError

DROP_TABLE = "drop-table"
DROP_COLUMN = "drop-column"
RENAME_TABLE = "rename-table"
RENAME_COLUMN = "rename-column"
DELETE_WITHOUT_WHERE = "delete-without-where"
UPDATE_WITHOUT_WHERE = "update-without-where"
NOT_NULL_WITHOUT_DEFAULT = "not-null-without-default"

NON_DESTRUCTIVE_CODES = frozenset({RENAME_TABLE, RENAME_COLUMN})

DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
DEFAULT_FILE_TIMEOUT = 30.0

# wrangler 4.86 creates this before listing or applying (reference/wrangler.md §7).
_MIGRATIONS_TABLE_DDL = """CREATE TABLE IF NOT EXISTS {table}(
\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""

_NOT_NULL_ERROR = "NOT NULL column with default value NULL"


@dataclass(frozen=True)
class Finding:
    code: str
    file: str
    message: str
    table: str | None = None
    column: str | None = None

    @property
    def destructive(self) -> bool:
        return self.code not in NON_DESTRUCTIVE_CODES

    def to_json(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "file": self.file,
            "message": self.message,
            "table": self.table,
            "column": self.column,
        }


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}",
            hint="Check the file exists and is readable.",
        ) from exc
    return digest.hexdigest()


# --- file order, as wrangler 4.86 applies it ------------------------------------------------------

# ECMAScript StrWhiteSpaceChar, which parseInt skips.
_JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


def _js_parse_int(text: str) -> float | None:
    """JavaScript ``parseInt(text)`` without a radix; ``None`` stands for NaN."""
    i = 0
    while i < len(text) and text[i] in _JS_WHITESPACE:
        i += 1
    sign = 1
    if i < len(text) and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    radix, digits = 10, string.digits
    if text[i : i + 2] in ("0x", "0X"):
        radix, digits, i = 16, string.hexdigits, i + 2
    j = i
    while j < len(text) and text[j] in digits:
        j += 1
    if j == i:
        return None
    try:
        return sign * float(int(text[i:j], radix))
    except OverflowError:  # JS gives Infinity
        return sign * float("inf")


def _utf16_key(name: str) -> bytes:
    # Array.prototype.toSorted() compares UTF-16 code units, not code points.
    return name.encode("utf-16-be", "surrogatepass")


def list_migration_files(migrations_dir: Path) -> list[str]:
    """Names of the migration files in the order wrangler 4.86 applies them.

    Like wrangler: every entry whose name ends in ``.sql``, sorted by name, then (stably) by
    ``parseInt`` of the part before the first ``_``. Names without a numeric prefix (NaN in
    wrangler, whose comparator then answers "equal" and leaves them where the engine's sort puts
    them) are placed after all numbered ones, in name order.
    """
    try:
        with os.scandir(migrations_dir) as entries:
            names = [entry.name for entry in entries if entry.name.endswith(".sql")]
    except FileNotFoundError as exc:
        raise UsageError(
            f"No migrations present at {migrations_dir}.",
            hint="Create the directory or set migrations_dir in the wrangler config.",
        ) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot read the migrations directory {migrations_dir}: {exc.strerror or exc}",
            hint="Check that migrations_dir in the wrangler config names a readable directory.",
        ) from exc
    names.sort(key=_utf16_key)

    def number_key(name: str) -> tuple[int, float]:
        number = _js_parse_int(name.split("_")[0])
        return (1, 0.0) if number is None else (0, number)

    names.sort(key=number_key)
    return names


# --- SQL text: tokens and statements -------------------------------------------------------------

_SPACE = " \t\n\r\f"
_ID_START = frozenset(string.ascii_letters + "_")
_ID_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(name: str) -> str:
    """SQLite compares identifiers case-insensitively for ASCII letters only."""
    return name.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class _Token:
    kind: str  # "word" (bare identifier or keyword), "quoted" (identifier), "string", "punct"
    text: str  # quoted identifiers and strings are unquoted
    start: int
    end: int
    depth: int = 0  # parenthesis depth within the statement; "(" and ")" carry the outer depth

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def is_punct(self, char: str) -> bool:
        return self.kind == "punct" and self.text == char

    @property
    def is_name(self) -> bool:
        return self.kind in ("word", "quoted", "string")


def _lex(sql: str) -> Iterator[_Token]:
    """SQLite's lexical structure, as far as splitting and keyword checks need it.

    Comments are dropped. Strings ('...'), quoted identifiers ("...", `...`, [...]) keep
    semicolons and keywords inside them out of the way; an unterminated one runs to the end,
    as does an unterminated block comment.
    """
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _SPACE:
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch in "'\"`":
            j = i + 1
            while True:
                k = sql.find(ch, j)
                if k < 0:
                    end, body_end = n, n
                    break
                if sql.startswith(ch * 2, k):
                    j = k + 2
                    continue
                end, body_end = k + 1, k
                break
            kind = "string" if ch == "'" else "quoted"
            yield _Token(kind, sql[i + 1 : body_end].replace(ch * 2, ch), i, end)
            i = end
        elif ch == "[":
            close = sql.find("]", i + 1)
            end, body_end = (n, n) if close < 0 else (close + 1, close)
            yield _Token("quoted", sql[i + 1 : body_end], i, end)
            i = end
        elif ch in _ID_START or ord(ch) >= 0x80:
            j = i + 1
            while j < n and (sql[j] in _ID_CHARS or ord(sql[j]) >= 0x80):
                j += 1
            yield _Token("word", sql[i:j], i, j)
            i = j
        elif ch in string.digits:
            j = i + 1
            while j < n and (sql[j] in _ID_CHARS or sql[j] == "."):
                j += 1
            yield _Token("number", sql[i:j], i, j)
            i = j
        else:
            yield _Token("punct", ch, i, i + 1)
            i += 1


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a migration file."""

    text: str  # exactly what runs, leading comments included
    line: int  # 1-based line of its first token
    tokens: tuple[_Token, ...]  # without the terminating ";"


def _with_depth(tokens: list[_Token]) -> tuple[_Token, ...]:
    out: list[_Token] = []
    depth = 0
    for tok in tokens:
        if tok.is_punct(")"):
            depth = max(depth - 1, 0)
        out.append(_Token(tok.kind, tok.text, tok.start, tok.end, depth))
        if tok.is_punct("("):
            depth += 1
    return tuple(out)


def split_statements(sql: str) -> list[Statement]:
    """Split a migration into statements the way SQLite does.

    A ``;`` outside strings and comments ends a statement when ``sqlite3.complete_statement``
    agrees, which keeps ``CREATE TRIGGER ... BEGIN ...; END;`` whole. Empty statements are dropped.
    """
    statements: list[Statement] = []
    start = 0
    pending: list[_Token] = []

    def emit(end: int) -> None:
        if pending:
            line = sql.count("\n", 0, pending[0].start) + 1
            statements.append(Statement(sql[start:end], line, _with_depth(pending)))

    for tok in _lex(sql):
        if tok.is_punct(";") and sqlite3.complete_statement(sql[start : tok.end]):
            emit(tok.end)
            start, pending = tok.end, []
        else:
            pending.append(tok)
    emit(len(sql))
    return statements


# --- statement-level checks ----------------------------------------------------------------------


def _qualified_name(tokens: Sequence[_Token], i: int) -> tuple[str | None, int]:
    """Read ``name`` or ``schema.name`` at ``tokens[i]``; return the name and the next index."""
    if i >= len(tokens) or not tokens[i].is_name:
        return None, i
    if i + 2 < len(tokens) and tokens[i + 1].is_punct(".") and tokens[i + 2].is_name:
        return tokens[i + 2].text, i + 3
    return tokens[i].text, i + 1


def _verb_index(tokens: Sequence[_Token]) -> int | None:
    """Index of the statement's verb, past a leading ``WITH`` clause."""
    if not tokens:
        return None
    if not tokens[0].is_word("WITH"):
        return 0
    for i, tok in enumerate(tokens[1:], start=1):
        if tok.depth == 0 and tok.is_word("DELETE", "UPDATE", "INSERT", "REPLACE", "SELECT"):
            return i
    return None


def _has_top_level_where(tokens: Sequence[_Token]) -> bool:
    return any(tok.depth == 0 and tok.is_word("WHERE") for tok in tokens)


def _check_statement(stmt: Statement, file: str) -> list[Finding]:
    tokens = stmt.tokens
    verb = _verb_index(tokens)
    if verb is None:
        return []
    head = tokens[verb]
    if head.is_word("DELETE"):
        i = verb + 1
        if i < len(tokens) and tokens[i].is_word("FROM"):
            i += 1
        table, i = _qualified_name(tokens, i)
        if table is not None and not _has_top_level_where(tokens[i:]):
            return [
                Finding(
                    DELETE_WITHOUT_WHERE,
                    file,
                    f"deletes every row of table {table} (DELETE without WHERE, line {stmt.line})",
                    table=table,
                )
            ]
    elif head.is_word("UPDATE"):
        i = verb + 1
        if i + 1 < len(tokens) and tokens[i].is_word("OR"):
            i += 2
        table, i = _qualified_name(tokens, i)
        if table is not None and not _has_top_level_where(tokens[i:]):
            return [
                Finding(
                    UPDATE_WITHOUT_WHERE,
                    file,
                    f"updates every row of table {table} (UPDATE without WHERE, line {stmt.line})",
                    table=table,
                )
            ]
    elif head.is_word("ALTER") and verb + 1 < len(tokens) and tokens[verb + 1].is_word("TABLE"):
        return _check_add_column(stmt, file)
    return []


def _check_add_column(stmt: Statement, file: str) -> list[Finding]:
    tokens = stmt.tokens
    table, i = _qualified_name(tokens, 2)
    if table is None or i >= len(tokens) or not tokens[i].is_word("ADD"):
        return []
    i += 1
    if i < len(tokens) and tokens[i].is_word("COLUMN"):
        i += 1
    if i >= len(tokens) or not tokens[i].is_name:
        return []
    column = tokens[i].text
    rest = tokens[i + 1 :]
    not_null = has_default = generated = False
    for k, tok in enumerate(rest):
        if tok.depth != 0:
            continue
        if tok.is_word("NOT") and k + 1 < len(rest) and rest[k + 1].is_word("NULL"):
            not_null = True
        elif tok.is_word("AS", "GENERATED"):
            generated = True
        elif tok.is_word("DEFAULT"):
            # DEFAULT NULL and DEFAULT (NULL) are no default to SQLite.
            value = [t for t in rest[k + 1 :] if not t.is_punct("(")][:1]
            has_default = not (value and value[0].is_word("NULL"))
    if not not_null or has_default or generated:
        return []
    return [
        Finding(
            NOT_NULL_WITHOUT_DEFAULT,
            file,
            f"adds NOT NULL column {column} to table {table} without a DEFAULT, which fails "
            f"when {table} has rows (line {stmt.line})",
            table=table,
            column=column,
        )
    ]


def _copy_into(stmt: Statement) -> tuple[str, list[_Token]] | None:
    """``INSERT/REPLACE INTO t ... SELECT ...`` or ``CREATE TABLE t AS SELECT ...``.

    Returns the target table and the tokens after the first ``SELECT`` (where the source tables
    are named), or ``None`` for any other statement.
    """
    tokens = stmt.tokens
    verb = _verb_index(tokens)
    if verb is None:
        return None
    i = verb
    if tokens[i].is_word("INSERT", "REPLACE"):
        while i < len(tokens) and not tokens[i].is_word("INTO"):
            i += 1
        target, i = _qualified_name(tokens, i + 1)
    elif tokens[i].is_word("CREATE"):
        while i < len(tokens) and not tokens[i].is_word("TABLE", "VIEW", "INDEX", "TRIGGER"):
            i += 1
        if i >= len(tokens) or not tokens[i].is_word("TABLE"):
            return None
        i += 1
        if i + 2 < len(tokens) and tokens[i].is_word("IF"):
            i += 3  # IF NOT EXISTS
        target, i = _qualified_name(tokens, i)
        if i >= len(tokens) or not tokens[i].is_word("AS"):
            return None
    else:
        return None
    for k in range(i, len(tokens)):
        if tokens[k].is_word("SELECT"):
            return (target, list(tokens[k + 1 :])) if target is not None else None
    return None


# --- schema snapshots and lineage ----------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]

    @property
    def column_keys(self) -> tuple[str, ...]:
        return tuple(_fold(c) for c in self.columns)


_Schema = dict[str, _Table]  # folded table name -> table


@dataclass
class _Lineage:
    """Where a table of the current schema came from, within one migration file."""

    origin: str | None  # folded name in the file's starting schema; None if made by this file
    columns: dict[str, str | None]  # folded current column -> starting column name (None: new)
    sources: set[str] = field(default_factory=set)  # starting tables whose rows were copied in


class _Replay:
    def __init__(self, ignore: frozenset[str], migrations_table: str, timeout: float) -> None:
        self._ignore = ignore
        self._timeout = timeout
        self._deadline = float("inf")
        self._timed_out = False
        self._schema_version: int | None = None
        self._schema: _Schema = {}
        self._conn = sqlite3.connect(":memory:", isolation_level=None)
        # No ATTACH, and so no VACUUM INTO: the replay never writes outside memory.
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self._conn.set_progress_handler(self._progress, 10_000)
        self._conn.execute("PRAGMA foreign_keys = ON")  # D1 enforces foreign keys
        quoted = '"' + migrations_table.replace('"', '""') + '"'
        self._conn.execute(_MIGRATIONS_TABLE_DDL.format(table=quoted))
        try:
            self._conn.execute("SELECT 1 FROM pragma_table_list LIMIT 1").fetchall()
            self._has_table_list = True
        except sqlite3.Error:  # SQLite < 3.37
            self._has_table_list = False

    def close(self) -> None:
        self._conn.close()

    def _progress(self) -> int:
        if time.monotonic() > self._deadline:
            self._timed_out = True
            return 1
        return 0

    def start_file(self) -> None:
        self._deadline = time.monotonic() + self._timeout
        self._timed_out = False

    def run(self, stmt: Statement) -> None:
        cursor = self._conn.execute(stmt.text)
        for _row in cursor:  # step SELECTs and RETURNING to the end
            pass

    def finish_file(self) -> None:
        if self._conn.in_transaction:  # a BEGIN without COMMIT
            self._conn.execute("COMMIT")

    @property
    def timed_out(self) -> bool:
        return self._timed_out

    @property
    def timeout(self) -> float:
        return self._timeout

    def schema(self) -> _Schema:
        """Tables of ``main`` in creation order (without shadow, internal and ignored tables)."""
        version = int(self._conn.execute("PRAGMA schema_version").fetchone()[0])
        if version == self._schema_version:
            return self._schema
        hidden: set[str] = set()
        if self._has_table_list:  # FTS and other virtual tables keep their rows in shadow tables
            rows = self._conn.execute(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'"
            ).fetchall()
            hidden = {str(name) for (name,) in rows}
        query = "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY rowid"
        schema: _Schema = {}
        for (name,) in self._conn.execute(query).fetchall():
            key = _fold(name)
            if key.startswith(("sqlite_", "_cf_")) or key in self._ignore or name in hidden:
                continue
            columns = self._conn.execute(
                "SELECT name FROM pragma_table_info(?, 'main') ORDER BY cid", (name,)
            ).fetchall()
            schema[key] = _Table(name, tuple(str(c) for (c,) in columns))
        self._schema_version, self._schema = version, schema
        return schema


def _advance(lineage: dict[str, _Lineage], before: _Schema, after: _Schema) -> None:
    """Carry table and column identities across one statement."""
    gone = [k for k in before if k not in after]
    new = [k for k in after if k not in before]
    if (
        len(gone) == 1
        and len(new) == 1
        and before[gone[0]].column_keys == after[new[0]].column_keys
    ):
        # Only ALTER TABLE ... RENAME TO removes one table and adds another in one statement.
        lineage[new[0]] = lineage.pop(gone[0])
    else:
        for key in gone:
            del lineage[key]
        for key in new:
            lineage[key] = _Lineage(None, dict.fromkeys(after[key].column_keys))
    for key in before.keys() & after.keys():
        old_cols, new_cols = before[key].column_keys, after[key].column_keys
        if old_cols == new_cols:
            continue
        columns = lineage[key].columns
        removed = [c for c in old_cols if c not in new_cols]
        added = [c for c in new_cols if c not in old_cols]
        if (
            len(removed) == 1
            and len(added) == 1
            and old_cols.index(removed[0]) == new_cols.index(added[0])
        ):
            # RENAME COLUMN keeps the position; DROP and ADD cannot both happen in one statement.
            columns[added[0]] = columns.pop(removed[0])
            continue
        for col in removed:
            columns.pop(col, None)
        for col in added:
            columns[col] = None


def _record_copy(
    lineage: dict[str, _Lineage], schema: _Schema, target: str, source_tokens: list[_Token]
) -> None:
    target_key = _fold(target)
    if target_key not in lineage:
        return
    sources = lineage[target_key].sources
    for tok in source_tokens:
        key = _fold(tok.text)
        src = lineage.get(key)
        if tok.kind in ("word", "quoted") and key in schema and key != target_key and src:
            if src.origin is not None:
                sources.add(src.origin)
            sources |= src.sources


def _schema_findings(
    file: str, start: _Schema, end: _Schema, lineage: dict[str, _Lineage]
) -> list[Finding]:
    findings: list[Finding] = []
    alive = {lin.origin: key for key, lin in lineage.items() if lin.origin is not None}
    for origin, table in start.items():
        if origin in alive:
            key = alive[origin]
            now = end[key]
            if key != origin:
                findings.append(
                    Finding(
                        RENAME_TABLE,
                        file,
                        f"renames table {table.name} to {now.name}",
                        table=table.name,
                    )
                )
            current_of = {
                _fold(start_col): current
                for current, start_col in lineage[key].columns.items()
                if start_col is not None
            }
            current_names = dict(zip(now.column_keys, now.columns, strict=True))
            for col in table.columns:
                current = current_of.get(_fold(col))
                if current is None:
                    findings.append(_drop_column(file, table.name, col))
                elif current != _fold(col):
                    findings.append(
                        Finding(
                            RENAME_COLUMN,
                            file,
                            f"renames column {col} of table {table.name} "
                            f"to {current_names[current]}",
                            table=table.name,
                            column=col,
                        )
                    )
        elif origin in end and origin in lineage[origin].sources:
            # Rebuilt: a new table got this table's rows and then its name.
            kept = set(end[origin].column_keys)
            findings.extend(
                _drop_column(file, table.name, col)
                for col in table.columns
                if _fold(col) not in kept
            )
        else:
            message = f"drops table {table.name}"
            if origin in end:
                message += " and creates it again without copying its rows"
            findings.append(Finding(DROP_TABLE, file, message, table=table.name))
    return findings


def _drop_column(file: str, table: str, column: str) -> Finding:
    return Finding(
        DROP_COLUMN, file, f"drops column {column} of table {table}", table=table, column=column
    )


# --- the lint -------------------------------------------------------------------------------------


def _read_migration(migrations_dir: Path, name: str, role: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(
            f"{role} migration name {name!r} is not a file name in {migrations_dir}",
            hint="Migration names are plain file names such as 0001_init.sql.",
        )
    path = migrations_dir / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        hint = (
            "The database lists it as applied; restore the file so its schema can be replayed."
            if role == "applied"
            else "Run the lint on the files that are in the migrations directory."
        )
        raise UsageError(f"{role} migration {name} is not in {migrations_dir}", hint=hint) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot read migration {name}: {exc.strerror or exc}",
            hint=f"Check {path} is a readable file.",
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"migration {name} is not valid UTF-8 (byte {exc.start})",
            hint="Save the file as UTF-8.",
        ) from exc
    if "\0" in text:
        raise UsageError(
            f"migration {name} contains a NUL character", hint="Remove it from the file."
        )
    return text


def _run_file(
    replay: _Replay,
    name: str,
    role: str,
    statements: list[Statement],
    lineage: dict[str, _Lineage] | None,
) -> list[Finding]:
    """Run one file statement by statement; with ``lineage``, track it and check statements."""
    findings: list[Finding] = []
    replay.start_file()
    for stmt in statements:
        static = _check_statement(stmt, name)
        findings.extend(static)
        try:
            before = replay.schema() if lineage is not None else {}
            try:
                replay.run(stmt)
            except (sqlite3.Error, sqlite3.Warning) as exc:
                if _NOT_NULL_ERROR in str(exc) and any(
                    f.code == NOT_NULL_WITHOUT_DEFAULT for f in static
                ):
                    continue  # reported already; check the rest of the file without it
                raise
            if lineage is None:
                continue
            after = replay.schema()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            detail = f"took longer than {replay.timeout:g} s" if replay.timed_out else str(exc)
            raise UsageError(
                f"{role} migration {name} does not replay: line {stmt.line}: {detail}",
                hint=f"Fix {name} so that it runs on SQLite, then try again.",
            ) from exc
        if after is not before:
            _advance(lineage, before, after)
        copy = _copy_into(stmt)
        if copy is not None:
            _record_copy(lineage, before, *copy)
    try:
        replay.finish_file()
    except sqlite3.Error as exc:
        raise UsageError(
            f"{role} migration {name} does not replay: {exc}",
            hint=f"Fix {name} so that it runs on SQLite, then try again.",
        ) from exc
    return findings


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
    not reported either. ``timeout`` bounds the replay of each file, in seconds.
    """
    if not migrations_dir.is_dir():
        raise UsageError(
            f"No migrations present at {migrations_dir}.",
            hint="Create the directory or set migrations_dir in the wrangler config.",
        )
    ignore = frozenset(_fold(t) for t in (*ignore_tables, DEFAULT_MIGRATIONS_TABLE))
    ignore |= {_fold(migrations_table)}
    files = [(name, "applied") for name in applied] + [(name, "pending") for name in pending]
    texts = {name: _read_migration(migrations_dir, name, role) for name, role in files}

    replay = _Replay(ignore, migrations_table, timeout)
    try:
        for name in applied:
            _run_file(replay, name, "applied", split_statements(texts[name]), None)
        findings: list[Finding] = []
        for name in pending:
            try:
                start = replay.schema()
            except sqlite3.Error as exc:
                raise UsageError(
                    f"the schema before migration {name} cannot be read: {exc}",
                    hint="An earlier migration left the schema broken; fix it.",
                ) from exc
            lineage = {
                key: _Lineage(key, {c: table.columns[i] for i, c in enumerate(table.column_keys)})
                for key, table in start.items()
            }
            findings += _run_file(replay, name, "pending", split_statements(texts[name]), lineage)
            try:
                end = replay.schema()
            except sqlite3.Error as exc:
                raise UsageError(
                    f"migration {name} leaves a schema that cannot be read: {exc}",
                    hint=f"Fix {name}.",
                ) from exc
            findings += _schema_findings(name, start, end, lineage)
        return findings
    finally:
        replay.close()
