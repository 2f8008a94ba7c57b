"""The only printer.

People get rich text on stderr; with ``--json`` stdout carries exactly one JSON envelope and
nothing else. Every string passes through :func:`skclaw.redact.redact` on its way out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
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
    _activity: Any = field(default=None, init=False, repr=False)

    def activity(self, label: str) -> AbstractContextManager[Callable[[str], None]]:
        """A live line for a running step (a wrangler call) on a terminal; nothing elsewhere."""
        from skclaw import progress

        if self.json_mode or self.verbosity < 0 or not _isatty(self.stderr):
            return progress.quiet(label)
        if self._activity is None:
            self._activity = progress.Activity(self.console)
        return self._activity.task(label)  # type: ignore[no-any-return]

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
                force_terminal=None,  # NO_COLOR removes colour, not the terminal (spinners stay)
            )
        return self._console

    @property
    def result_console(self) -> Console:
        """Where a command's result goes: stdout for people (so it can be piped), stderr under
        --json (stdout carries only the envelope then)."""
        if self.json_mode:
            return self.console
        if self._result_console is None:
            from rich.console import Console

            no_color = not self.color or "NO_COLOR" in os.environ
            self._result_console = Console(
                file=self.stdout, no_color=no_color, highlight=False, soft_wrap=True,
                force_terminal=None,  # NO_COLOR removes colour, not the terminal (spinners stay)
            )
        return self._result_console

    def result(self, text: str) -> None:
        """A line of the command's result (stdout; stderr under --json). Shown under -q too."""
        from rich.markup import escape

        self.result_console.print(escape(redact(text)))

    def result_markup(self, markup: str) -> None:
        """A result line in rich markup (the caller escapes user text), redacted."""
        self.result_console.print(redact(markup))

    def result_table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        self.table(title, columns, rows, console=self.result_console)

    # -- human output (stderr) -------------------------------------------------------------
    def _print(self, markup: str, text: str) -> None:
        from rich.markup import escape

        self.console.print(markup.format(escape(redact(text))))

    def info(self, text: str, *, always: bool = False) -> None:
        """``always``: part of a plan, shown under -q too (a question never comes without it)."""
        if self.verbosity >= 0 or always:
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

    def banner(self, text: str, *, always: bool = False) -> None:
        """A loud label (e.g. LOCAL vs REMOTE target)."""
        if self.verbosity >= 0 or always:
            self._print("[reverse bold] {} [/reverse bold]", text)

    def destructive(self, text: str) -> None:
        """A destructive item inside a plan: red and marked, shown under -q too."""
        self._print("  [red bold]- destructive: {}[/red bold]", text)

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
              console: Console | None = None) -> None:
        from rich.table import Table

        table = Table(title=redact(title) if title else None, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(redact(str(cell)) for cell in row))
        (console or self.console).print(table)

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
        if not reveal_values:  # only rotate --print-value --json asks to carry values
            # Mask inside strings only: masking the serialised text would turn a value that is
            # also JSON syntax ("true", "name", a year) into broken JSON.
            document = _redact_strings(json.loads(json.dumps(document, ensure_ascii=False, default=str)))
        text = json.dumps(document, ensure_ascii=False, default=str)
        self.stdout.write(text + "\n")
        self.stdout.flush()


def _redact_strings(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_strings(v) for k, v in value.items()}  # keys are field and secret names
    if isinstance(value, list):
        return [_redact_strings(v) for v in value]
    return value


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
