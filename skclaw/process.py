"""The only place skclaw starts a process.

argv is always a list (never a shell); secret values travel on stdin only. Children run in their
own process group so a timeout or Ctrl-C kills the whole tree (wrangler starts esbuild, workerd...).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from skclaw.redact import redact

log = logging.getLogger("skclaw.process")

# Variables that silently change what wrangler targets.
SCRUBBED_VARIABLES = ("CLOUDFLARE_ENV",)
# Set explicitly, whatever the caller's environment says: wrangler loads a project's `.env` into
# its own environment but never overrides a variable that is already set, so a hostile `.env`
# cannot turn log sanitising off (values in wrangler's debug log under HOME) or switch the log
# level (debug lines corrupt the JSON skclaw parses; lower levels hide it).
WRANGLER_FORCED = {"WRANGLER_LOG": "log", "WRANGLER_LOG_SANITIZE": "true"}
# Defaults skclaw gives wrangler unless the user set them.
WRANGLER_DEFAULTS = {
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    # Hides the banner and skips the npm update check (a network call on every start).
    "WRANGLER_HIDE_BANNER": "true",
}

_live_lock = threading.Lock()
_aborting = threading.Event()  # set on Ctrl-C: no new child may start
_live: set[subprocess.Popen[bytes]] = set()
_started_argv: list[list[str]] = []  # argv of every child, for tests and `-v`


class StartError(OSError):
    """A program exists but could not be started (permission, exec format, resource limits)."""

    def __init__(self, message: str, *, errno: int | None) -> None:
        super().__init__(message)
        self.code = errno


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False


def scrubbed_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment wrangler gets: targeting overrides and value-leaking switches removed."""
    env = {k: v for k, v in base.items() if k not in SCRUBBED_VARIABLES}
    env.update(WRANGLER_FORCED)
    for key, value in WRANGLER_DEFAULTS.items():
        env.setdefault(key, value)
    env["NO_COLOR"] = "1"
    env["FORCE_COLOR"] = "0"
    return env


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        proc.wait(timeout=grace)


def kill_all_children(*, abort: bool = True) -> int:
    """Kill every live child group (Ctrl-C from the main thread while workers wait).

    With ``abort`` no further child may start in this process (workers stop at their next call).
    """
    if abort:
        _aborting.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc, grace=2.0)
    return len(procs)


def reset_abort() -> None:
    """For tests and long-lived hosts: allow children again after an interrupt."""
    _aborting.clear()


class Aborted(KeyboardInterrupt):
    """The run was interrupted: no new child may start."""


def _check_abort() -> None:
    if _aborting.is_set():
        raise Aborted("interrupted: not starting another process")


def started_argv() -> list[list[str]]:
    with _live_lock:
        return [list(a) for a in _started_argv]


# -- signals ----------------------------------------------------------------------------------

_signal_received: list[int] = []  # the signal that stopped the run (SIGINT when none recorded)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the run: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP)."""
    return 128 + (_signal_received[-1] if _signal_received else signal.SIGINT)


def signal_name() -> str:
    return signal.Signals(_signal_received[-1] if _signal_received else signal.SIGINT).name


def _on_signal(signum: int, _frame: object) -> None:
    _signal_received.append(signum)
    # Every cleanup path (kill the wrangler groups, remove temp files, audit, envelope) is
    # written for KeyboardInterrupt: SIGTERM and SIGHUP take the same road.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_signal_handlers() -> Callable[[], None]:
    """SIGINT, SIGTERM and SIGHUP stop the run the same way; returns a function that restores
    the previous handlers (main() runs in-process in tests)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _signal_received.clear()
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _parent_death_hook() -> Callable[[], None] | None:
    """Linux: make the child get SIGTERM when skclaw dies, even by SIGKILL (wrangler's launcher
    forwards SIGTERM to the real CLI), so no wrangler call outlives skclaw."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # skclaw died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _spawn(
    argv: list[str], *, cwd: Path | None, env: Mapping[str, str] | None, stdin: int, stdout: int, stderr: int
) -> subprocess.Popen[bytes]:
    """Start argv in its own process group and register it so Ctrl-C can kill it."""
    _check_abort()
    log.debug("run: %s (cwd=%s)", redact(" ".join(argv)), cwd)
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=dict(env) if env is not None else None,
            stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True,
            preexec_fn=_parent_death_hook(),
        )
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    except OSError as exc:
        raise StartError(f"cannot start {argv[0]}: {exc.strerror or exc}", errno=exc.errno) from None
    with _live_lock:
        _live.add(proc)
        _started_argv.append(argv)
    return proc


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 300.0,
) -> Completed:
    """Run argv to completion and capture its output, decoded but not masked: parsers read the
    raw text; :mod:`skclaw.output` and the error types mask known values where text leaves skclaw."""
    argv = [str(a) for a in argv]
    start = time.monotonic()
    proc = _spawn(
        argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    timed_out = False
    try:
        try:
            out, err = proc.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            out, err = proc.communicate()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _live_lock:
            _live.discard(proc)
    duration = time.monotonic() - start
    result = Completed(
        argv=tuple(argv),
        returncode=proc.returncode if not timed_out else -signal.SIGKILL,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        duration=duration,
        timed_out=timed_out,
    )
    log.debug("exit %s after %.2fs", result.returncode, duration)
    return result


def run_streaming(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
) -> int:
    """Run argv with its stdout and stderr streamed to our stderr (build commands)."""

    argv = [str(a) for a in argv]
    proc = _spawn(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    timer = threading.Timer(timeout, _kill_group, args=(proc,))
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            sys.stderr.write(redact(raw.decode("utf-8", errors="replace")))
            sys.stderr.flush()
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        timer.cancel()
        with _live_lock:
            _live.discard(proc)
    return proc.returncode
