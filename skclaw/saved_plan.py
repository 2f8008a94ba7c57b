"""Saved plans: `--plan-out FILE` writes what a run would change; `skclaw apply FILE` does exactly
that, or refuses (exit 3) when the world moved in between.

A plan holds, per env, the account, the Worker, the version it saw deployed, and the secret names
with keyed fingerprints (never values), plus an HMAC over all of it under the fingerprint key
(which is not in the file; `SKCLAW_FINGERPRINT_KEY` carries it to another CI job). A plan that was
edited, or made with another key, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skclaw.errors import RefusedError, UsageError

FORMAT = "skclaw-plan/1"


def _canonical(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(document: dict[str, Any], key: bytes) -> dict[str, Any]:
    sealed = {"format": FORMAT, "createdAt": datetime.now(UTC).isoformat(timespec="seconds"), **document}
    sealed["hash"] = hmac.new(key, _canonical(sealed), hashlib.sha256).hexdigest()
    return sealed


def write(path: Path, document: dict[str, Any]) -> None:
    """0600, replaced atomically, never through a symlink."""
    if path.is_symlink() or path.is_dir():
        raise UsageError(f"--plan-out {path} is a symlink or a directory; choose a plain file name.")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read(path: Path, key: bytes) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"No plan file at {path}.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path} is not a skclaw plan ({exc}).") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UsageError(f"{path} is not a skclaw plan (format {FORMAT}).")
    expected = hmac.new(key, _canonical(document), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(document.get("hash", ""))):
        raise RefusedError(
            f"The plan {path} was changed after it was written, or made with another fingerprint key; "
            "nothing was changed.",
            hint="Write the plan again (`--plan-out`), or give this job the plan job's key in "
            "SKCLAW_FINGERPRINT_KEY.",
        )
    return document


def _named(env: str, was: Mapping[str, str], now: Mapping[str, str], says: tuple[str, str, str]) -> list[str]:
    """Digests by name (migration checksums, secret fingerprints): gone, new, changed."""
    gone, new, changed = says
    moved = []
    for name in sorted(set(was) | set(now)):
        if name not in now:
            moved.append(f"{env}: " + gone.format(name=name))
        elif name not in was:
            moved.append(f"{env}: " + new.format(name=name))
        elif was[name] != now[name]:
            moved.append(f"{env}: " + changed.format(name=name))
    return moved


def refuse_if_moved(planned: Mapping[str, Any], now: Mapping[str, Any], *, outcome: str) -> None:
    """Exit 3 with what moved, when the plan no longer describes the world."""
    moved = differences(planned, now)
    if moved:
        raise RefusedError(
            f"The world moved since the plan was made; {outcome}:\n  " + "\n  ".join(moved),
            hint="Make a new plan with --plan-out, review it, and apply that one.",
        )


def differences(planned: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What moved between the plan and now, per env, in words (empty: the plan still holds)."""
    moved: list[str] = []
    before, after = planned.get("environments") or {}, now.get("environments") or {}
    for env in sorted(set(before) | set(after)):
        if env not in after:
            moved.append(f"{env}: no longer part of this run")
            continue
        if env not in before:
            moved.append(f"{env}: not in the plan")
            continue
        was, now_env = before[env], after[env]
        for field, what in (("account", "account"), ("worker", "Worker"), ("deployedVersion", "deployed version"),
                            ("database", "D1 database"), ("target", "target"), ("bundle", "bundle (SHA-256)")):
            if was.get(field) != now_env.get(field):
                moved.append(f"{env}: the {what} was {was.get(field)}, now {now_env.get(field)}")
        moved += _named(env, was.get("migrations") or {}, now_env.get("migrations") or {}, (
            "{name} is no longer pending (applied by someone else, or removed)",
            "a new migration file {name} is pending",
            "{name} changed since the plan (its SHA-256 differs)",
        ))
        moved += _named(env, was.get("secrets") or {}, now_env.get("secrets") or {}, (
            "{name} is no longer in the source",
            "{name} appeared in the source",
            "the value of {name} changed in the source",
        ))
        for field in ("create", "overwrite", "delete"):
            if sorted(was.get(field) or []) != sorted(now_env.get(field) or []):
                moved.append(f"{env}: the Worker's secrets changed ({field} was {was.get(field)}, "
                             f"now {now_env.get(field)})")
    return moved
