"""Append-only audit trail: `.skclaw/audit.jsonl` in the project, names and outcomes only."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skclaw.errors import SkclawError

if TYPE_CHECKING:
    from skclaw.results import CommandResult

_lock = threading.Lock()


@cache
def actor() -> str:
    from skclaw import process

    try:
        email = process.run(["git", "config", "user.email"], timeout=5).stdout.strip()
    except (OSError, process.Aborted):  # no git, or interrupted: the audit is still written
        email = ""
    if email:
        return email
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    project_dir: Path,
    *,
    command: str,
    env: str,
    worker: str | None,
    outcome: str,
    keys: Sequence[str] = (),
    **extra: Any,
) -> None:
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "actor": actor(),
        "command": command,
        "env": env,
        "worker": worker,
        "keys": sorted(keys),
        "outcome": outcome,
        **extra,
    }
    with _lock:
        try:
            fd = _open_trail(project_dir)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        except (OSError, SkclawError) as exc:
            # The audit trail must never turn a done change into a failure; the run warns instead.
            _failures.append(getattr(exc, "message", None) or str(exc))


_failures: list[str] = []


def _open_trail(project_dir: Path) -> int:
    from skclaw.statedir import open_state_file

    return open_state_file(project_dir, "audit.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def take_failures() -> list[str]:
    """Audit writes that failed since the last call (distinct messages), for one warning."""
    with _lock:
        found = list(dict.fromkeys(_failures))
        _failures.clear()
    return found


def record_result(project_dir: Path, result: CommandResult) -> None:
    """The audit records of a command's result (the one place commands' records are written)."""
    for entry in result.audit_entries():
        record(project_dir, command=entry.command, env=entry.env, worker=entry.worker, outcome=entry.outcome,
               keys=entry.keys, **entry.details)
