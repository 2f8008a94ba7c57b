"""One live line per running wrangler call: env, what, elapsed time, and `retrying 2/3`.

Shown on stderr only when it is a terminal (and not under --json or -q); several calls running in
parallel (one per env) share one live block. ``NO_COLOR`` removes colour, not the spinner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REFRESH_SECONDS = 0.125


@dataclass
class _Task:
    label: str
    started: float = field(default_factory=time.monotonic)
    note: str = ""


class Activity:
    """The live block: tasks come and go from any thread; one renderer thread draws them."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.RLock()  # Live.start() renders (takes it) in the starting thread
        self._tasks: dict[int, _Task] = {}
        self._next = 0
        self._live: Any = None
        self._frame = 0

    def _render(self) -> Any:
        from rich.text import Text

        self._frame += 1
        lines = []
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            spin = SPINNER[self._frame % len(SPINNER)]
            elapsed = time.monotonic() - task.started
            note = f"  {task.note}" if task.note else ""
            lines.append(f"{spin} {task.label} · {elapsed:.1f}s{note}")
        return Text("\n".join(lines))

    @contextmanager
    def task(self, label: str) -> Iterator[Callable[[str], None]]:
        """Show ``label`` while the block runs; yields a function that sets a note (retries)."""
        from rich.live import Live

        with self._lock:
            key = self._next
            self._next += 1
            self._tasks[key] = _Task(label)
            if self._live is None:
                self._live = Live(get_renderable=self._render, console=self._console, transient=True,
                                  refresh_per_second=1 / REFRESH_SECONDS)
                self._live.start()

        def note(text: str) -> None:
            with self._lock:
                if key in self._tasks:
                    self._tasks[key].note = text

        try:
            yield note
        finally:
            with self._lock:
                self._tasks.pop(key, None)
                live, done = self._live, not self._tasks
                if done:
                    self._live = None
            if done and live is not None:
                live.stop()


@contextmanager
def quiet(label: str) -> Iterator[Callable[[str], None]]:
    """No terminal to draw on: nothing is shown."""
    yield lambda _note: None
