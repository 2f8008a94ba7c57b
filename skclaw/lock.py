"""Per-(project, env) locks so two skclaw runs on one machine never interleave on one env.

flock(2) on `.skclaw/locks/<env>.lock`: the kernel drops the lock when its holder dies, so a
stale lock of a dead process is recovered by the next run; the file's text says who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from skclaw.errors import FailedError

POLL_SECONDS = 0.2


class EnvLocks:
    """Locks held by this run, released when the run ends (or the process dies)."""

    def __init__(self, project_dir: Path, command: str, timeout: float) -> None:
        self.project_dir = project_dir
        self.directory = project_dir / ".skclaw" / "locks"
        self.command = command
        self.timeout = timeout
        self._held: dict[str, IO[str]] = {}
        self._stack = ExitStack()

    def acquire(self, env: str) -> None:
        if env in self._held:
            return
        from skclaw.statedir import check_state_file, open_state_file

        # A symlinked audit trail is refused here, before anything changes, not after the change.
        check_state_file(self.project_dir, "audit.jsonl")
        path = self.directory / f"{env}.lock"
        fd = open_state_file(self.project_dir, f"{env}.lock", os.O_RDWR | os.O_CREAT, subdir="locks")
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        deadline = time.monotonic() + max(0.0, self.timeout)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _describe_holder(path)
                    handle.close()
                    raise FailedError(
                        f"Environment {env} is locked by another skclaw run ({holder}); nothing was changed.",
                        hint="Wait for it to finish, or raise --lock-timeout.",
                    ) from None
                time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "host": os.uname().nodename, "command": self.command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }))
        handle.flush()
        self._held[env] = handle
        self._stack.callback(self._release, env)

    def _release(self, env: str) -> None:
        handle = self._held.pop(env, None)
        if handle is not None:
            try:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            finally:
                handle.close()

    def release_all(self) -> None:
        self._stack.close()


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text("utf-8") or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    if not info:
        return "holder unknown"
    return (
        f"{info.get('command', '?')}, pid {info.get('pid', '?')} on {info.get('host', '?')} "
        f"since {info.get('since', '?')}"
    )
