"""Typed facade over the real wrangler CLI.

Every wrangler call goes through :meth:`Wrangler.call`, which always passes ``--config`` and
``--env`` (``--env=`` for skclaw's ``default`` env, i.e. the top level), gives wrangler a scrubbed
environment, feeds secret values on stdin only, strips ANSI, and turns a failure into a
:class:`WranglerError` classified as transient (retry) or permanent from ``[code: N]`` on stderr
and wrangler's ND-JSON ``command-failed`` record.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from skclaw import process
from skclaw.errors import UsageError, WranglerError, WranglerNotFoundError
from skclaw.retry import policy_for, with_retries
from skclaw.secret import SecretValue

DEFAULT_ENV = "default"
INSTALL_HINT = (
    "Install it in the project with `npm i -D wrangler`, or point skclaw at one with "
    "--wrangler PATH or SKCLAW_WRANGLER."
)

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
CODE_RE = re.compile(r"\[code: (\d+)\]")
VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")

# Cloudflare API codes worth retrying: rate limited, internal/unknown error, service unavailable.
TRANSIENT_CODES = frozenset({971, 10013, 10429, 7010, 7000})
AUTH_CODES = frozenset({10000, 10001, 9106, 9109, 9103})
WORKER_NOT_FOUND_CODES = frozenset({10007, 10090})
NETWORK_MARKERS = (
    "fetch failed",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "ENOTFOUND",
    "socket hang up",
    "UND_ERR",
    "Received a malformed response from the API",
    "other side closed",
)


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


@dataclass(frozen=True, order=True)
class WranglerVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> WranglerVersion:
        match = VERSION_RE.search(text)
        if not match:
            raise ValueError(f"no version in {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    @property
    def bulk_stdin_json(self) -> bool:
        """`secret bulk` reads a JSON object from stdin."""
        return self.at_least(3, 60)

    @property
    def secrets_file(self) -> bool:
        """`deploy --secrets-file`."""
        return self.at_least(4, 74)

    @property
    def bulk_null_deletes(self) -> bool:
        """A JSON ``null`` in `secret bulk` input deletes the key."""
        return self.at_least(4, 96)


MINIMUM_VERSION = WranglerVersion(3, 60, 0)


def find_wrangler(
    explicit: str | None, environ: Mapping[str, str], project_dir: Path
) -> tuple[Path, str]:
    """The wrangler executable and where the choice came from.

    Order: --wrangler, SKCLAW_WRANGLER, the project's node_modules/.bin/wrangler, PATH.
    """
    for value, origin in ((explicit, "--wrangler"), (environ.get("SKCLAW_WRANGLER"), "SKCLAW_WRANGLER")):
        if value:
            path = Path(value).expanduser()
            if not path.is_file() or not os.access(path, os.X_OK):
                raise WranglerNotFoundError(
                    f"wrangler given by {origin} is not an executable file: {path}", hint=INSTALL_HINT
                )
            return path, origin
    local = project_dir / "node_modules" / ".bin" / "wrangler"
    if local.is_file() and os.access(local, os.X_OK):
        return local, "node_modules/.bin"
    on_path = shutil.which("wrangler", path=environ.get("PATH"))
    if on_path:
        return Path(on_path), "PATH"
    raise WranglerNotFoundError("wrangler was not found.", hint=INSTALL_HINT)


def _version_from_package(executable: Path) -> WranglerVersion | None:
    """Read the version from wrangler's package.json next to the resolved bin (no Node start)."""
    try:
        real = executable.resolve()
        for parent in list(real.parents)[:3]:
            manifest = parent / "package.json"
            if manifest.is_file():
                data = json.loads(manifest.read_text("utf-8"))
                if data.get("name") == "wrangler":
                    return WranglerVersion.parse(str(data.get("version", "")))
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class WranglerResult:
    stdout: str
    stderr: str
    records: list[dict[str, Any]]
    duration: float

    def record(self, kind: str) -> dict[str, Any] | None:
        for rec in reversed(self.records):
            if rec.get("type") == kind:
                found: dict[str, Any] = rec
                return found
        return None


