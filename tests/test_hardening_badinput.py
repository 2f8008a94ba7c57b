"""A corpus of bad and hostile input. Each case runs skclaw in-process (bad input never gets
as far as wrangler, so no process is needed) and must end with a clear message and exit 1 or 2:
never a traceback, never a crash log, never a hang. Bad input (exit 2) is caught before wrangler
runs: the wrangler given to skclaw is a script that records every call. A sample of the cases
runs again as the real `.venv/bin/skclaw` process, where real stdin bytes and a real exit are the
point.
"""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skclaw.retry import DELAY_SCALE_ENV
from tests.conftest import SAMPLE_WRANGLER_JSONC
from tests.hardening import crash_logs, run_skclaw
from tests.skrun import Run, skclaw

DIR, FIFO, DELETE = object(), object(), object()
KIND = {1: "failed", 2: "usage"}
BASE_CONFIG = {"secrets": {"required": ["API_TOKEN"], "source": "envfile"}}
SAMPLE_SQL = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n"


def fake_wrangler(path: Path, version: str = "4.86.0", *, hang: bool = False) -> Path:
    """A wrangler that reports ``version`` and records (then fails, or hangs on) anything else."""
    marker = path.parent / f"{path.name}.calls"
    action = f'echo $$ >> "{marker}.pids"; exec sleep 300' if hang else 'echo "fake wrangler" >&2; exit 1'
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{marker}"\n'
        f'if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi\n'
        f"{action}\n"
    )
    path.chmod(0o755)
    return path


def calls(wrangler: Path) -> list[str]:
    marker = wrangler.parent / f"{wrangler.name}.calls"
    return marker.read_text().splitlines() if marker.exists() else []


@dataclass
class World:
    project: Path
    wrangler: Path
    env: dict[str, str]
    state_home: Path


# Settings from the caller's environment that would change what skclaw reads or where it goes.
_CALLER_PREFIXES = ("SKCLAW_", "CLOUDFLARE_", "CF_", "WRANGLER_", "VAULT_", "BAO_", "XDG_")


@pytest.fixture
def world(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "migrations").mkdir()
    (project / "wrangler.jsonc").write_text(SAMPLE_WRANGLER_JSONC)
    (project / "src" / "index.js").write_text("export default {};\n")
    (project / "migrations" / "0001_users.sql").write_text(SAMPLE_SQL)
    (project / ".skclaw.jsonc").write_text(json.dumps(BASE_CONFIG))
    secrets_dir = project / ".secrets"
    secrets_dir.mkdir(mode=0o700)
    for env in ("staging", "production"):
        (secrets_dir / f"{env}.env").write_text(f'API_TOKEN="token-{env}-0123456789"\n')
        (secrets_dir / f"{env}.env").chmod(0o600)
    state_home = tmp_path / "state"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "XDG_STATE_HOME": str(state_home),
        "LANG": "C.UTF-8",
        # Nothing may reach a network: an unexpected wrangler call would fail fast anyway.
        "CLOUDFLARE_API_TOKEN": "unused",
        "CLOUDFLARE_API_BASE_URL": "http://127.0.0.1:9/client/v4",
        DELAY_SCALE_ENV: os.environ.get(DELAY_SCALE_ENV, "1"),
    }
    # In-process runs see os.environ: make it this environment and nothing else of the caller's.
    for key in list(os.environ):
        if key.startswith(_CALLER_PREFIXES) and key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return World(project, fake_wrangler(tmp_path / "wrangler"), env, state_home)


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    code: int
    message: str
    files: dict[str, object] = field(default_factory=dict)
    stdin: bytes | None = None
    wrangler_ok: bool = False  # wrangler may be asked (doctor, or a failure that is not bad input)
    global_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


SYNC = ["secrets", "sync", "-e", "staging", "--dry-run"]
STATUS = ["status", "-e", "staging"]


def cfg(data: object) -> dict[str, object]:
    return {".skclaw.jsonc": json.dumps(data)}


def wcfg(text: str | bytes, name: str = "wrangler.jsonc") -> dict[str, object]:
    files: dict[str, object] = {"wrangler.jsonc": DELETE}
    files[name] = text
    return files


_DEEP = "[" * 100_000 + "]" * 100_000
_HUGE_BAD = '{"secrets": {"required": [' + ",".join(["1"] * 2_000_000) + "]}}"
_FLOOD = "{" + ",".join(f'"k{i}": {i}' for i in range(300_000)) + "}"

