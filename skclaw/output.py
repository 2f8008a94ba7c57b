"""The only printer.

People get rich text on stderr; with ``--json`` stdout carries exactly one JSON envelope and
nothing else. Every string passes through :func:`skclaw.redact.redact` on its way out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from skclaw.redact import redact

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Output:
    json_mode: bool = False
    color: bool = True
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    _console: Console | None = field(default=None, init=False, repr=False)
    _result_console: Console | None = field(default=None, init=False, repr=False)
    _envelope_written: bool = field(default=False, init=False, repr=False)

    @property
    def console(self) -> Console:
        """rich Console on stderr, created on first use (rich is not needed for --help)."""
        if self._console is None:
            from rich.console import Console

            no_color = not self.color or "NO_COLOR" in os.environ
            self._console = Console(
                file=self.stderr,
                no_color=no_color,
                highlight=False,
                soft_wrap=True,
                force_terminal=None if not no_color else False,
            )
        return self._console

    @property
    def result_console(self) -> Console:
        """Where a command's human-readable result goes: stdout, so it can be piped (with --json
        stdout holds only the envelope, so the result is shown on stderr instead)."""
        if self.json_mode:
            return self.console
        if self._result_console is None:
            from rich.console import Console

            no_color = not self.color or "NO_COLOR" in os.environ
            self._result_console = Console(
                file=self.stdout, no_color=no_color, highlight=False, soft_wrap=True,
                force_terminal=None if not no_color else False,
            )
        return self._result_console

    def result(self, markup: str) -> None:
        """One line of a command's result (rich markup; escape user text), redacted."""
        self.result_console.print(redact(markup))

    # -- human output (stderr) -------------------------------------------------------------
    def _print(self, markup: str, text: str) -> None:
        from rich.markup import escape

        self.console.print(markup.format(escape(redact(text))))

    def info(self, text: str) -> None:
        if self.verbosity >= 0:
            self._print("{}", text)

    def step(self, text: str) -> None:
        if self.verbosity >= 0:
            self._print("[bold]•[/bold] {}", text)

    def success(self, text: str) -> None:
        if self.verbosity >= 0:
            self._print("[green]✔[/green] {}", text)

    def warn(self, text: str) -> None:
        self._print("[yellow]warning:[/yellow] {}", text)

    def error(self, text: str) -> None:
        self._print("[red bold]error:[/red bold] {}", text)

    def detail(self, text: str) -> None:
        """Shown with -v only."""
        if self.verbosity >= 1:
            self._print("[dim]{}[/dim]", text)

    def banner(self, text: str) -> None:
        """A loud label (e.g. LOCAL vs REMOTE target)."""
        if self.verbosity >= 0:
            self._print("[reverse bold] {} [/reverse bold]", text)

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        from rich.table import Table

        table = Table(title=redact(title) if title else None, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(redact(str(cell)) for cell in row))
        self.console.print(table)

    # -- data (stdout) ----------------------------------------------------------------------
    def print_value(self, text: str) -> None:
        """A value the user explicitly asked to see on stdout (e.g. rotate --print-value).

        Deliberately not redacted: it is the one place a secret is meant to be shown.
        """
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def envelope(
        self,
        command: str,
        exit_code: int,
        result: Any,
        error: dict[str, str] | None,
        *,
        reveal_values: bool = False,
    ) -> None:
        if not self.json_mode or self._envelope_written:
            return
        self._envelope_written = True
        document = {
            "ok": exit_code == 0,
            "command": command,
            "exitCode": exit_code,
            "result": result,
            "error": error,
        }
        text = json.dumps(document, ensure_ascii=False, default=str)
        if not reveal_values:  # only rotate --print-value --json asks to carry values
            text = redact(text)
        self.stdout.write(text + "\n")
        self.stdout.flush()