def _parse_ndjson(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text("utf-8")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def error_summary(stderr: str) -> str:
    """The `[ERROR]` block of wrangler's stderr, without decoration."""
    lines = [line.rstrip() for line in strip_ansi(stderr).splitlines()]
    picked: list[str] = []
    capture = False
    for line in lines:
        if "[ERROR]" in line:
            capture = True
            picked.append(line.split("[ERROR]", 1)[1].strip())
            continue
        if capture:
            stripped = line.strip()
            if not stripped:
                if picked and picked[-1]:
                    picked.append("")
                continue
            if stripped.startswith(("If you think this is a bug", "🪵")):
                capture = False
                continue
            picked.append(stripped)
    text = "\n".join(p for p in picked).strip()
    if not text:
        tail = [line for line in lines if line.strip() and not line.strip().startswith("🪵")]
        text = "\n".join(tail[-3:])
    return text or "wrangler failed without an error message"


def _stdout_json_error(stdout: str) -> str | None:
    """`d1 execute --json` reports failures as {"error": {"text", "notes"}} on stdout only."""
    text = strip_ansi(stdout)
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    parts = [str(error.get("text") or "")]
    for note in error.get("notes") or []:
        if isinstance(note, dict) and note.get("text"):
            parts.append(str(note["text"]))
    joined = "\n".join(p for p in parts if p)
    return joined or None


def classify_failure(
    what: str, returncode: int, stderr: str, stdout: str, records: Sequence[Mapping[str, Any]]
) -> WranglerError:
    clean_err = strip_ansi(stderr)
    code: int | None = None
    for rec in records:
        if rec.get("type") == "command-failed" and isinstance(rec.get("code"), int):
            code = rec["code"]
    if code is None:
        codes = [int(c) for c in CODE_RE.findall(clean_err)]
        code = codes[0] if codes else None
    summary = error_summary(stderr) if "[ERROR]" in clean_err else _stdout_json_error(stdout) or error_summary(stderr)
    haystack = clean_err + "\n" + strip_ansi(stdout)
    network = any(marker in haystack for marker in NETWORK_MARKERS)
    transient = (code in TRANSIENT_CODES) or (code is None and network)
    hint = None
    if code in AUTH_CODES:
        hint = "Check CLOUDFLARE_API_TOKEN (and its permissions) or run `wrangler login`."
    lines = [line for line in summary.splitlines() if line.strip()]
    coded = [line for line in lines if CODE_RE.search(line)]
    headline = coded[0] if coded else (lines[0] if lines else f"exit {returncode}")
    message = f"{what} failed: {headline}"
    return WranglerError(message, code=code, transient=transient, detail=summary, hint=hint)


class Wrangler:
    """One wrangler executable bound to one project (its config file and directory)."""

    _version_cache: ClassVar[dict[str, WranglerVersion]] = {}
    _version_lock = threading.Lock()

    def __init__(
        self,
        executable: Path,
        *,
        config_path: Path,
        cwd: Path,
        environ: Mapping[str, str],
        timeout: float = 300.0,
    ) -> None:
        self.executable = executable
        self.config_path = config_path
        self.cwd = cwd
        self.environ = dict(environ)
        self.timeout = timeout

    # -- version -----------------------------------------------------------------------------
    @property
    def version(self) -> WranglerVersion:
        """Read once per executable (and per skclaw process): package.json, else --version."""
        key = str(self.executable)
        with self._version_lock:  # held while reading so parallel envs start one probe, not N
            cached = self._version_cache.get(key)
            if cached is not None:
                return cached
            version = _version_from_package(self.executable)
            if version is None:
                done = self._run([str(self.executable), "--version"], stdin=None, timeout=60)
                try:
                    version = WranglerVersion.parse(strip_ansi(done.stdout + done.stderr))
                except ValueError:
                    raise WranglerNotFoundError(
                        f"{self.executable} did not report a wrangler version.", hint=INSTALL_HINT
                    ) from None
            self._version_cache[key] = version
            return version

    def require_minimum(self) -> WranglerVersion:
        version = self.version
        if version < MINIMUM_VERSION:
            raise WranglerNotFoundError(
                f"wrangler {version} at {self.executable} is too old; skclaw needs {MINIMUM_VERSION} or newer.",
                hint="Upgrade it with `npm i -D wrangler@4`.",
            )
        return version

    # -- the choke point ---------------------------------------------------------------------
    def _run(
        self, argv: list[str], *, stdin: bytes | None, timeout: float, extra_env: Mapping[str, str] | None = None
    ) -> process.Completed:
        env = process.scrubbed_environment(self.environ)
        if extra_env:
            env.update(extra_env)
        try:
            return process.run(argv, cwd=self.cwd, env=env, stdin=stdin, timeout=timeout)
        except FileNotFoundError as exc:
            raise WranglerNotFoundError(str(exc), hint=INSTALL_HINT) from None

    def env_args(self, env: str) -> list[str]:
        return ["--config", str(self.config_path), f"--env={'' if env == DEFAULT_ENV else env}"]

    def call(
        self,
        args: Sequence[str],
        *,
        env: str,
        what: str,
        stdin: bytes | None = None,
        retry: bool = True,
        timeout: float | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> WranglerResult:
        self.require_minimum()
        argv = [str(self.executable), *args, *self.env_args(env)]

        def attempt() -> WranglerResult:
            with tempfile.TemporaryDirectory(prefix="skclaw-wr-") as tmp:
                ndjson = Path(tmp) / "output.ndjson"
                env_vars = {"WRANGLER_OUTPUT_FILE_PATH": str(ndjson)}
                env_vars.update(extra_env or {})
                done = self._run(argv, stdin=stdin, timeout=timeout or self.timeout, extra_env=env_vars)
                records = _parse_ndjson(ndjson)
            if done.timed_out:
                raise WranglerError(
                    f"{what} timed out after {timeout or self.timeout:.0f}s", transient=True
                )
            if done.returncode != 0:
                raise classify_failure(what, done.returncode, done.stderr, done.stdout, records)
            return WranglerResult(
                stdout=strip_ansi(done.stdout), stderr=strip_ansi(done.stderr), records=records,
                duration=done.duration,
            )

        if not retry:
            return attempt()
        return with_retries(attempt, what=what, policy=policy_for(self.environ))

    # -- secrets -----------------------------------------------------------------------------
    def secret_names(self, env: str) -> list[str]:
        """Names of the secrets on the env's Worker. Raises WranglerError code 10007 if missing."""
        done = self.call(["secret", "list", "--format", "json"], env=env, what="wrangler secret list")
        try:
            data = json.loads(done.stdout[done.stdout.index("[") :])
        except ValueError:
            raise WranglerError(
                "wrangler secret list printed no JSON list", detail=done.stdout[:500]
            ) from None
        return sorted(str(item["name"]) for item in data if isinstance(item, dict) and "name" in item)

    def secret_bulk(
        self, env: str, values: Mapping[str, SecretValue], deletes: Sequence[str] = ()
    ) -> WranglerResult:
        """One `secret bulk` call: one new Worker version. Values as one JSON line on stdin."""
        if deletes and not self.version.bulk_null_deletes:
            raise ValueError("this wrangler cannot delete keys through secret bulk")
        payload: dict[str, str | None] = {key: value.reveal() for key, value in values.items()}
        payload.update({key: None for key in deletes})
        # One line: wrangler 4.86 concatenates stdin lines without a separator.
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.call(["secret", "bulk"], env=env, stdin=data, what="wrangler secret bulk")

    def secret_put(self, env: str, key: str, value: SecretValue) -> WranglerResult:
        raw = value.reveal()
        if raw != raw.rstrip():
            raise UsageError(
                f"The value of {key} ends with whitespace, which `wrangler secret put` trims.",
                hint="Use --method bulk (the default), which sends the value exactly.",
            )
        return self.call(
            ["secret", "put", key], env=env, stdin=raw.encode("utf-8"), what=f"wrangler secret put {key}"
        )

    def secret_delete(self, env: str, key: str) -> WranglerResult:
        return self.call(["secret", "delete", key], env=env, what=f"wrangler secret delete {key}")



_WORKER_NOT_FOUND_RE = re.compile(r'Worker "[^"]+"(?: \(env: [^)]*\))? not found')


def is_worker_not_found(exc: WranglerError) -> bool:
    # `secret list` turns 10007 into a UserError without the code: match its message too.
    return exc.code in WORKER_NOT_FOUND_CODES or bool(_WORKER_NOT_FOUND_RE.search(exc.detail))
