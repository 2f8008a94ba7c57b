"""The migration lint against a corpus of real-world-style migration sets.

Each directory of ``tests/migrations_corpus/`` is one D1 migrations directory (drizzle-kit,
Prisma, hand written...) with a ``case.json``: which files are already applied (the rest are
pending, in wrangler's order), whether applying the pending ones loses data, and every finding
as ``[code, file, line, table, column]``, so the statement each one names is checked too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from skclaw.migrations import lint_migrations, list_migration_files

CORPUS = Path(__file__).parent / "migrations_corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").is_file())


def load(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / case / "case.json").read_text())
    return data


def test_the_corpus_covers_the_known_misses_and_false_alarms() -> None:
    assert len(CASES) >= 20
    verdicts = [load(case)["destructive"] for case in CASES]
    assert verdicts.count(True) >= 8 and verdicts.count(False) >= 8


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str) -> None:
    expected = load(case)
    directory = CORPUS / case
    files = list_migration_files(directory)
    applied = expected["applied"]
    assert files[: len(applied)] == applied, "applied files must come first in wrangler's order"
    pending = files[len(applied) :]
    assert pending, "a case needs pending migrations"

    started = time.monotonic()
    findings = lint_migrations(directory, applied, pending)
    elapsed = time.monotonic() - started

    got = [[f.code, f.file, f.line, f.table, f.column] for f in findings]
    assert got == expected["findings"], "\n".join(f.message for f in findings)
    assert any(f.destructive for f in findings) is expected["destructive"]
    for finding in findings:  # the statement is named: its text and where it is
        assert finding.statement and f"(line {finding.line})" in finding.message
        lines = (directory / finding.file).read_text().splitlines()
        first_word = finding.statement.split()[0]
        assert first_word in lines[finding.line - 1], (finding.line, lines[finding.line - 1])
    assert elapsed < 5, f"{case} took {elapsed:.2f} s"
