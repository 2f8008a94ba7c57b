"""Run skclaw in-process the way a user would, capturing stdout, stderr and the exit code.

The one in-process way tests run skclaw. Where a real process is the point, tests/hardening.py's
``run_skclaw`` runs `.venv/bin/skclaw` (no terminal) and returns the same :class:`Run` shape;
pexpect drives it in a real pseudo-terminal (the ``pty`` tests)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from skclaw import process, redact
from skclaw.cli import main


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def envelope(self) -> dict[str, Any]:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"stdout must hold exactly one JSON object, got: {self.stdout!r}"
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value

    @property
    def result(self) -> dict[str, Any]:
        value = self.envelope["result"]
        assert isinstance(value, dict), self.stdout
        return value

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def skclaw(
    args: Sequence[str],
    *,
    project: Path | None = None,
    wrangler: Path | None = None,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
) -> Run:
    argv: list[str] = []
    if project is not None:
        argv += ["-C", str(project)]
    if wrangler is not None:
        argv += ["--wrangler", str(wrangler)]
    argv += list(args)
    runner = CliRunner()
    process.reset_abort()
    with runner.isolation(input=input if input is not None else "", env=env) as (out, err, _):
        try:
            code = main(argv)
        finally:  # what was written but is still buffered in the text wrappers (click's invoke does this too)
            sys.stdout.flush()
            sys.stderr.flush()
    return Run(code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"))


def reset_redaction() -> None:
    redact.forget_all()