CASES = [
    # -- .skclaw.jsonc ---------------------------------------------------------------------------
    Case("config-invalid-json5", SYNC, 2, "is not valid JSONC, line 2", {".skclaw.jsonc": '{\n "secrets": [ }'}),
    Case("config-deep-nesting", SYNC, 2, "is not valid JSONC", {".skclaw.jsonc": '{"a": ' + _DEEP + "}"}),
    Case("config-huge-and-wrong", SYNC, 2, "secrets.required must be a list of strings",
         {".skclaw.jsonc": _HUGE_BAD}),
    Case("config-flood-of-unknown-keys", [*SYNC[:3], "nope", "--dry-run"], 2, "unknown keys",
         {".skclaw.jsonc": _FLOOD}),
    Case("config-top-level-array", SYNC, 2, "the top level must be an object", cfg([])),
    Case("config-protected-not-a-list", SYNC, 2, "protectedEnvironments must be a list of strings",
         cfg({"protectedEnvironments": "production"})),
    Case("config-protected-ints", SYNC, 2, "protectedEnvironments must be a list of strings",
         cfg({"protectedEnvironments": [1]})),
    Case("config-secrets-not-an-object", SYNC, 2, "secrets must be an object", cfg({"secrets": []})),
    Case("config-required-not-a-list", SYNC, 2, "secrets.required must be a list",
         cfg({"secrets": {"required": "API_TOKEN"}})),
    Case("config-env-settings-not-an-object", SYNC, 2, "environments.staging must be an object",
         cfg({"environments": {"staging": "vault"}})),
    Case("config-build-not-a-string", ["deploy", "-e", "staging", "--dry-run"], 2, "build must be a string",
         cfg({"build": ["npm", "run", "build"]})),
    Case("config-unknown-source", SYNC, 2, "unknown source 's3'", cfg({"secrets": {"source": "s3"}})),
    Case("config-unknown-source-settings", SYNC, 2, "unknown source 's3'", cfg({"sources": {"s3": {}}})),
    Case("config-unknown-env-source", SYNC, 2, "unknown source 'gcp'",
         cfg({"environments": {"staging": {"source": "gcp"}}})),
    Case("config-not-utf8", SYNC, 2, "is not UTF-8", {".skclaw.jsonc": b'{"build": "\xff\xfe"}'}),
    Case("config-is-a-directory", SYNC, 2, "is a directory", {".skclaw.jsonc": DIR}),
    Case("config-flag-names-a-directory", SYNC, 2, "is a directory", {"confdir": DIR},
         global_args=["--config", "{project}/confdir"]),
    Case("config-flag-names-nothing", SYNC, 2, "does not exist", global_args=["--config", "{project}/nope.jsonc"]),
    Case("config-env-var-names-nothing", SYNC, 2, "does not exist", env={"SKCLAW_CONFIG": "/nonexistent.jsonc"}),
    Case("config-placeholder-attribute", SYNC, 2, "placeholder",
         cfg({**BASE_CONFIG, "sources": {"envfile": {"path": "{env.__class__.__name__}.env"}}})),
    Case("config-placeholder-unknown", SYNC, 2, "placeholder",
         cfg({**BASE_CONFIG, "sources": {"envfile": {"path": "{home}/.env"}}})),
    Case("config-vault-token-in-file", SYNC, 2, "sources.vault.token is not allowed",
         cfg({"secrets": {"required": ["A"], "source": "vault"}, "sources": {"vault": {"token": "s.x"}}})),
    Case("config-wrangler-config-missing", SYNC, 2, "does not exist", cfg({"wranglerConfig": "nope.toml"})),
    # -- wrangler config -------------------------------------------------------------------------
    Case("wrangler-invalid-jsonc", SYNC, 2, "is not valid JSONC", wcfg('{"name": "demo", "env": {')),
    Case("wrangler-invalid-toml", SYNC, 2, "is not valid TOML", wcfg('name = "demo"\n[env\n', "wrangler.toml")),
    Case("wrangler-toml-deep-nesting", SYNC, 2, "wrangler.toml",
         wcfg('name = "demo"\nx = ' + _DEEP + "\n", "wrangler.toml")),
    Case("wrangler-toml-not-utf8", SYNC, 2, "wrangler.toml", wcfg(b'name = "\xff"\n', "wrangler.toml")),
    Case("wrangler-top-level-array", SYNC, 2, "must be an object at the top level", wcfg("[]")),
    Case("wrangler-env-not-an-object", SYNC, 2, "env must be an object", wcfg('{"name": "demo", "env": []}')),
    Case("wrangler-env-block-not-an-object", SYNC, 2, "env.staging must be an object",
         wcfg('{"name": "demo", "env": {"staging": 5}}')),
    Case("wrangler-missing-name", SYNC, 2, "gives no Worker name",
         wcfg('{"main": "src/index.js", "env": {"staging": {}}}')),
    Case("wrangler-name-not-a-string", SYNC, 2, "name", wcfg('{"name": 5, "env": {"staging": {}}}')),
    Case("wrangler-d1-not-a-list", ["migrate", "-e", "staging", "--remote"], 2,
         "d1_databases of 'staging' must be a list",
         wcfg('{"name": "demo", "env": {"staging": {"d1_databases": {"binding": "DB"}}}}')),
    Case("wrangler-d1-entry-without-binding", ["migrate", "-e", "staging"], 2, "needs a binding",
         wcfg('{"name": "demo", "env": {"staging": {"d1_databases": [{"database_name": "x"}]}}}')),
    Case("wrangler-required-secrets-not-names", SYNC, 2, "must be a list of names",
         wcfg('{"name": "demo", "env": {"staging": {"secrets": {"required": "A"}}}}')),
    Case("wrangler-config-absent", SYNC, 2, "No wrangler config", {"wrangler.jsonc": DELETE}),
    Case("wrangler-unknown-extension", SYNC, 2, "must end in .json, .jsonc or .toml",
         {**cfg({**BASE_CONFIG, "wranglerConfig": "wrangler.yaml"}), "wrangler.yaml": "name: x\n"}),
    # -- environments ----------------------------------------------------------------------------
    Case("unknown-env", ["secrets", "sync", "-e", "nope"], 2, "Unknown environment 'nope'"),
    Case("unknown-env-from-SKCLAW_ENV", ["deploy"], 2, "Unknown environment 'nope'", env={"SKCLAW_ENV": "nope"}),
    Case("unknown-env-rollback", ["rollback", "-e", "prod", "--yes"], 2, "Available environments"),
    Case("unknown-env-migrate", ["migrate", "-e", "prod", "--remote"], 2, "Unknown environment 'prod'"),
    Case("env-and-all-envs", ["secrets", "sync", "-e", "staging", "--all-envs"], 2, "either --env or --all-envs"),
    # -- secret names ----------------------------------------------------------------------------
    Case("only-invalid-name", [*SYNC, "--only", "1BAD"], 2, "Invalid secret name '1BAD' in --only"),
    Case("only-not-in-manifest", [*SYNC, "--only", "OTHER"], 2, "not in the manifest"),
    Case("manifest-invalid-name", SYNC, 2, "Invalid secret name 'API-TOKEN'",
         cfg({"secrets": {"required": ["API-TOKEN"], "source": "envfile"}})),
    Case("wrangler-manifest-invalid-name", SYNC, 2, "Invalid secret name 'bad name'",
         wcfg('{"name": "demo", "env": {"staging": {"secrets": {"required": ["bad name"]}}}}')),
    Case("set-invalid-name", ["secrets", "set", "BAD-NAME", "-e", "staging"], 2, "Invalid secret name", stdin=b"v1"),
    Case("rotate-invalid-name", ["secrets", "rotate", "9LIVES", "-e", "staging"], 2, "Invalid secret name"),
    Case("source-key-invalid-name", SYNC, 2, "Invalid secret name 'bad-key'",
         {**cfg({"secrets": {"source": "envfile"}}), ".secrets/staging.env": "bad-key=1\n"}),
    # -- secret values ---------------------------------------------------------------------------
    Case("set-empty-value", ["secrets", "set", "API_TOKEN", "-e", "staging"], 2, "is empty", stdin=b"\n"),
    Case("set-oversized-value", ["secrets", "set", "API_TOKEN", "-e", "staging"], 2, "larger than 5120 bytes",
         stdin=b"x" * 6000),
    Case("set-not-utf8", ["secrets", "set", "API_TOKEN", "-e", "staging"], 2, "UTF-8", stdin=b"\xff\xfe\xfd"),
    Case("rotate-empty-from-stdin", ["secrets", "rotate", "API_TOKEN", "-e", "staging", "--from-stdin", "--no-push"],
         2, "is empty", stdin=b""),
    Case("rotate-oversized-from-stdin",
         ["secrets", "rotate", "API_TOKEN", "-e", "staging", "--from-stdin", "--no-push"], 2, "larger than",
         stdin=b"y" * 9000),
    Case("rotate-not-utf8-from-stdin",
         ["secrets", "rotate", "API_TOKEN", "-e", "staging", "--from-stdin", "--no-push"], 2, "UTF-8",
         stdin=b"\xc3\x28"),
    Case("source-oversized-value", SYNC, 2, "larger than",
         {".secrets/staging.env": 'API_TOKEN="' + "z" * 6000 + '"\n'}),
    Case("dotenv-not-utf8", SYNC, 2, "the value of API_TOKEN", {".secrets/staging.env": b"API_TOKEN=\xff\xfe\n"}),
    Case("dotenv-syntax", SYNC, 2, "line 2", {".secrets/staging.env": 'A=1\nAPI_TOKEN="never closed\n'}),
    # skclaw 0.1.0 read \" as an escape; wrangler's dialect keeps it: refused, not pushed changed
    Case("dotenv-dialect-changed", SYNC, 2, "sets API_TOKEN in a way that earlier skclaw versions",
         {".secrets/staging.env": 'API_TOKEN="token-\\"quoted\\"-0123456789"\n'}),
    Case("dotenv-is-a-fifo", SYNC, 1, "staging.env", {".secrets/staging.env": FIFO}),
    Case("dotenv-is-a-directory", SYNC, 1, "is a directory", {".secrets/staging.env": DIR}),
    # -- usage -----------------------------------------------------------------------------------
    Case("unknown-command", ["deploi"], 2, "No such command"),
    Case("bad-method", [*SYNC, "--method", "fast"], 2, "'fast' is not one of"),
    Case("rotate-too-few-bytes", ["secrets", "rotate", "API_TOKEN", "--bytes", "8"], 2, "--bytes"),
    Case("prune-with-only", [*SYNC, "--prune", "--only", "API_TOKEN"], 2, "--prune cannot be combined with --only"),
    Case("remote-and-local", ["migrate", "-e", "staging", "--remote", "--local"], 2, "exclude each other"),
    Case("rollback-bad-version", ["rollback", "v1", "-e", "staging", "--yes"], 2, "is not a Worker version id"),
    Case("project-dir-missing", SYNC, 2, "is not a directory", global_args=["-C", "/nonexistent/dir"]),
    # -- wrangler itself -------------------------------------------------------------------------
    Case("wrangler-missing", STATUS, 1, "not an executable file", global_args=["--wrangler", "/nonexistent/wrangler"]),
    Case("wrangler-missing-from-env", STATUS, 1, "SKCLAW_WRANGLER is not an executable file",
         env={"SKCLAW_WRANGLER": "/nonexistent/wrangler"}),
    Case("wrangler-not-executable", STATUS, 1, "not an executable file", {"wrangler.sh": "#!/bin/sh\n"},
         global_args=["--wrangler", "{project}/wrangler.sh"]),
    Case("wrangler-ancient", STATUS, 1, "wrangler 3.0.0", wrangler_ok=True),
]


