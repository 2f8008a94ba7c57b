"""Helpers shared by the cross-command hardening suites (test_hardening_*.py, test_pty.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skclaw.secrets.dotenv import format_dotenv
from tests.cfemu import CloudflareEmulator, Recorded
from tests.conftest import REPO_ROOT, SampleProject, python_wrangler
from tests.skrun import Run

SKCLAW_BIN = REPO_ROOT / ".venv" / "bin" / "skclaw"
# `wrangler d1 migrations list` bootstraps its table; reading state before the gate is allowed.
MIGRATIONS_BOOTSTRAP = "CREATE TABLE IF NOT EXISTS d1_migrations"


def d1_bootstrap(r: Recorded) -> bool:
    # Newer wrangler quotes the table name (`"d1_migrations"`).
    return isinstance(r.json, dict) and str(r.json.get("sql", "")).lstrip().replace('"', "").startswith(
        MIGRATIONS_BOOTSTRAP)


def changes(emulator: CloudflareEmulator) -> list[Recorded]:
    """Mutating requests, without wrangler's `CREATE TABLE IF NOT EXISTS d1_migrations`."""
    return [r for r in emulator.mutating_requests() if not d1_bootstrap(r)]


def use_envfile(
    project: SampleProject,
    values: Mapping[str, Mapping[str, str]],
    *,
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> None:
    """`.skclaw.jsonc` with the envfile source and a manifest; `.secrets/<env>.env` (0600) per env."""
    config: dict[str, Any] = {
        "secrets": {"required": list(required), "optional": list(optional), "source": "envfile"},
        **(extra or {}),
    }
    (project.path / ".skclaw.jsonc").write_text(json.dumps(config))
    directory = project.path / ".secrets"
    directory.mkdir(mode=0o700, exist_ok=True)
    for env, mapping in values.items():
        write_envfile(project, env, mapping)


def write_envfile(project: SampleProject, env: str, mapping: Mapping[str, str]) -> Path:
    path = project.path / ".secrets" / f"{env}.env"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(format_dotenv(dict(mapping)))
    path.chmod(0o600)
    return path


def crash_logs(state_home: Path) -> list[Path]:
    directory = state_home / "skclaw" / "logs"
    return sorted(directory.glob("crash-*.log")) if directory.is_dir() else []


@dataclass
class Proc(Run):
    """A subprocess run of skclaw, with how long it took."""

    seconds: float


class Hang(AssertionError):
    """The process did not finish within its time bound (it was killed)."""


def run_skclaw(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    stdin: str | bytes | None = None,
    keep_stdin_open: bool = False,
    timeout: float = 90.0,
    cwd: Path | None = None,
) -> Proc:
    """Run `.venv/bin/skclaw` as CI would: no terminal anywhere.

    stdin: ``None`` is /dev/null; bytes/str are written and stdin is closed; with
    ``keep_stdin_open`` stdin is a pipe nobody writes to or closes until the process has exited,
    so any read of stdin blocks and the run hits ``timeout`` (raised as :class:`Hang`, after the
    whole process group is killed).
    """
    import time

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        piped = keep_stdin_open or stdin is not None
        start = time.monotonic()
        proc = subprocess.Popen(
            [str(SKCLAW_BIN), *args],
            stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        try:
            if stdin is not None:
                assert proc.stdin is not None
                data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
                try:
                    proc.stdin.write(data)
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                out.seek(0)
                err.seek(0)
                raise Hang(
                    f"skclaw {' '.join(args)} did not finish within {timeout:g}s (stdin "
                    f"{'open' if keep_stdin_open else 'given'}); stderr so far:\n"
                    + err.read().decode("utf-8", "replace")[-2000:]
                ) from None
        finally:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Proc(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), seconds)


def child_env(cf_env: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The emulator environment for a skclaw child, with CI detection removed: the run is
    non-interactive only because it has no terminal."""
    env = {k: v for k, v in cf_env.items() if k != "CI"}
    env.update(extra)
    return env


TAPE_SCRIPT = Path(__file__).with_name("wrangler_tape.py")


def tape_wrangler(real: Path, directory: Path) -> Path:
    """tests/wrangler_tape.py as the `wrangler` of a package that stands in for ``real``."""
    return python_wrangler(directory, TAPE_SCRIPT, real)


def tape_env(tape: Path, real: Path, *, record: bool) -> dict[str, str]:
    """Environment for the tape wrangler: record the real wrangler's answers into ``tape``, or
    replay them (a call not on the tape fails, and is listed in ``tape/misses.log``)."""
    return {
        "SKCLAW_TEST_TAPE": str(tape),
        "SKCLAW_TEST_TAPE_MODE": "record" if record else "replay",
        "SKCLAW_TEST_TAPE_WRANGLER": str(real),
    }
