"""SQLite's lexical structure, as far as the lint needs it: statements, names, renames.

Nothing here decides whether a migration is destructive (the replay does); this module only
splits a file the way SQLite runs it and reads what a statement names.
"""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_SPACE = " \t\n\r\f"
_ID_START = frozenset(string.ascii_letters + "_")
_ID_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(name: str) -> str:
    """SQLite compares identifiers case-insensitively for ASCII letters only."""
    return name.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Token:
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


def lex(sql: str) -> Iterator[Token]:
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
            yield Token(kind, sql[i + 1 : body_end].replace(ch * 2, ch), i, end)
            i = end
        elif ch == "[":
            close = sql.find("]", i + 1)
            end, body_end = (n, n) if close < 0 else (close + 1, close)
            yield Token("quoted", sql[i + 1 : body_end], i, end)
            i = end
        elif ch in _ID_START or ord(ch) >= 0x80:
            j = i + 1
            while j < n and (sql[j] in _ID_CHARS or ord(sql[j]) >= 0x80):
                j += 1
            yield Token("word", sql[i:j], i, j)
            i = j
        elif ch in string.digits:
            j = i + 1
            while j < n and (sql[j] in _ID_CHARS or sql[j] == "."):
                j += 1
            yield Token("number", sql[i:j], i, j)
            i = j
        else:
            yield Token("punct", ch, i, i + 1)
            i += 1


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a migration file."""

    text: str  # exactly what runs, leading comments included
    line: int  # 1-based line of its first token
    tokens: tuple[Token, ...]  # without the terminating ";"
    summary: str = ""  # one line without comments, shortened: what a finding quotes

    @property
    def names(self) -> frozenset[str]:
        """Every identifier the statement spells (folded), keywords included."""
        return frozenset(fold(t.text) for t in self.tokens if t.kind in ("word", "quoted"))


SUMMARY_LENGTH = 72


def _summary(sql: str, tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    previous_end: int | None = None
    for tok in tokens:
        if previous_end is not None and tok.start > previous_end:
            parts.append(" ")
        parts.append(sql[tok.start : tok.end])
        previous_end = tok.end
    text = " ".join("".join(parts).split())
    if len(text) > SUMMARY_LENGTH:
        text = text[: SUMMARY_LENGTH - 1].rstrip() + "…"
    return text


def _with_depth(tokens: list[Token]) -> tuple[Token, ...]:
    out: list[Token] = []
    depth = 0
    for tok in tokens:
        if tok.is_punct(")"):
            depth = max(depth - 1, 0)
        out.append(Token(tok.kind, tok.text, tok.start, tok.end, depth))
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
    pending: list[Token] = []

    def emit(end: int) -> None:
        if pending:
            line = sql.count("\n", 0, pending[0].start) + 1
            statements.append(
                Statement(sql[start:end], line, _with_depth(pending), _summary(sql, pending))
            )

    for tok in lex(sql):
        if tok.is_punct(";") and sqlite3.complete_statement(sql[start : tok.end]):
            emit(tok.end)
            start, pending = tok.end, []
        else:
            pending.append(tok)
    emit(len(sql))
    return statements


def qualified_name(tokens: Sequence[Token], i: int) -> tuple[str | None, int]:
    """Read ``name`` or ``schema.name`` at ``tokens[i]``; return the name and the next index."""
    if i >= len(tokens) or not tokens[i].is_name:
        return None, i
    if i + 2 < len(tokens) and tokens[i + 1].is_punct(".") and tokens[i + 2].is_name:
        return tokens[i + 2].text, i + 3
    return tokens[i].text, i + 1


def verb_index(tokens: Sequence[Token]) -> int | None:
    """Index of the statement's verb, past a leading ``WITH`` clause."""
    if not tokens:
        return None
    if not tokens[0].is_word("WITH"):
        return 0
    for i, tok in enumerate(tokens[1:], start=1):
        if tok.depth == 0 and tok.is_word("DELETE", "UPDATE", "INSERT", "REPLACE", "SELECT"):
            return i
    return None


@dataclass(frozen=True)
class Rename:
    """``ALTER TABLE table RENAME TO new_name`` or ``... RENAME [COLUMN] column TO new_name``."""

    table: str
    new_name: str
    column: str | None = None


def rename_of(stmt: Statement) -> Rename | None:
    """The rename an ``ALTER TABLE`` statement makes, if it is one."""
    tokens = stmt.tokens
    if len(tokens) < 2 or not (tokens[0].is_word("ALTER") and tokens[1].is_word("TABLE")):
        return None
    table, i = qualified_name(tokens, 2)
    if table is None or i >= len(tokens) or not tokens[i].is_word("RENAME"):
        return None
    i += 1
    if i < len(tokens) and tokens[i].is_word("TO"):
        new_table, _ = qualified_name(tokens, i + 1)
        return None if new_table is None else Rename(table, new_table)
    if i < len(tokens) and tokens[i].is_word("COLUMN"):
        i += 1
    if i + 2 >= len(tokens) or not tokens[i + 1].is_word("TO"):
        return None
    if not (tokens[i].is_name and tokens[i + 2].is_name):
        return None
    return Rename(table, tokens[i + 2].text, column=tokens[i].text)


_WRITES = frozenset({"DELETE", "UPDATE", "REPLACE", "DROP", "ALTER"})


def may_change_rows_of(stmt: Statement, table: str) -> bool:
    """Could ``stmt`` remove or change rows of ``table``, going by its text alone?

    True for DELETE, UPDATE, REPLACE, DROP, ALTER, INSERT OR REPLACE, upserts and CREATE TRIGGER
    statements that name the table. Only used where the replay cannot tell (no canary rows).
    """
    if fold(table) not in stmt.names:
        return False
    verb = verb_index(stmt.tokens)
    if verb is None:
        return True  # a WITH ... whose verb cannot be found: assume the worst
    head = stmt.tokens[verb]
    if head.kind == "word" and head.text.upper() in _WRITES:
        return True
    if head.is_word("CREATE"):
        return any(t.is_word("TRIGGER") for t in stmt.tokens[verb : verb + 4])
    if head.is_word("INSERT"):
        rest = stmt.tokens[verb + 1 :]
        return any(t.is_word("REPLACE", "CONFLICT") for t in rest)
    return False


def dropped_table(stmt: Statement) -> str | None:
    """The table a ``DROP TABLE [IF EXISTS] name`` statement drops."""
    tokens = stmt.tokens
    if len(tokens) < 3 or not (tokens[0].is_word("DROP") and tokens[1].is_word("TABLE")):
        return None
    i = 4 if tokens[2].is_word("IF") else 2
    return qualified_name(tokens, i)[0]


def added_column(stmt: Statement) -> tuple[str, str] | None:
    """(table, column) of an ``ALTER TABLE table ADD [COLUMN] column ...`` statement."""
    tokens = stmt.tokens
    if len(tokens) < 2 or not (tokens[0].is_word("ALTER") and tokens[1].is_word("TABLE")):
        return None
    table, i = qualified_name(tokens, 2)
    if table is None or i >= len(tokens) or not tokens[i].is_word("ADD"):
        return None
    i += 1
    if i < len(tokens) and tokens[i].is_word("COLUMN"):
        i += 1
    if i >= len(tokens) or not tokens[i].is_name:
        return None
    return table, tokens[i].text