def apply_files(project: Path, files: dict[str, object]) -> None:
    for relative, content in files.items():
        path = project / relative
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        elif path.exists():
            path.unlink()
        if content is DELETE:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is DIR:
            path.mkdir()
        elif content is FIFO:
            os.mkfifo(path, 0o600)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(str(content))
        if relative.startswith(".secrets/") and path.is_file():
            path.chmod(0o600)


def case_argv(world: World, case: Case, json_mode: bool) -> list[str]:
    if case.id == "wrangler-ancient":
        fake_wrangler(world.wrangler, "3.0.0")
    apply_files(world.project, case.files)
    global_args = [a.format(project=world.project) for a in case.global_args]
    argv = ["-C", str(world.project)] if "-C" not in global_args else []
    if "--wrangler" not in global_args and "SKCLAW_WRANGLER" not in case.env:
        argv += ["--wrangler", str(world.wrangler)]
    return [*argv, *global_args, *case.args, *(["--json"] if json_mode else [])]


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, json_mode: bool, world: World) -> None:
    argv = case_argv(world, case, json_mode)
    started = time.monotonic()
    run = skclaw(argv, input=case.stdin, env=case.env)
    assert time.monotonic() - started < 30
    check_bad_input_run(run, world, case, json_mode)


# The same checks through the installed entry point, one case per kind of input.
REAL_PROCESS_CASES = [
    "config-invalid-json5", "wrangler-invalid-toml", "unknown-env-from-SKCLAW_ENV", "set-not-utf8",
    "rotate-empty-from-stdin", "dotenv-is-a-fifo", "unknown-command", "wrangler-missing-from-env",
]


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("case", [c for c in CASES if c.id in REAL_PROCESS_CASES], ids=REAL_PROCESS_CASES)
def test_bad_input_in_a_real_process(case: Case, json_mode: bool, world: World) -> None:
    argv = case_argv(world, case, json_mode)
    started = time.monotonic()
    run = run_skclaw(argv, env={**world.env, **case.env}, stdin=case.stdin, timeout=30)
    assert time.monotonic() - started < 30
    check_bad_input_run(run, world, case, json_mode)


