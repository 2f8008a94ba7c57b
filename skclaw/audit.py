"""Append-only audit trail: `.skclaw/audit.jsonl` in the project, names and outcomes only."""

from __future__ import annotations

import getpass
import json
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

_lock = threading.Lock()


@cache
def actor() -> str:
    from skclaw import process

    try:
        email = process.run(["git", "config", "user.email"], timeout=5).stdout.strip()
    except FileNotFoundError:
        email = ""
    if email:
        return email
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
    directory = project_dir / ".skclaw"
    with _lock:
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(directory / "audit.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        except OSError:
            pass  # the audit trail must never turn a done change into a failure
