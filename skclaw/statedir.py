"""`.skclaw/` in the project: the audit trail, locks (and later plans and release state).

A repository is not trusted: a symlink committed as `.skclaw/audit.jsonl` or
`.skclaw/locks/production.lock` would make skclaw append to, or truncate, a file elsewhere. Every
file here is opened through :func:`open_state_file`, which refuses (exit 2) a symlink at any step
and a `.skclaw` that is not a directory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from skclaw.errors import UsageError

STATE_DIR = ".skclaw"


def _check_dir(path: Path, project_dir: Path) -> None:
    """Create ``path`` (0700) if missing; refuse a symlink or a non-directory there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
    shown = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{shown} is a symlink; skclaw never writes its state through a symlink.",
                         hint=f"Remove it (and keep {STATE_DIR}/ out of the repository: it belongs in .gitignore).")
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{shown} is not a directory; skclaw keeps its audit trail and locks there.",
                         hint="Move the file away, or run skclaw from another project directory.")


def state_path(project_dir: Path, *parts: str) -> Path:
    """The directory ``.skclaw/<parts...>``, created and checked."""
    path = project_dir / STATE_DIR
    _check_dir(path, project_dir)
    for part in parts:
        path = path / part
        _check_dir(path, project_dir)
    return path


def open_state_file(project_dir: Path, name: str, flags: int, *, subdir: str | None = None) -> int:
    """``os.open`` of ``.skclaw/[subdir/]name`` without following a symlink (mode 0600)."""
    directory = state_path(project_dir, *([subdir] if subdir else []))
    path = directory / name
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise UsageError(
                f"{path.relative_to(project_dir)} is a symlink; skclaw never writes its state through a symlink.",
                hint="Remove it; files under .skclaw/ are skclaw's own.",
            ) from None
        if os.path.isdir(path):
            raise UsageError(f"{path.relative_to(project_dir)} is a directory, not skclaw's file.",
                             hint="Remove it; files under .skclaw/ are skclaw's own.") from None
        raise


def check_state_file(project_dir: Path, name: str) -> None:
    """Refuse (exit 2) a symlink or directory at ``.skclaw/name`` before a run changes anything."""
    path = state_path(project_dir) / name
    if path.is_symlink():
        raise UsageError(f"{STATE_DIR}/{name} is a symlink; skclaw never writes its state through a symlink.",
                         hint="Remove it; files under .skclaw/ are skclaw's own.")
    if path.is_dir():
        raise UsageError(f"{STATE_DIR}/{name} is a directory, not skclaw's file.",
                         hint="Remove it; files under .skclaw/ are skclaw's own.")


def write_json_state(project_dir: Path, subdir: str, name: str, data: object) -> None:
    """Atomically replace ``.skclaw/<subdir>/<name>`` with ``data`` as JSON (0600, never through a
    symlink: a link or directory there is exit 2)."""
    import json

    directory = state_path(project_dir, subdir)
    final = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    if final.is_symlink() or final.is_dir():
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{STATE_DIR}/{subdir}/{name} is not skclaw's file (a symlink or directory).",
                         hint="Remove it; files under .skclaw/ are skclaw's own.")
    os.replace(tmp, final)