def check_bad_input_run(run: Run, world: World, case: Case, json_mode: bool) -> None:
    assert "Traceback" not in run.output, run.output
    assert crash_logs(world.state_home) == [], run.output
    assert run.code == case.code, f"exit {run.code}, expected {case.code}:\n{run.stderr[-3000:]}"
    assert case.message in run.stderr, run.stderr[-3000:]
    assert "error" in run.stderr.lower()
    assert len(run.stderr) < 20_000, "the message should be short, not a flood"
    if json_mode:
        envelope = run.envelope
        assert envelope["ok"] is False and envelope["exitCode"] == case.code
        assert envelope["error"]["kind"] == KIND[case.code]
    else:
        assert run.stdout == ""
    if not case.wrangler_ok:
        assert [c for c in calls(world.wrangler) if c != "--version"] == [], "bad input reached wrangler"


# ----------------------------------------------------------------------------- slow dependencies


def test_hanging_wrangler_is_bounded(world: World) -> None:
    """wrangler that never answers: each call is stopped at the timeout the user set with
    SKCLAW_WRANGLER_TIMEOUT (with its whole process group), retried as transient, then reported."""
    hanging = fake_wrangler(world.wrangler.parent / "hanging-wrangler", hang=True)
    started = time.monotonic()
    run = skclaw(["secrets", "list", "-e", "staging", "--json"], project=world.project, wrangler=hanging,
                 env={"SKCLAW_WRANGLER_TIMEOUT": "1"})
    elapsed = time.monotonic() - started
    assert run.code == 1, run.stderr
    assert "timed out after 1s" in run.envelope["result"]["environments"]["staging"]["error"]
    assert "Traceback" not in run.output and crash_logs(world.state_home) == []
    assert elapsed < 30
    attempts = [c for c in calls(hanging) if c != "--version"]
    assert len(attempts) == 3  # transient: retried, within the retry budget
    pids = (hanging.parent / f"{hanging.name}.calls.pids").read_text().split()
    for pid in pids:  # the whole process group was killed, not only the shell
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"wrangler child {pid} survived"


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


