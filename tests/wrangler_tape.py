#!/usr/bin/env python3
"""A record/replay stand-in for wrangler, for repeating a run that is known to change nothing.

    SKCLAW_TEST_TAPE=<dir> SKCLAW_TEST_TAPE_MODE=record SKCLAW_TEST_TAPE_WRANGLER=<real wrangler>
        runs the real wrangler and stores, per call (argv + stdin), its exit code, stdout, stderr
        and the ND-JSON records it wrote to $WRANGLER_OUTPUT_FILE_PATH;
    SKCLAW_TEST_TAPE_MODE=replay
        answers a call that was recorded with what wrangler answered, and any other call (a
        write, a read that was not made before) with exit 97 and "not on the tape" on stderr.

The hardening matrix records a refused run (which it asserts changed nothing) and replays it for
the same refusal with another stdin: against unchanged state, wrangler would answer the same.
Standard library only, so a replayed call costs a Python start, not a Node start."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

NOT_ON_TAPE = 97


def _key(argv: list[str], stdin: bytes) -> str:
    digest = hashlib.sha256(json.dumps(argv).encode("utf-8"))
    digest.update(b"\0" + stdin)
    return digest.hexdigest()[:32]


def _stdin() -> bytes:
    try:
        if os.isatty(0):
            return b""
        return sys.stdin.buffer.read()
    except (OSError, ValueError):
        return b""


def main() -> int:
    tape = Path(os.environ["SKCLAW_TEST_TAPE"])
    mode = os.environ.get("SKCLAW_TEST_TAPE_MODE", "replay")
    argv = sys.argv[1:]
    stdin = _stdin()
    entry = tape / f"{_key(argv, stdin)}.json"
    output = os.environ.get("WRANGLER_OUTPUT_FILE_PATH")
    if mode == "record":
        done = subprocess.run([os.environ["SKCLAW_TEST_TAPE_WRANGLER"], *argv], input=stdin, capture_output=True)
        records = Path(output).read_text("utf-8") if output and Path(output).is_file() else None
        tape.mkdir(parents=True, exist_ok=True)
        entry.write_text(json.dumps({
            "argv": argv, "code": done.returncode, "stdout": done.stdout.decode("utf-8", "surrogateescape"),
            "stderr": done.stderr.decode("utf-8", "surrogateescape"), "records": records,
        }))
        sys.stdout.buffer.write(done.stdout)
        sys.stderr.buffer.write(done.stderr)
        return done.returncode
    if not entry.is_file():
        sys.stderr.write(f"wrangler_tape: not on the tape: wrangler {' '.join(argv)}\n")
        with (tape / "misses.log").open("a", encoding="utf-8") as misses:
            misses.write(json.dumps(argv) + "\n")
        return NOT_ON_TAPE
    saved = json.loads(entry.read_text("utf-8"))
    if output and saved["records"] is not None:
        Path(output).write_text(saved["records"], "utf-8")
    sys.stdout.buffer.write(saved["stdout"].encode("utf-8", "surrogateescape"))
    sys.stderr.buffer.write(saved["stderr"].encode("utf-8", "surrogateescape"))
    return int(saved["code"])


if __name__ == "__main__":
    sys.exit(main())
