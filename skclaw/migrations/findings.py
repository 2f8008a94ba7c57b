"""What the lint reports about pending migrations.

Codes are stable (they are in ``--json`` output). ``Finding.destructive`` (the change needs the
destructive consent of DESIGN.md) is decided by the replay (:mod:`skclaw.migrations.replay`):

``drop-table``
    A pre-existing table is gone at the end of the pending set, or was dropped and created again
    without the rows it held.
``drop-column``
    A pre-existing column is gone from a table that survives.
``delete-rows``
    Rows of a pre-existing table are gone: ``DELETE`` (with any ``WHERE`` that matches rows the
    migration does not know, ``WHERE 1 = 1`` included), a trigger, a foreign key action,
    ``REPLACE``.
``change-values``
    Values of a pre-existing column changed or became NULL: a lossy ``UPDATE``, a rebuild that
    does not copy a column (or copies it into another one).
``unchecked``
    A statement that could change rows of a table in which the replay could place no canary row;
    reported as destructive because it could not be checked.

Notes (not destructive):

``rename-table`` / ``rename-column``
    ``ALTER TABLE a RENAME TO b`` / ``ALTER TABLE t RENAME COLUMN a TO b`` of a pre-existing
    table or column.
``not-null-without-default`` / ``fails-with-rows``
    A statement that SQLite (and so D1) refuses when the table holds rows, such as ``ADD COLUMN
    ... NOT NULL`` without a default. Applying it fails (D1 rolls the file back); it loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

DROP_TABLE = "drop-table"
DROP_COLUMN = "drop-column"
DELETE_ROWS = "delete-rows"
CHANGE_VALUES = "change-values"
UNCHECKED = "unchecked"
RENAME_TABLE = "rename-table"
RENAME_COLUMN = "rename-column"
NOT_NULL_WITHOUT_DEFAULT = "not-null-without-default"
FAILS_WITH_ROWS = "fails-with-rows"

NON_DESTRUCTIVE_CODES = frozenset(
    {RENAME_TABLE, RENAME_COLUMN, NOT_NULL_WITHOUT_DEFAULT, FAILS_WITH_ROWS}
)


@dataclass(frozen=True)
class Finding:
    """One thing a pending migration does, named by the statement that does it.

    ``table`` and ``column`` are the names before the pending set ran; ``line`` and
    ``statement`` (one line, shortened) locate the statement in ``file``.
    """

    code: str
    file: str
    message: str
    table: str | None = None
    column: str | None = None
    line: int | None = None
    statement: str | None = None

    @property
    def destructive(self) -> bool:
        return self.code not in NON_DESTRUCTIVE_CODES

    def to_json(self) -> dict[str, str | int | bool | None]:
        return {
            "code": self.code,
            "file": self.file,
            "message": self.message,
            "table": self.table,
            "column": self.column,
            "line": self.line,
            "statement": self.statement,
            "destructive": self.destructive,
        }