class _SlowVault(http.server.BaseHTTPRequestHandler):
    delay = 10.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b'{"errors": []}'
        try:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_vault() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowVault)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_slow_vault_is_bounded_by_its_timeout(world: World, slow_vault: str, json_mode: bool) -> None:
    config = {"secrets": {"required": ["API_TOKEN"], "source": "vault"}, "sources": {"vault": {"timeout": 1}}}
    (world.project / ".skclaw.jsonc").write_text(json.dumps(config))
    env = {**world.env, "VAULT_ADDR": slow_vault, "VAULT_TOKEN": "hvs.test-token-not-real"}
    argv = ["-C", str(world.project), "--wrangler", str(world.wrangler), *SYNC, *(["--json"] if json_mode else [])]
    run = run_skclaw(argv, env=env, timeout=30)
    assert run.code == 1, run.stderr
    assert "did not answer within 1 s" in run.stderr
    assert run.seconds < 8, "the vault source must give up after its timeout (1 s), not wait for the server (10 s)"
    assert "Traceback" not in run.output and crash_logs(world.state_home) == []
    assert "hvs.test-token-not-real" not in run.output
    assert calls(world.wrangler) == []
    if json_mode:
        assert run.envelope["error"]["kind"] == "failed"


def test_fifo_config_names_are_not_opened(world: World) -> None:
    """A named pipe where a file is expected must not block skclaw (nobody writes to it)."""
    for name in (".skclaw.jsonc", "wrangler.jsonc"):
        apply_files(world.project, {name: FIFO})
        run = run_skclaw(["-C", str(world.project), "--wrangler", str(world.wrangler), *SYNC],
                         env=world.env, timeout=20)
        assert run.code == 2, run.stderr
        assert "Traceback" not in run.output
        apply_files(world.project, {name: DELETE})
    assert stat.S_ISDIR(os.stat(world.project).st_mode)
