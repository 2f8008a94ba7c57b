"""The CLI floor: help, startup cost, the error boundary, the exit-code table, the envelope."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skclaw.cli import LAZY_COMMANDS, command_paths, execute
from skclaw.context import ActionOptions, AppContext, GlobalOptions, decide_interactive
from skclaw.errors import (
    ConfigError,
    FailedError,
    InterruptedRun,
    RefusedError,
    SourceError,
    UsageError,
    WranglerError,
)
from skclaw.output import Output
from skclaw.results import CommandResult, JSONObject, Verdict
from tests.skrun import skclaw


def test_every_lazy_command_module_exists() -> None:
    """A command listed in LAZY_COMMANDS that cannot be imported would vanish from --help."""
    listed = {path[0] for path in command_paths()}
    assert listed == set(LAZY_COMMANDS)


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p))
def test_every_command_has_help(path: list[str]) -> None:
    result = skclaw([*path, "--help"])
    assert result.code == 0
    assert "Usage: " in result.stdout
    assert "-h, --help" in result.stdout


def test_root_help_and_version() -> None:
    result = skclaw(["-h"])
    assert result.code == 0
    for name in LAZY_COMMANDS:
        assert name in result.stdout
    version = skclaw(["--version"])
    assert version.stdout.startswith("skclaw, version ")


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from skclaw.cli import main\n"
        "main(['--help'])\n"
        "heavy = [m for m in ('questionary', 'keyring', 'hvac', 'prompt_toolkit', 'rich') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_usage_errors_exit_2_with_json_envelope() -> None:
    human = skclaw(["doctor", "--bogus"])
    assert human.code == 2 and human.stdout == "" and "--bogus" in human.stderr
    run = skclaw(["doctor", "--bogus", "--json"])
    assert run.code == 2
    envelope = run.envelope
    assert envelope["ok"] is False and envelope["error"]["kind"] == "usage"
    assert envelope["command"] == "doctor" and envelope["exitCode"] == 2
    run = skclaw(["-C", ".", "secrets", "sync", "--nope", "--json"])
    assert run.code == 2 and run.envelope["command"] == "secrets sync"


def test_missing_project_dir_is_usage_error(tmp_path: Path) -> None:
    assert skclaw(["-C", str(tmp_path / "nope"), "doctor"]).code == 2


@dataclass(frozen=True)
class Fixed(CommandResult):
    """A result with a given JSON and verdict (no renderer, nothing audited)."""

    document: JSONObject
    outcome: Verdict = field(default_factory=Verdict)

    def to_json(self) -> JSONObject:
        return self.document

    def verdict(self) -> Verdict:
        return self.outcome


def make_app(json_mode: bool, stdout: object, stderr: object) -> AppContext:
    out = Output(json_mode=json_mode, color=False, stdout=stdout, stderr=stderr)  # type: ignore[arg-type]
    return AppContext(GlobalOptions(), ActionOptions(json=json_mode), command="t", environ={}, output=out,
                      interactive=False)


@pytest.mark.parametrize(
    "raised, code, kind",
    [
        (FailedError("boom"), 1, "failed"),
        (WranglerError("wrangler secret bulk failed", code=10013, transient=True), 1, "failed"),
        (SourceError("vault down"), 1, "failed"),
        (UsageError("bad"), 2, "usage"),
        (ConfigError("broken"), 2, "usage"),
        (RefusedError("no"), 3, "refused"),
        (InterruptedRun("ctrl-c"), 130, "interrupted"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (ZeroDivisionError("bug"), 1, "failed"),
    ],
)
def test_error_boundary_maps_exit_codes(
    raised: BaseException, code: int, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    stdout, stderr = io.StringIO(), io.StringIO()
    app = make_app(True, stdout, stderr)

    def body() -> CommandResult:
        raise raised

    assert execute(app, "x", body) == code
    envelope = json.loads(stdout.getvalue())
    assert envelope == {"ok": False, "command": "x", "exitCode": code, "result": envelope["result"],
                        "error": envelope["error"]}
    assert envelope["error"]["kind"] == kind
    assert "Traceback" not in stderr.getvalue()
    if isinstance(raised, ZeroDivisionError):
        logs = list((tmp_path / "skclaw" / "logs").glob("crash-*.log"))
        assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text()
        assert str(logs[0]) in stderr.getvalue()


def test_partial_outcome_and_envelope_shape() -> None:
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    app = make_app(True, stdout, stderr)
    result = {"environments": {"staging": {"status": "ok"}, "production": {"status": "failed"}}}
    assert execute(app, "secrets sync", lambda: Fixed(result, Verdict(4, "production failed"))) == 4
    envelope = json.loads(stdout.getvalue())
    assert envelope["error"] == {"kind": "partial", "message": "production failed"}
    assert envelope["result"] == result and envelope["ok"] is False


def test_human_mode_writes_nothing_to_stdout() -> None:
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    app = make_app(False, stdout, stderr)
    app.output.info("hello")
    assert execute(app, "x", lambda: Fixed({"a": 1})) == 0
    assert stdout.getvalue() == ""
    assert "hello" in stderr.getvalue()


@pytest.mark.parametrize(
    "flags, environ, tty, expected",
    [
        (ActionOptions(), {}, True, True),
        (ActionOptions(non_interactive=True), {}, True, False),
        (ActionOptions(json=True), {}, True, False),
        (ActionOptions(), {"CI": "true"}, True, False),
        (ActionOptions(), {"CI": "1"}, True, False),
        (ActionOptions(), {"CI": "false"}, True, True),
        (ActionOptions(), {}, False, False),
    ],
)
def test_interactivity_rule(flags: ActionOptions, environ: dict[str, str], tty: bool, expected: bool) -> None:
    assert decide_interactive(flags, environ, tty, tty) is expected
