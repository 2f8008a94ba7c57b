"""Leak canaries over every command.

Secret values (and the Cloudflare API token) are random canaries. Every command runs in human
and --json mode, on success and failure paths, with -v/-vv, in the worst environment a user can
have (WRANGLER_LOG=debug, WRANGLER_LOG_SANITIZE=false); failures include API errors whose
message echoes a secret, to check that wrangler's relayed output is masked. Afterwards no canary
may appear in stdout, stderr, the argv of any child process, `.skclaw/audit.jsonl`, skclaw's crash
logs, wrangler's own log files, any other file skclaw or wrangler left in the project or HOME,
or the text of any exception that reached the command boundary. The one exception is
`secrets rotate --print-value`: the new value appears exactly once, on stdout (or in the
envelope), and nowhere else.

The redaction registry is process-wide; it is cleared before every run, so what is masked was
learnt by that run.

Both styles start from the same state. The first runs against the emulator through the real
wrangler, with a recorder in between (tests/wrangler_tape.py); then the project, HOME and the
state dir are put back as they were and the second style runs with wrangler's recorded answers
replayed: the same bytes reach skclaw, without a second Node start per call. Any call the first
run did not make fails the second. Where skclaw's calls differ from run to run (a fresh random
value, a temp path in argv) both styles run live, each from its own fresh state.

Which wrangler: the real one wherever wrangler itself could leak: every wrangler command skclaw
hands a value or the token to (secret bulk and put, with and without an API error that echoes
values; d1 execute and migrations; deploy with a secrets file; whoami), and every call the
double would hand on anyway (deploy, rollback). The other scenarios exercise skclaw's own
handling of the same commands (a dry run, other error paths, list, status) and run on the
wrangler double, which prints what wrangler 4.86 prints (tests/test_wrangler_double.py holds it
to that) and hands any call made with WRANGLER_LOG other than `log` to the real wrangler, so a
regression that let the user's debug logging through would still reach wrangler's log files.
Of the scenarios that run live in both styles, the second style runs on the double.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skclaw import cli, process
from skclaw.redact import MASK
from skclaw.secrets.dotenv import parse_dotenv
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.hardening import crash_logs, tape_env, tape_wrangler, use_envfile
from tests.skrun import Run, reset_redaction, skclaw

pytestmark = [pytest.mark.wrangler]

KEYS = ("API_TOKEN", "DB_PASSWORD", "PEM")
STYLES = {"human-vv": (["-vv"], []), "json-v": (["-v"], ["--json"])}


def token() -> str:
    return "cnry" + secrets.token_hex(10)


def awkward_values(env: str) -> tuple[dict[str, str], list[str]]:
    """Values in the shapes secrets have (plain, spaces/quotes/unicode, multi-line PEM), and the
    unique tokens inside them to search for."""
    a, b, c, d = token(), token(), token(), token()
    values = {
        "API_TOKEN": a,
        "DB_PASSWORD": f"p@ss wörd \"{b}\" 'q' = & ✓",
        "PEM": f"-----BEGIN PRIVATE KEY-----\n{c}\n{d}==\n-----END PRIVATE KEY-----",
    }
    return values, [a, b, c, d]


@dataclass
class Leak:
    project: SampleProject
    emulator: CloudflareEmulator
    wrangler: Path
    home: Path
    state_home: Path
    values: dict[str, dict[str, str]]
    tokens: list[str]
    exceptions: list[BaseException] = field(default_factory=list)
    echoed: bool = False  # an injected API error repeats a secret: its relay must show the mask
    real: bool = False  # the real wrangler (else the double, which hands some calls to it)

    def run(
        self, args: list[str], *, code: int, input: str | None = None, wrangler: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[Run, list[list[str]]]:
        reset_redaction()
        self.exceptions.clear()
        argv_before = len(process.started_argv())
        run = skclaw(args, project=self.project.path, wrangler=wrangler or self.wrangler, input=input, env=env)
        argv = process.started_argv()[argv_before:]
        assert run.code == code, f"skclaw {' '.join(args)}: exit {run.code}, expected {code}\n{run.stderr}"
        assert "Traceback" not in run.output
        return run, argv

    def channels(self, run: Run, argv: list[list[str]]) -> dict[str, str]:
        audit = self.project.path / ".skclaw" / "audit.jsonl"
        found = {
            "stdout": run.stdout,
            "stderr": run.stderr,
            "argv": "\n".join("\0".join(a) for a in argv),
            "audit.jsonl": audit.read_text("utf-8") if audit.exists() else "",
            "crash logs": "\n".join(p.read_text("utf-8", "replace") for p in crash_logs(self.state_home)),
            "exceptions": "\n".join(exception_text(e) for e in self.exceptions),
        }
        for path in sorted(self.home.rglob("*")):
            if path.is_file():
                label = "wrangler log " if path.suffix == ".log" else "file under HOME "
                found[label + str(path.relative_to(self.home))] = path.read_text("utf-8", "replace")
        for path in sorted(self.project.path.rglob("*")):
            relative = path.relative_to(self.project.path)
            if path.is_file() and relative.parts[0] not in (".secrets", "src", "migrations"):
                found[f"project file {relative}"] = path.read_text("utf-8", "replace")
        return found

    def assert_clean(self, run: Run, argv: list[list[str]], *, printed: dict[str, str] | None = None) -> None:
        """No canary anywhere; ``printed`` (env -> value) may appear once on stdout only."""
        assert crash_logs(self.state_home) == [], "skclaw wrote a crash log"
        found = self.channels(run, argv)
        leaks = [
            f"{tok} in {where}"
            for where, text in found.items()
            for tok in self.tokens
            if tok in text or json.dumps(tok)[1:-1] in text
        ]
        assert leaks == [], "secret canaries leaked:\n" + "\n".join(leaks)
        for value in (printed or {}).values():
            assert run.stdout.count(value) == 1, "a printed value appears exactly once on stdout"
            for where, text in found.items():
                if where != "stdout":
                    assert value not in text, f"the printed value leaked to {where}"

    def snapshot(self, directory: Path) -> None:
        """Copy what a run may change on disk (the project, HOME, the state dir) to directory."""
        for name, path in self._places().items():
            if path.exists():
                shutil.copytree(path, directory / name, symlinks=True)

    def restore(self, directory: Path) -> None:
        """Put back what :meth:`snapshot` copied; remove what did not exist then."""
        for name, path in self._places().items():
            shutil.rmtree(path, ignore_errors=True)
            if (directory / name).exists():
                shutil.copytree(directory / name, path, symlinks=True)

    def _places(self) -> dict[str, Path]:
        return {"project": self.project.path, "home": self.home, "state": self.state_home}

    def envfile(self, env: str) -> dict[str, str]:
        path = self.project.path / ".secrets" / f"{env}.env"
        return parse_dotenv(path.read_text("utf-8"), filename=path.name).values


def exception_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), *map(str, current.args)]
        for attr in ("message", "hint", "detail", "partial_result"):
            value = getattr(current, attr, None)
            if value is not None:
                parts.append(json.dumps(value, default=str, ensure_ascii=False))
        parts += traceback.format_exception(type(current), current, current.__traceback__)
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.fixture
def leak(
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
    wrangler_bin: Path,
    real_wrangler_bin: Path,
    cf_env: dict[str, str],
    isolated_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Leak]:
    api_token = token()
    emulator.token = api_token
    state_home = tmp_path / "state"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", api_token)
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    # The worst a user can have set: skclaw must take both away from wrangler.
    monkeypatch.setenv("WRANGLER_LOG", "debug")
    monkeypatch.setenv("WRANGLER_LOG_SANITIZE", "false")
    monkeypatch.delenv("CI", raising=False)

    values: dict[str, dict[str, str]] = {}
    tokens = [api_token]
    for env in sample_project.envs:
        values[env], found = awkward_values(env)
        tokens += found
    use_envfile(sample_project, values, required=["API_TOKEN", "DB_PASSWORD"], optional=["PEM"])
    for env in sample_project.envs:
        worker_side, found = awkward_values(env)  # what the Worker holds now: never read back
        tokens += found
        emulator.seed_worker(sample_project.worker(env), secrets={**worker_side, "UNMANAGED": token()})
    shutil.rmtree(sample_project.migrations_dir)  # deploy: no `d1 migrations list`

    state = Leak(sample_project, emulator, wrangler_bin, isolated_home, state_home, values, tokens,
                 real=wrangler_bin == real_wrangler_bin)
    original = cli.execute

    def spy(app: Any, name: str, call: Callable[[], Any]) -> int:
        def watched() -> Any:
            try:
                return call()
            except BaseException as exc:
                state.exceptions.append(exc)
                raise

        return int(original(app, name, watched))

    monkeypatch.setattr(cli, "execute", spy)
    yield state
    skclaw_logger = logging.getLogger("skclaw")  # -v/-vv configured it for this process
    skclaw_logger.handlers.clear()
    skclaw_logger.setLevel(logging.NOTSET)
    reset_redaction()


def echo_fault(leak: Leak, method: str, path: str, env: str = "staging") -> None:
    """An API error whose message repeats the secret values (as some validation errors do)."""
    echoed = " ".join(leak.values[env][k] for k in ("API_TOKEN", "DB_PASSWORD"))
    leak.emulator.inject_fault(method, path, status=400, code=10021, message=f"Invalid value: {echoed}", times=-1)
    leak.echoed = True


# ----------------------------------------------------------------------------- scenarios
# name -> (setup(leak) -> (args, input, expected exit code))
Setup = Callable[[Leak], tuple[list[str], str | None, int]]


def sync_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["secrets", "sync", "-e", "staging", "-e", "production", "--yes"], None, 0


def sync_dry_run_prune(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["secrets", "sync", "-e", "staging", "-e", "production", "--prune", "--dry-run"], None, 0


def sync_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    echo_fault(leak, "PATCH", r"/settings$")
    return ["secrets", "sync", "-e", "staging"], None, 1


def sync_put_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    echo_fault(leak, "PUT", r"/secrets$")
    # PEM and DB_PASSWORD end without whitespace: `secret put` is allowed for them.
    return ["secrets", "sync", "-e", "staging", "--method", "put"], None, 1


def list_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["secrets", "list", "-e", "staging", "-e", "production"], None, 0


def list_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    echo_fault(leak, "GET", r"/secrets$")
    return ["secrets", "list", "-e", "staging"], None, 1


def set_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    value = token()
    leak.tokens.append(value)
    return ["secrets", "set", "API_TOKEN", "-e", "staging", "--push"], value + "\n", 0


def set_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    value = token()
    leak.tokens.append(value)
    leak.emulator.inject_fault("PATCH", r"/settings$", status=400, code=10021, message=f"bad: {value}", times=-1)
    leak.echoed = True
    return ["secrets", "set", "API_TOKEN", "-e", "staging", "--push"], value + "\n", 1


def rotate_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["secrets", "rotate", "API_TOKEN", "-e", "staging", "-e", "production", "--yes"], None, 0


def rotate_from_stdin_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    value = token()
    leak.tokens.append(value)
    leak.emulator.inject_fault("PATCH", r"/settings$", status=400, code=10021, message=f"bad: {value}", times=-1)
    leak.echoed = True
    return ["secrets", "rotate", "API_TOKEN", "-e", "staging", "--from-stdin"], value + "\n", 1


def deploy_with_secrets(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["deploy", "-e", "production", "--yes", "--with-secrets", "-m", "leak test"], None, 0


def deploy_with_secrets_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    echo_fault(leak, "POST", r"/versions$")
    return ["deploy", "-e", "staging", "--with-secrets"], None, 1


def deploy_dry_run_with_secrets(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["deploy", "-e", "production", "--dry-run", "--with-secrets"], None, 0


def deploy_plain(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["deploy", "-e", "staging"], None, 0


def status_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["status", "-e", "staging", "-e", "production"], None, 0


def status_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    leak.emulator.inject_fault("GET", r"/deployments$", status=400, code=10021, message="no", times=-1)
    return ["status", "-e", "staging"], None, 1


def rollback_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    leak.emulator.put_secret(leak.project.worker("staging"), "API_TOKEN", token())
    return ["rollback", "-e", "staging", "--yes"], None, 0


def rollback_api_error(leak: Leak) -> tuple[list[str], str | None, int]:
    leak.emulator.put_secret(leak.project.worker("staging"), "API_TOKEN", token())
    leak.emulator.inject_fault("POST", r"/deployments$", status=400, code=10021, message="no", times=-1)
    return ["rollback", "-e", "staging", "--yes"], None, 1


def rollback_unverified(leak: Leak) -> tuple[list[str], str | None, int]:
    leak.emulator.put_secret(leak.project.worker("staging"), "API_TOKEN", token())
    # The deployments POST answers success but changes nothing: skclaw must notice and say so.
    leak.emulator.add_route(
        "POST", r"/accounts/([^/]+)/workers/scripts/([^/]+)/deployments",
        lambda rec, account, name: {"id": "00000000-0000-4000-8000-000000000000"},
    )
    return ["rollback", "-e", "staging", "--yes"], None, 1


def _migrations(leak: Leak) -> None:
    leak.project.migrations_dir.mkdir(exist_ok=True)
    (leak.project.migrations_dir / "0001_t.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    leak.project.create_databases(leak.emulator)


def migrate_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    _migrations(leak)
    return ["migrate", "-e", "staging", "--remote"], None, 0


def migrate_no_bookmark(leak: Leak) -> tuple[list[str], str | None, int]:
    _migrations(leak)
    leak.emulator.inject_fault("GET", r"/time_travel/bookmark$", status=400, code=7400, message="no", times=-1)
    return ["migrate", "-e", "production", "--remote", "--yes"], None, 1


def doctor_ok(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["doctor", "-e", "staging", "-e", "production"], None, 0


def doctor_missing_source(leak: Leak) -> tuple[list[str], str | None, int]:
    (leak.project.path / ".secrets" / "production.env").unlink()
    return ["doctor"], None, 1


def init_overwrite(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["init", "--yes", "--source", "envfile", "--required", "API_TOKEN"], None, 0


def init_refused(leak: Leak) -> tuple[list[str], str | None, int]:
    return ["init"], None, 3


SCENARIOS: dict[str, Setup] = {
    f.__name__: f
    for f in (
        sync_ok, sync_dry_run_prune, sync_api_error, sync_put_api_error, list_ok, list_api_error, set_ok,
        set_api_error, rotate_ok, rotate_from_stdin_api_error, deploy_with_secrets, deploy_with_secrets_api_error,
        deploy_dry_run_with_secrets, deploy_plain, status_ok, status_api_error, rollback_ok, rollback_api_error,
        rollback_unverified,
        migrate_ok, migrate_no_bookmark, doctor_ok, doctor_missing_source, init_overwrite, init_refused,
    )
}


def insert_style(args: list[str], style: str) -> list[str]:
    before, after = STYLES[style]
    return [*before, *args, *after]


# skclaw's wrangler calls differ between two runs from the same state (a fresh random value in
# stdin, a temp file's path in argv): no replay, each style runs live from its own fixture.
# (rotate: a new random value; migrate: the applied_at time it records; deploy --with-secrets:
# its secrets file's temp path.)
LIVE_EACH_STYLE = {
    "rotate_ok", "migrate_ok", "deploy_with_secrets", "deploy_with_secrets_api_error", "deploy_dry_run_with_secrets",
}
# Run through the real wrangler (see the module's docstring); the others through the double.
REAL_WRANGLER = {
    "sync_ok", "sync_put_api_error", "set_api_error", "rotate_ok", "migrate_ok", "doctor_ok",
    "deploy_with_secrets", "deploy_with_secrets_api_error", "deploy_dry_run_with_secrets", "deploy_plain",
    "rollback_ok", "rollback_api_error", "rollback_unverified",
}
REPLAYED = "+".join(STYLES)
FIRST_STYLE = next(iter(STYLES))


def case(scenario: str, style: str) -> Any:
    real = scenario in REAL_WRANGLER and style in (REPLAYED, FIRST_STYLE)
    return pytest.param(scenario, style, id=f"{scenario}-{style}",
                        marks=[pytest.mark.real_wrangler] if real else [])


CASES = [
    case(scenario, style)
    for scenario in SCENARIOS
    for style in (list(STYLES) if scenario in LIVE_EACH_STYLE else [REPLAYED])
]


def check_style(leak: Leak, scenario: str, style: str, args: list[str], stdin: str | None, code: int,
                wrangler: Path | None = None, env: dict[str, str] | None = None, replayed: bool = False) -> None:
    run, argv = leak.run(insert_style(args, style), code=code, input=stdin, wrangler=wrangler, env=env)
    if leak.real and not replayed and any(Path(a[0]).name == "wrangler" for a in argv):
        # The log channel is searched, not empty: the real wrangler writes its log under HOME.
        assert list(leak.home.rglob("wrangler-*.log")), "the real wrangler wrote no log under HOME"
    if style.startswith("json"):
        envelope = run.envelope
        assert envelope["exitCode"] == code
    if scenario in ("rotate_ok", "rotate_from_stdin_api_error", "set_api_error", "set_ok"):
        for env_name in ("staging", "production"):
            new = leak.envfile(env_name).get("API_TOKEN")
            if new and new not in leak.tokens:
                leak.tokens.append(new)  # the rotated value, read back from the source
    if code != 0:  # a failure always says what failed, in human output too (doctor: its FAIL lines)
        assert "error:" in run.stderr or (scenario.startswith("doctor") and "FAIL" in run.stderr), run.stderr
    if leak.echoed:  # wrangler's error, relayed with the echoed values masked (not dropped)
        assert MASK in run.stderr, run.stderr
    leak.assert_clean(run, argv)


@pytest.mark.parametrize(("scenario", "style"), CASES)
def test_no_canary_leaks(scenario: str, style: str, leak: Leak, tmp_path: Path) -> None:
    args, stdin, code = SCENARIOS[scenario](leak)
    if style != REPLAYED:
        check_style(leak, scenario, style, args, stdin, code)
        return
    shim = tape_wrangler(leak.wrangler, tmp_path / "tape-wrangler")
    tape = tmp_path / "tape"
    leak.snapshot(tmp_path / "before")
    for index, each in enumerate(STYLES):
        if index:
            leak.restore(tmp_path / "before")
        check_style(leak, scenario, each, args, stdin, code, wrangler=shim,
                    env=tape_env(tape, leak.wrangler, record=index == 0), replayed=index > 0)
        assert not (tape / "misses.log").exists(), (tape / "misses.log").read_text()


@pytest.mark.parametrize("style", [pytest.param(FIRST_STYLE, marks=pytest.mark.real_wrangler),
                                   *list(STYLES)[1:]])
def test_print_value_shows_each_new_value_once_on_stdout_only(style: str, leak: Leak) -> None:
    envs = ["staging"] if style == "human-vv" else ["staging", "production"]
    args = ["secrets", "rotate", "API_TOKEN", "--yes", "--print-value"]
    for env in envs:
        args += ["-e", env]
    run, argv = leak.run(insert_style(args, style), code=0)
    printed = {env: leak.envfile(env)["API_TOKEN"] for env in envs}
    for env in envs:
        assert leak.emulator.secrets(leak.project.worker(env))["API_TOKEN"] == printed[env]
    if style == "human-vv":
        assert run.stdout == printed["staging"] + "\n"
    else:
        assert {e: v["value"] for e, v in run.envelope["result"]["environments"].items()} == printed
    leak.assert_clean(run, argv, printed=printed)
