"""The ``envfile`` source: a dotenv file per environment, in wrangler's dialect (see
skclaw.secrets.dotenv: the same parser wrangler reads ``.dev.vars`` with).

Settings: ``path`` (default ``.secrets/{env}.env``; placeholders allowed; relative to the project
directory; ``~`` is the home directory).

- Reading a missing file is an error that says how to create it; ``write()`` creates it, with
  missing parent directories at mode 0700 and the file at 0600.
- ``write()`` replaces the file atomically (temporary file in the same directory + rename) and
  keeps the rest of it as it was: comments, order, other keys. Only the written key's line (and
  its ``__PREVIOUS`` line) change; earlier duplicates of that key are removed.
- The value a key had before a write that changed it is kept as ``<KEY>__PREVIOUS`` in the same
  file (``read_previous()``). ``*__PREVIOUS`` keys are not listed by ``read(None)`` and cannot be
  written directly. Writing the value a key already has changes nothing.
- ``warnings`` collects what the caller should print: the file is accessible to group or
  others, a key is set more than once. Sources never print.
- An empty value is stored as ``KEY=''`` and read back as ``""``.
- A file that skclaw 0.1.0 (which had a dialect of its own) read with a different value for
  some key is refused, exit 2, naming the file and the key: skclaw never pushes a value that
  changed only because the reader did. The user rewrites that line; see
  :data:`DIALECT_CHANGE_HINT`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from skclaw.errors import SourceError, UsageError
from skclaw.secrets.dotenv import DotenvParse, is_dotenv_key, legacy_differences, parse_dotenv, update_dotenv
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource, SourceContext

PREVIOUS_SUFFIX = "__PREVIOUS"
DEFAULT_PATH = ".secrets/{env}.env"
_HEADER = (
    "# Secrets for the skclaw environment {env}. Keep this file out of git (mode 0600).\n"
    "# skclaw keeps each key's value before its last change as KEY__PREVIOUS.\n"
)
DIALECT_CHANGE_HINT = (
    "skclaw now reads env files the way wrangler reads .dev.vars: inside double quotes only \\n "
    "and \\r are escapes (\\\", \\\\ and \\t stay as typed), an unquoted # always starts a comment "
    "(a#b reads as a), and a quoted value ending in a backslash may run on past its closing quote. "
    "Rewrite that line so it "
    "holds the value you mean, e.g. in single quotes (KEY='value') when the value has no ' ; "
    "then re-run. Nothing was pushed and the file was not changed."
)


class EnvfileSource(SecretSource):
    name: ClassVar[str] = "envfile"
    can_enumerate: ClassVar[bool] = True
    writable: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], context: SourceContext) -> None:
        super().__init__(settings, context)
        #: Problems the caller should show the user (file permissions, duplicate keys).
        self.warnings: list[str] = []

    @property
    def path(self) -> Path:
        template = self.settings.get("path", DEFAULT_PATH)
        if not isinstance(template, str) or not template:
            raise UsageError("sources.envfile.path must be a non-empty string.")
        path = Path(self.context.expand(template)).expanduser()
        return path if path.is_absolute() else self.context.project_dir / path

    def describe(self) -> str:
        path = self.path
        try:  # relative to the project when inside it: shorter, and the same on every machine
            shown = str(path.relative_to(self.context.project_dir))
        except ValueError:
            shown = str(path)
        return f"envfile {shown}"

    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        values = self._load(missing_ok=False)
        assert values is not None
        if keys is None:
            return {key: SecretValue(value) for key, value in values.items() if not key.endswith(PREVIOUS_SUFFIX)}
        return {key: SecretValue(values[key]) for key in keys if key in values}

    def read_previous(self, key: str) -> SecretValue | None:
        values = self._load(missing_ok=True)
        if values is None or key + PREVIOUS_SUFFIX not in values:
            return None
        return SecretValue(values[key + PREVIOUS_SUFFIX])

    def write(self, key: str, value: SecretValue) -> None:
        if not is_dotenv_key(key):
            raise UsageError(f"Cannot store {key!r} in an env file: not a valid key name.")
        if key.endswith(PREVIOUS_SUFFIX):
            raise UsageError(f"Cannot store {key}: names ending in {PREVIOUS_SUFFIX} hold previous values.")
        path = self.path
        text = self._read_text(path, missing_ok=True)
        current = self._parse(text, path).values if text is not None else {}
        new = value.reveal()
        old = current.get(key)
        if old == new:
            return
        updates = {key: new}
        if old is not None:
            updates[key + PREVIOUS_SUFFIX] = old
        if text is None:
            text = _HEADER.format(env=self.context.env)
        updated = update_dotenv(text, updates, filename=str(path), place_after={key + PREVIOUS_SUFFIX: key})
        self._replace(path, updated)

    # -- file access ---------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _read_text(self, path: Path, *, missing_ok: bool) -> str | None:
        try:
            if path.exists() and not path.is_file() and not path.is_dir():
                # A named pipe or a device: opening it could block forever or never end.
                raise SourceError(f"{path} is not a regular file.")
            data = path.read_bytes()
        except FileNotFoundError:
            if missing_ok:
                return None
            raise SourceError(
                f"No secrets file at {path}.",
                hint=(
                    f"Create it with: skclaw secrets set KEY --env {self.context.env} "
                    "--source envfile (or point sources.envfile.path at your file)."
                ),
            ) from None
        except IsADirectoryError:
            raise SourceError(f"{path} is a directory, not a secrets file.") from None
        except OSError as exc:
            raise SourceError(f"Cannot read {path}: {exc.strerror or type(exc).__name__}.") from None
        self._check_mode(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_no = data.count(b"\n", 0, exc.start) + 1
            line = data.splitlines()[line_no - 1] if data.splitlines() else b""
            key = line.split(b"=", 1)[0].strip().removeprefix(b"export ").strip().decode("ascii", "replace")
            raise UsageError(
                f"{self.context.env}: the value of {key} in {path} is not UTF-8 text "
                f"(line {line_no}, byte {exc.start}); nothing was changed.",
                hint="Save the file as UTF-8.",
            ) from None

    def _load(self, *, missing_ok: bool) -> dict[str, str] | None:
        path = self.path
        text = self._read_text(path, missing_ok=missing_ok)
        if text is None:
            return None
        parsed = self._parse(text, path)
        for key in parsed.duplicates:
            self._warn(f"{path}: {key} is set more than once; the last one is used.")
        return parsed.values

    def _parse(self, text: str, path: Path) -> DotenvParse:
        """The file's values, refusing a file whose values skclaw 0.1.0 read differently."""
        parsed = parse_dotenv(text, filename=str(path))
        differing = legacy_differences(text, parsed.values)
        if differing:
            raise UsageError(
                f"{self.context.env}: {path} sets {differing[0]} in a way that earlier skclaw versions "
                "read as a different value; skclaw will not guess which one you mean.",
                hint=DIALECT_CHANGE_HINT
                + (f" Also affected: {', '.join(differing[1:])}." if len(differing) > 1 else ""),
            )
        return parsed

    def _check_mode(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                self._warn(f"{path} is accessible to group or others (mode {mode:04o}): run `chmod 600 {path}`.")

    def _replace(self, path: Path, text: str) -> None:
        # Write through a symlink to its target rather than replacing the link.
        target = Path(os.path.realpath(path))
        try:
            _make_private_dirs(target.parent)
            fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temporary, 0o600)
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise SourceError(f"Cannot write {path}: {exc.strerror or type(exc).__name__}.") from None


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents at mode 0700 (existing ones are untouched)."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
