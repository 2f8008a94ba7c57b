"""The subprocess choke point: environment scrubbing, timeouts, Ctrl-C kills the child group."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from skclaw import process


def test_scrubbed_environment_removes_targeting_and_forces_safe_logging() -> None:
    env = process.scrubbed_environment({
        "CLOUDFLARE_ENV": "production",
        "WRANGLER_LOG_SANITIZE": "false",
        "WRANGLER_LOG": "debug",
        "PATH": "/bin",
    })
    assert "CLOUDFLARE_ENV" not in env
    # Set explicitly, not merely removed: wrangler would otherwise take them from a project .env.
    assert env["WRANGLER_LOG_SANITIZE"] == "true"
    assert env["WRANGLER_LOG"] == "log"
    assert env["WRANGLER_SEND_METRICS"] == "false"
    assert env["PATH"] == "/bin"


def test_scrub_keeps_user_choices_that_are_safe() -> None:
    env = process.scrubbed_environment({"WRANGLER_SEND_METRICS": "true", "WRANGLER_LOG": "none",
                                        "WRANGLER_LOG_SANITIZE": "true"})
    assert env["WRANGLER_SEND_METRICS"] == "true"
    assert env["WRANGLER_LOG"] == "log"  # below "log" wrangler hides the JSON skclaw parses
    assert env["WRANGLER_LOG_SANITIZE"] == "true"


def test_stdin_is_delivered_and_output_kept_raw_for_parsing() -> None:
    from skclaw.redact import redact
    from skclaw.secrets.value import SecretValue

    secret = SecretValue("canary-process-0123")
    done = process.run([sys.executable, "-c", "import sys; print(sys.stdin.read())"],
                       stdin=secret.reveal().encode())
    assert done.returncode == 0
    # Parsers read the raw text; masking happens where text leaves skclaw (output, errors).
    assert done.stdout.strip() == "canary-process-0123"
    assert redact(done.stdout).strip() == "******"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    done = process.run([sys.executable, "-c", script], timeout=2)
    assert done.timed_out and time.monotonic() - start < 15
    grandchild = int(pidfile.read_text())
    _assert_dead(grandchild)


def _assert_dead(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.05)
    pytest.fail(f"process {pid} still alive")


def test_ctrl_c_kills_running_children(tmp_path: Path) -> None:
    """KeyboardInterrupt in the waiting thread kills the child's process group."""
    pidfile = tmp_path / "child.pid"
    script = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"

    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main, "signal handlers run in the main thread only"

    def interrupt_soon() -> None:
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        # At the waiting thread itself: a process-wide SIGINT may land on this thread, and then the
        # waiting thread's poll is not interrupted until its timeout (seen once, under load).
        signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_soon, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            process.run([sys.executable, "-c", script], timeout=30)
        assert time.monotonic() - started < 20, "the interrupt waited for the timeout"
    finally:
        signal.signal(signal.SIGINT, previous)
    _assert_dead(int(pidfile.read_text()))


def test_kill_all_children_from_another_thread(tmp_path: Path) -> None:
    results: list[process.Completed] = []
    worker = threading.Thread(
        target=lambda: results.append(process.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=60))
    )
    worker.start()
    deadline = time.monotonic() + 10
    while process.kill_all_children() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.join(timeout=15)
    assert results and results[0].returncode != 0
    with pytest.raises(KeyboardInterrupt):  # after an interrupt, nothing new starts
        process.run([sys.executable, "-c", "pass"])
    process.reset_abort()
    assert process.run([sys.executable, "-c", "pass"]).returncode == 0


def test_missing_executable_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="cannot start"):
        process.run(["/nonexistent/wrangler"])
