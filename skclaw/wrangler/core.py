"""The core of the wrangler facade: finding wrangler, its version, the one call path, errors and
the parsing of wrangler's output formats (JSON after log lines, box tables, ND-JSON).

Every wrangler call goes through :meth:`WranglerCore.call`, which always passes ``--config`` and
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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from skclaw import process
from skclaw.errors import UsageError, WranglerError, WranglerNotFoundError
from skclaw.project import DEFAULT_ENV
from skclaw.redact import redact
from skclaw.retry import policy_for, with_retries

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


# Every flag skclaw passes. A flag that takes a value is always passed as ``--flag=value``, so a
# value (a --message, a name from a config) can never become a flag of its own.
_FLAG_RE = re.compile(r"^--[a-z][a-z0-9-]*$")
VALUE_FLAGS = frozenset({
    "--config", "--env", "--message", "--outdir", "--secrets-file", "--command", "--format", "--bookmark",
    "--timestamp", "--name", "--tag",
})


def flag(name: str, value: str) -> str:
    """``--name=value``: yargs reads everything after the first ``=`` as the value."""
    if name not in VALUE_FLAGS:
        raise ValueError(f"{name} is not a value flag skclaw passes")
    if "\0" in value:
        raise UsageError(f"The value of {name} contains a NUL character.")
    return f"{name}={value}"


def positional(value: str, what: str) -> str:
    """A positional argument wrangler must not read as a flag."""
    if not value or value.startswith("-") or any(c in value for c in "\0\r\n"):
        raise UsageError(f"{what} {value!r} cannot be passed to wrangler (empty, starts with '-', or has a "
                         "control character).")
    return value


def check_argv(args: Sequence[str]) -> None:
    """Refuse (as a bug) any flag token that is not a plain flag or ``--flag=value``."""
    for token in args:
        if not token.startswith("-"):
            continue
        name, eq, _value = token.partition("=")
        if not _FLAG_RE.match(name):
            raise ValueError(f"argument {token[:40]!r} looks like a flag but is not one skclaw builds")
        if name in VALUE_FLAGS and not eq:
            raise ValueError(f"{name} must be passed as {name}=VALUE")


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
    def deploy_checks_required_secrets(self) -> bool:
        """`deploy` refuses, with nothing deployed, when the Worker lacks a secret of the config's
        `secrets.required`: the upload inherits each one and the API refuses a missing one (a new
        Worker is refused before the upload)."""
        return self.at_least(4, 77)

    @property
    def bulk_null_deletes(self) -> bool:
        """A JSON ``null`` in `secret bulk` input deletes the key."""
        return self.at_least(4, 96)


MINIMUM_VERSION = WranglerVersion(3, 60, 0)


def find_wrangler(
    explicit: str | None, environ: Mapping[str, str], project_dir: Path
) -> tuple[Path, str]:
    """The wrangler executable and where the choice came from.

    Order: --wrangler, SKCLAW_WRANGLER, node_modules/.bin/wrangler in the project dir and each
    ancestor (npm/pnpm/yarn workspaces install it at the workspace root), PATH.
    """
    for value, origin in ((explicit, "--wrangler"), (environ.get("SKCLAW_WRANGLER"), "SKCLAW_WRANGLER")):
        if value:
            path = Path(value).expanduser()
            if not path.is_file() or not os.access(path, os.X_OK):
                raise WranglerNotFoundError(
                    f"wrangler given by {origin} is not an executable file: {path}", hint=INSTALL_HINT
                )
            return path, origin
    for directory in (project_dir, *project_dir.parents):
        local = directory / "node_modules" / ".bin" / "wrangler"
        if local.is_file() and os.access(local, os.X_OK):
            return local, "node_modules/.bin"
    on_path = shutil.which("wrangler", path=environ.get("PATH"))
    if on_path:
        return Path(on_path), "PATH"
    raise WranglerNotFoundError("wrangler was not found.", hint=INSTALL_HINT)


def _version_from_package(executable: Path) -> WranglerVersion | None:
    """Read the version from wrangler's package.json next to the resolved bin (no Node start).

    ``node_modules/.bin/wrangler`` is a symlink into the package with npm, a shell script with
    pnpm (and on some Windows-made trees): then the package is its sibling ``node_modules/wrangler``.
    """
    try:
        real = executable.resolve()
        candidates = list(real.parents)[:3]
        if executable.parent.name == ".bin":
            candidates.append(executable.parent.parent / "wrangler")
        for parent in candidates:
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
    message = redact(f"{what} failed: {headline}")  # the text leaves skclaw: mask known values
    return WranglerError(message, code=code, transient=transient, detail=redact(summary), hint=hint)


class WranglerCore:
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
        redirects: Mapping[str, Path] | None = None,
        progress: Callable[[str], AbstractContextManager[Callable[[str], None]]] | None = None,
    ) -> None:
        from skclaw.progress import quiet

        #: shows a live line per call (env, what, elapsed, retries); the AppContext's Output
        self.progress = progress or quiet
        self.executable = executable
        self.config_path = config_path
        #: env -> the flattened config a build tool made for it (.wrangler/deploy/config.json)
        self.redirects = dict(redirects or {})
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
        except OSError as exc:  # missing, not executable, ... (process.StartError)
            raise WranglerNotFoundError(str(exc), hint=INSTALL_HINT) from None

    def env_args(self, env: str, command: str = "") -> list[str]:
        built = self.redirects.get(env)
        if built is not None and (command != "d1" or built == self.config_path):
            # What `wrangler deploy --env E` follows the redirect to. The built config is flat (its
            # top level is env E): `--env=E` on it would address `<name>-E`. D1 commands keep the
            # source config (migrations_dir is relative to it).
            return [flag("--config", str(built)), flag("--env", "")]
        return [flag("--config", str(self.config_path)), flag("--env", "" if env == DEFAULT_ENV else env)]

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
        check_argv(args)
        argv = [str(self.executable), *args, *self.env_args(env, args[0] if args else "")]

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

        label = what if env == DEFAULT_ENV else f"{env} · {what}"
        with self.progress(label) as note:
            if not retry:
                return attempt()
            policy = policy_for(self.environ)

            def retrying(number: int, exc: WranglerError, delay: float) -> None:
                note(f"retrying {number + 1}/{policy.attempts} ({exc.message[:60]})")

            return with_retries(attempt, what=what, policy=policy, on_retry=retrying)

    # -- account -----------------------------------------------------------------------------
    def whoami(self, timeout: float = 60.0) -> dict[str, Any]:
        """`wrangler whoami --json`: verifies the credentials with a read (no retry: a doctor
        check should fail fast offline)."""
        done = self.call(["whoami", "--json"], env=DEFAULT_ENV, what="wrangler whoami", retry=False,
                         timeout=timeout)
        try:
            data = json_after_logs(done.stdout, "{")
        except ValueError:
            raise WranglerError("wrangler whoami printed no JSON object", detail=redact(done.stdout[:500])) from None
        if not isinstance(data, dict):
            raise WranglerError("wrangler whoami printed no JSON object")
        return data


_WORKER_NOT_FOUND_RE = re.compile(r'Worker "[^"]+"(?: \(env: [^)]*\))? not found')


def unreported(message: str, done: WranglerResult, *, hint: str | None = None) -> WranglerError:
    """The error for a write that exited 0 without the output that only a finished write prints.

    wrangler's launcher (bin/wrangler.js) exits 0 when the process doing the work dies by a signal
    (the OOM killer, a `kill -9`), so exit 0 alone does not say the write happened: each write's
    caller names the line or record that does, and raises this without it."""
    tail = "\n".join(part.strip()[-400:] for part in (done.stdout, done.stderr) if part.strip())
    return WranglerError(message, detail=redact(tail), hint=hint)


def is_worker_not_found(exc: WranglerError) -> bool:
    # `secret list` turns 10007 into a UserError without the code: match its message too.
    return exc.code in WORKER_NOT_FOUND_CODES or bool(_WORKER_NOT_FOUND_RE.search(exc.detail))


# -- wrangler's output formats -----------------------------------------------------------------


def json_after_logs(stdout: str, opener: str) -> Any:
    """The first JSON value that starts a line with ``opener`` (``{`` or ``[``).

    wrangler prints log lines (and, on some versions, a banner) before its JSON when stdout is
    not a terminal; a value inside a log line is never taken.
    """
    decoder = json.JSONDecoder()
    for match in re.finditer(rf"(?m)^{re.escape(opener)}", stdout):
        try:
            return decoder.raw_decode(stdout, match.start())[0]
        except ValueError:
            continue
    raise ValueError("no JSON in wrangler's output")


def box_tables(text: str) -> list[list[list[str]]]:
    """The tables wrangler draws with logger.table: each a list of rows (header row dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("┌"):
            current = []
            tables.append(current)
        elif line.startswith("│") and current is not None:
            current.append([cell.strip() for cell in line.strip("│").split("│")])
    return [rows[1:] for rows in tables]
