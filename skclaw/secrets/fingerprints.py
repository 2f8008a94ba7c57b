"""What skclaw last pushed to each Worker: keyed fingerprints (never values) and the versions
skclaw made or saw, so a sync whose values did not change pushes nothing.

- The key is 32 random bytes in ``$XDG_CONFIG_HOME/skclaw/fingerprint.key`` (0600, made on first
  use, never in the project): a fingerprint in a repository or a log reveals nothing without it.
- A fingerprint is HMAC-SHA256(key, worker, name, value), truncated to 128 bits.
- ``.skclaw/pushed/<worker>.json`` keeps, per Worker, the fingerprint of each secret skclaw pushed
  and the version ids that push produced. A value is known only while the Worker's current
  version is one of those: a change made outside skclaw (`wrangler secret put`, the dashboard)
  makes every value unknown again, and the next sync pushes them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets as _random
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from skclaw.errors import UsageError
from skclaw.secrets.value import SecretValue

KEY_BYTES = 32
MAX_VERSIONS = 20
STATE_SUBDIR = "pushed"


def key_path(environ: Mapping[str, str]) -> Path:
    home = Path(environ.get("HOME") or Path.home())
    base = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "skclaw" / "fingerprint.key"


def load_key(environ: Mapping[str, str]) -> bytes:
    """The user's fingerprint key, created (0600, in a 0700 dir) on first use; never a symlink.
    ``SKCLAW_FINGERPRINT_KEY`` (hex, 32+ bytes) overrides it: how a plan made in one CI job is
    applied in another."""
    given = environ.get("SKCLAW_FINGERPRINT_KEY")
    if given:
        try:
            key = bytes.fromhex(given.strip())
        except ValueError:
            raise UsageError("SKCLAW_FINGERPRINT_KEY must be hex (e.g. from `openssl rand -hex 32`).") from None
        if len(key) < KEY_BYTES:
            raise UsageError(f"SKCLAW_FINGERPRINT_KEY must hold at least {KEY_BYTES} bytes "
                             f"({2 * KEY_BYTES} hex digits).")
        return key
    path = key_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        key = _random.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:  # another run made it first
            return load_key(environ)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
    except OSError as exc:
        raise UsageError(f"Cannot read the fingerprint key {path}: {exc.strerror or exc}.",
                         hint="It must be a regular file (not a symlink) readable by you.") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        key = handle.read()
    if not stat.S_ISREG(info.st_mode) or len(key) < KEY_BYTES:
        raise UsageError(f"The fingerprint key {path} is not a {KEY_BYTES}-byte file.",
                         hint="Remove it; skclaw makes a new one (and pushes every value once more).")
    return key


def fingerprint(key: bytes, worker: str, name: str, value: SecretValue) -> str:
    message = b"\0".join([worker.encode(), name.encode(), value.reveal().encode("utf-8", "surrogatepass")])
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


@dataclass
class PushedState:
    """What skclaw knows about one Worker's secrets."""

    worker: str
    secrets: dict[str, str] = field(default_factory=dict)  # name -> fingerprint
    versions: list[str] = field(default_factory=list)  # made or seen by skclaw, newest last

    def knows(self, current_version: str | None) -> bool:
        """Whether the fingerprints still describe the Worker: its current version is skclaw's."""
        return current_version is not None and current_version in self.versions

    def unchanged(self, fingerprints: Mapping[str, str], current_version: str | None) -> list[str]:
        if not self.knows(current_version):
            return []
        return [name for name, fp in fingerprints.items() if self.secrets.get(name) == fp]

    def record(self, pushed: Mapping[str, str], deleted: list[str], version: str | None) -> None:
        self.secrets.update(pushed)
        for name in deleted:
            self.secrets.pop(name, None)
        if version is None:
            self.versions = []  # the new version is unknown: nothing can be trusted next time
        elif version not in self.versions:
            self.versions = [*self.versions, version][-MAX_VERSIONS:]

    def to_json(self) -> dict[str, object]:
        return {"worker": self.worker, "secrets": dict(sorted(self.secrets.items())), "versions": self.versions}


_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")


def _state_name(worker: str) -> str:
    """A file name for the Worker: its name when that is a plain name, else a digest (a name from
    a hostile config must not reach outside .skclaw/pushed/)."""
    if _SAFE_NAME_RE.match(worker):
        return f"{worker}.json"
    return "w-" + hashlib.sha256(worker.encode("utf-8", "surrogatepass")).hexdigest()[:24] + ".json"


def load_state(project_dir: Path, worker: str) -> PushedState:
    from skclaw.statedir import open_state_file

    try:
        fd = open_state_file(project_dir, _state_name(worker), os.O_RDONLY, subdir=STATE_SUBDIR)
    except FileNotFoundError:
        return PushedState(worker)
    try:
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            data = json.load(handle)
        secrets = {str(k): str(v) for k, v in dict(data.get("secrets") or {}).items()}
        versions = [str(v) for v in list(data.get("versions") or [])]
    except (OSError, ValueError, TypeError, AttributeError):
        return PushedState(worker)  # unreadable: treat as unknown (every value is pushed)
    return PushedState(worker, secrets, versions)


def save_state(project_dir: Path, state: PushedState) -> None:
    """Atomically replace the Worker's state file (0600, never through a symlink)."""
    from skclaw.statedir import write_json_state

    write_json_state(project_dir, STATE_SUBDIR, _state_name(state.worker), state.to_json())
