"""Production protection against hostile input and careless CI, with the real wrangler against the
emulator: argument injection, signals, a repo's `.env`, bad values, symlinks, independent envs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cfemu import CloudflareEmulator, Gate
from tests.conftest import SampleProject
from tests.hardening import changes, use_envfile
from tests.skrun import Run, skclaw

# What only the real wrangler can show (its process tree under signals, its own output, its loading
# of a project's .env) runs it for every call; the rest of this file is skclaw's own defence.
REAL = pytest.mark.real_wrangler

STAGING, PRODUCTION = "demo-worker-staging", "demo-worker-prod"
BULK = r"/(settings|secrets-bulk)$"


def run(project: SampleProject, wrangler: Path, *args: str, input: str | bytes | None = None) -> Run:
    return skclaw(list(args), project=project.path, wrangler=wrangler, input=input, env={"CI": None})


def seeded(project: SampleProject, emulator: CloudflareEmulator, values: dict[str, dict[str, str]]) -> None:
    for env in project.envs:
        emulator.seed_worker(project.worker(env), secrets={"API_TOKEN": "old"})
    use_envfile(project, values, required=["API_TOKEN"])
    emulator.clear_requests()


def start(project: SampleProject, wrangler: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "skclaw", "-C", str(project.path), "--wrangler", str(wrangler), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
    )


def wait_for(check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def wrangler_processes(marker: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and "wrangler" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# ----------------------------------------------------------------------------- argument injection


def test_a_message_that_looks_like_a_flag_cannot_retarget_the_rollback(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    prod_first = emulator.seed_worker(PRODUCTION)
    prod_live = emulator.put_secret(PRODUCTION, "A", "newer")
    emulator.seed_worker(STAGING)
    emulator.put_secret(STAGING, "A", "newer")

    attack = run(sample_project, wrangler_bin, "rollback", prod_first, "--env", "staging", "--yes",
                 "-m", f"--name={PRODUCTION}", "--json")

    # wrangler got --message=--name=...: it looked for production's version on staging's Worker.
    assert attack.code == 1, attack.output
    assert emulator.current_version_id(PRODUCTION) == prod_live
    assert [d for d in emulator.deployments(PRODUCTION) if d.get("annotations", {}).get("workers/message")] == []


def test_a_message_starting_with_a_dash_is_just_a_message(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    previous = emulator.seed_worker(STAGING)
    emulator.put_secret(STAGING, "A", "newer")
    done = run(sample_project, wrangler_bin, "rollback", "--env", "staging", "--yes", "-m", "-fix typo", "--json")
    assert done.code == 0, done.output
    assert emulator.current_version_id(STAGING) == previous
    assert emulator.deployments(STAGING)[-1]["annotations"]["workers/message"] == "-fix typo"


# ----------------------------------------------------------------------------- a repo's .env


@REAL
def test_a_project_env_file_cannot_unmask_values_or_break_parsing(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    isolated_home: Path,
) -> None:
    canary = "CANARY-dotenv-5d1e0c93aa"
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": canary}})
    (sample_project.path / ".env").write_text("WRANGLER_LOG_SANITIZE=false\nWRANGLER_LOG=debug\n")

    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")

    assert done.code == 0, done.output  # WRANGLER_LOG=debug would corrupt `secret list` JSON
    assert emulator.secrets(STAGING)["API_TOKEN"] == canary
    logs = list(isolated_home.rglob("*.log"))
    assert logs, "wrangler writes its debug log under HOME"
    for log in logs:
        assert canary not in log.read_text(errors="replace")


# ----------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("line", "why"),
    [(b'API_TOKEN=""\n', "empty"), (b'API_TOKEN="abc\x00def"\n', "NUL"), (b"API_TOKEN=caf\xe9\n", "UTF-8")],
    ids=["empty", "nul", "not-utf8"],
)
def test_a_bad_value_in_one_env_stops_every_env_before_anything_changes(
    line: bytes, why: str, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
    cf_env: dict[str, str],
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "good-staging-value"}})
    (sample_project.path / ".secrets" / "production.env").write_bytes(line)

    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--env", "production",
               "--yes", "--confirm-env", "production", "--json")

    assert done.code == 2, done.output
    message = done.envelope["error"]["message"]
    assert "production" in message and why in message and "API_TOKEN" in message
    assert emulator.requests == []  # not even planned: staging's good value is not pushed either
    for env in sample_project.envs:
        assert emulator.secrets(sample_project.worker(env))["API_TOKEN"] == "old"


def test_an_empty_ci_variable_never_overwrites_a_live_secret(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.seed_worker(PRODUCTION, secrets={"API_TOKEN": "live"})
    (sample_project.path / ".skclaw.jsonc").write_text(json.dumps({
        "secrets": {"required": ["API_TOKEN"], "source": "environ"}}))
    monkeypatch.setenv("API_TOKEN", "")  # ${{ secrets.MISSING }}
    emulator.clear_requests()
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "production", "--yes", "--json")
    assert done.code == 2, done.output
    assert "empty" in done.envelope["error"]["message"]
    assert emulator.requests == [] and emulator.secrets(PRODUCTION) == {"API_TOKEN": "live"}


def test_deploy_with_secrets_refuses_an_empty_value(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "live"})
    (sample_project.path / ".skclaw.jsonc").write_text(json.dumps({
        "secrets": {"required": ["API_TOKEN"], "source": "environ"}}))
    monkeypatch.setenv("API_TOKEN", "")
    emulator.clear_requests()
    done = run(sample_project, wrangler_bin, "deploy", "--env", "staging", "--with-secrets", "--yes", "--json")
    assert done.code == 2, done.output
    assert "empty" in done.envelope["error"]["message"]
    assert changes(emulator) == [] and emulator.secrets(STAGING) == {"API_TOKEN": "live"}


# ----------------------------------------------------------------------------- independent envs


def test_a_planning_failure_in_one_env_does_not_stop_the_others(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    seeded(sample_project, emulator, {env: {"API_TOKEN": f"new-{env}-value"} for env in sample_project.envs})
    emulator.inject_fault("GET", rf"/scripts/{STAGING}/secrets$", status=403, code=10000,
                          message="Authentication error", times=-1)

    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--env", "production",
               "--yes", "--json")

    assert done.code == 4, done.output
    envs = done.envelope["result"]["environments"]
    assert envs["staging"]["status"] == "failed" and "planning failed" in envs["staging"]["error"]
    assert envs["production"]["status"] == "ok" and envs["production"]["pushed"] == ["API_TOKEN"]
    assert emulator.secrets(PRODUCTION)["API_TOKEN"] == "new-production-value"
    assert emulator.secrets(STAGING)["API_TOKEN"] == "old"
    assert done.envelope["error"]["kind"] == "partial"
    assert "production" in done.envelope["error"]["message"]  # says where the new values are


def test_when_every_env_fails_to_plan_it_is_exit_1(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    seeded(sample_project, emulator, {env: {"API_TOKEN": f"new-{env}-value"} for env in sample_project.envs})
    emulator.inject_fault("GET", r"/secrets$", status=403, code=10000, message="Authentication error", times=-1)
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--env", "production",
               "--yes", "--json")
    assert done.code == 1, done.output
    assert changes(emulator) == []


# ----------------------------------------------------------------------------- signals


def hold_bulk_writes(emulator: CloudflareEmulator) -> Gate:
    """Hold `secret bulk`'s write in flight. It is the one request every wrangler 4.x bulk sends
    (4.86: GET then PATCH …/settings; 4.93.1 and later: only PATCH …/secrets-bulk), so a test
    that waits for it works with the pinned and the newest wrangler alike."""
    return emulator.hold("PATCH", BULK)


def assert_nothing_landed(emulator: CloudflareEmulator, gate: Gate, *, writes: int) -> None:
    """skclaw and wrangler are gone: the held writes are dropped (as the dead connections were),
    and no write was sent, or retried, after the signal."""
    gate.release(apply=False)
    time.sleep(1)  # room for a straggler to reach the emulator, were there one
    assert len(emulator.requests_to("PATCH", BULK)) == writes == gate.arrived
    assert all(r.faulted for r in emulator.requests_to("PATCH", BULK))
    for worker in (STAGING, PRODUCTION):
        assert emulator.secrets(worker) == {"API_TOKEN": "old"}


@REAL
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["term", "hup"])
def test_sigterm_and_sighup_stop_the_sync_like_ctrl_c(
    sig: int, code: int, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
    cf_env: dict[str, str],
) -> None:
    seeded(sample_project, emulator, {env: {"API_TOKEN": f"new-{env}-value"} for env in sample_project.envs})
    gate = hold_bulk_writes(emulator)
    proc = start(sample_project, wrangler_bin, cf_env, "secrets", "sync", "-e", "staging", "-e", "production",
                 "--yes", "--confirm-env", "production", "--json")
    wait_for(lambda: gate.arrived == 2)  # both envs' writes are in flight
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err.decode()
    envelope = json.loads(out.decode().strip().splitlines()[-1])
    assert envelope["exitCode"] == code and envelope["error"]["kind"] == "interrupted"
    reported = envelope["result"]["environments"]
    assert {env: (r["status"], r["pushed"]) for env, r in reported.items()} == {
        "staging": ("failed", []), "production": ("failed", [])}  # nothing reported as pushed
    assert wrangler_processes(str(sample_project.path)) == []
    assert_nothing_landed(emulator, gate, writes=2)
    audit = [json.loads(line) for line in (sample_project.path / ".skclaw" / "audit.jsonl").read_text().splitlines()]
    assert sorted((r["env"], r["outcome"], r["keys"]) for r in audit) == [
        ("production", "interrupted", []), ("staging", "interrupted", [])]


@REAL
def test_children_die_with_a_killed_skclaw(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    seeded(sample_project, emulator, {env: {"API_TOKEN": f"new-{env}-value"} for env in sample_project.envs})
    gate = hold_bulk_writes(emulator)
    proc = start(sample_project, wrangler_bin, cf_env, "secrets", "sync", "-e", "staging", "--yes", "--json")
    wait_for(lambda: gate.arrived == 1)
    proc.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal must stop wrangler
    proc.communicate(timeout=30)
    wait_for(lambda: wrangler_processes(str(sample_project.path)) == [], timeout=15)
    assert_nothing_landed(emulator, gate, writes=1)


@REAL
def test_sigterm_during_deploy_with_secrets_leaves_no_file(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {"staging": {"API_TOKEN": "new-staging-value"}}, required=["API_TOKEN"])
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    emulator.inject_fault("POST", r"/versions", status=200, delay_seconds=8, times=-1)
    proc = start(sample_project, wrangler_bin, cf_env | {"TMPDIR": str(tmpdir)}, "deploy", "--env", "staging",
                 "--with-secrets", "--skip-build", "--yes", "--json")
    wait_for(lambda: len(emulator.requests_to("POST", r"/versions")) == 1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err.decode()
    leftovers = [p for p in tmpdir.rglob("*") if "skclaw" in p.name or p.name == "secrets.json"]
    assert leftovers == []
    assert wrangler_processes(str(sample_project.path)) == []


# ----------------------------------------------------------------------------- .skclaw/ and files


def test_a_symlinked_lock_is_refused_and_its_target_untouched(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})
    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me")
    (sample_project.path / ".skclaw" / "locks").mkdir(parents=True)
    (sample_project.path / ".skclaw" / "locks" / "staging.lock").symlink_to(victim)

    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")

    assert done.code == 2, done.output
    assert "symlink" in done.envelope["error"]["message"]
    assert victim.read_text() == "do not truncate me"
    assert changes(emulator) == []


def test_a_symlinked_audit_trail_is_refused_before_anything_changes(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})
    victim = tmp_path / "other.log"
    victim.write_text("")
    (sample_project.path / ".skclaw").mkdir()
    (sample_project.path / ".skclaw" / "audit.jsonl").symlink_to(victim)
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")
    assert done.code == 2, done.output
    assert victim.read_text() == ""
    assert changes(emulator) == []


def test_a_symlinked_state_dir_is_refused(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sample_project.path / ".skclaw").symlink_to(elsewhere)
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")
    assert done.code == 2 and "symlink" in done.envelope["error"]["message"]
    assert list(elsewhere.iterdir()) == [] and changes(emulator) == []


def test_dot_skclaw_as_a_file_is_bad_input(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})
    (sample_project.path / ".skclaw").write_text("not a directory")
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")
    assert done.code == 2, done.output
    assert "not a directory" in done.envelope["error"]["message"]
    assert changes(emulator) == []


def test_an_unwritable_audit_trail_is_a_warning_not_a_failure(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from skclaw import audit

    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})

    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("skclaw.audit._open_trail", full_disk)
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")
    assert done.code == 0, done.output
    assert "audit trail could not be written" in done.stderr and "No space left" in done.stderr
    assert emulator.secrets(STAGING)["API_TOKEN"] == "new-staging-value"
    assert audit.take_failures() == []


def test_a_dev_vars_directory_is_bad_input(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    use_envfile(sample_project, {"staging": {"API_TOKEN": "local-value"}}, required=["API_TOKEN"])
    (sample_project.path / ".dev.vars.staging").mkdir()
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--local", "--json")
    assert done.code == 2, done.output
    assert ".dev.vars.staging" in done.envelope["error"]["message"]
    assert emulator.requests == []


def test_lock_timeout_nan_is_bad_input(sample_project: SampleProject, wrangler_bin: Path) -> None:
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--lock-timeout", "nan", "--json")
    assert done.code == 2 and "nan" in done.output


def test_broken_stdout_pipe_after_success_is_reported(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(STAGING)
    r, w = os.pipe()
    os.close(r)  # the reader is gone before skclaw writes its result
    proc = subprocess.Popen(
        [sys.executable, "-m", "skclaw", "-C", str(sample_project.path), "--wrangler", str(wrangler_bin),
         "status", "--env", "staging", "--json"],
        stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cf_env,
    )
    os.close(w)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert b"broken pipe" in err and b"Traceback" not in err


# ----------------------------------------------------------------------------- protection on real shapes


REAL_SHAPE = """\
{
  "name": "chain-api",
  "main": "src/index.js",
  "compatibility_date": "2025-01-01",
  "d1_databases": [{"binding": "DB", "database_name": "chain-dev", "database_id": "dev-0000"}],
  "env": {
    "testnet": {
      "d1_databases": [{"binding": "DB", "database_name": "chain-testnet", "database_id": "testnet-0001"}]
    },
    "mainnet": {
      "d1_databases": [{"binding": "DB", "database_name": "chain-mainnet", "database_id": "mainnet-0002"}]
    },
    "preprod": {
      "d1_databases": [{"binding": "DB", "database_name": "chain-mainnet", "database_id": "mainnet-0002"}]
    }
  }
}
"""


@pytest.fixture
def mainnet_project(sample_project: SampleProject, emulator: CloudflareEmulator) -> SampleProject:
    """A real shape: production is `mainnet`, and `preprod` is bound to mainnet's database."""
    sample_project.config_path.write_text(REAL_SHAPE)
    (sample_project.migrations_dir / "0002_drop_users.sql").write_text("DROP TABLE users;\n")
    for name, uuid in (("chain-mainnet", "mainnet-0002"), ("chain-testnet", "testnet-0001")):
        emulator.create_d1(uuid, name)
        emulator.d1_query(uuid, "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT "
                          "UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)")
        emulator.d1_query(uuid, "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL "
                          "UNIQUE, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
        emulator.d1_query(uuid, "INSERT INTO users (email) VALUES ('a@example.com')")
        emulator.d1_query(uuid, "INSERT INTO d1_migrations (name) VALUES ('0001_create_users.sql')")
    emulator.clear_requests()
    return sample_project


def test_drop_table_on_mainnet_needs_confirm_env_not_just_yes(
    mainnet_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    done = run(mainnet_project, wrangler_bin, "migrate", "--env", "mainnet", "--remote", "--yes", "--json")
    assert done.code == 3, done.output
    assert "--confirm-env mainnet" in done.output
    assert "users" in {t for t in emulator.d1_tables("mainnet-0002")}
    applied = run(mainnet_project, wrangler_bin, "migrate", "--env", "mainnet", "--remote", "--yes",
                  "--confirm-env", "mainnet", "--json")
    assert applied.code == 0, applied.output
    assert "users" not in emulator.d1_tables("mainnet-0002")


def test_an_env_bound_to_productions_database_is_protected_too(
    mainnet_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    done = run(mainnet_project, wrangler_bin, "migrate", "--env", "preprod", "--remote", "--yes", "--json")
    assert done.code == 3, done.output
    message = done.envelope["error"]["message"]
    assert "mainnet-0002" in message and "mainnet" in message  # names the shared resource and its owner
    assert "users" in emulator.d1_tables("mainnet-0002")
    local = run(mainnet_project, wrangler_bin, "migrate", "--env", "preprod", "--local", "--json")
    assert local.code == 3 and "--remote" in local.envelope["error"]["message"]


def test_testnet_is_not_protected(
    mainnet_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    done = run(mainnet_project, wrangler_bin, "migrate", "--env", "testnet", "--remote", "--yes", "--json")
    assert done.code == 0, done.output
    assert "users" not in emulator.d1_tables("testnet-0001")


def test_a_protected_list_naming_a_missing_env_is_bad_input(
    mainnet_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    (mainnet_project.path / ".skclaw.jsonc").write_text('{"protectedEnvironments": ["production"]}')
    done = run(mainnet_project, wrangler_bin, "migrate", "--env", "mainnet", "--remote", "--yes", "--json")
    assert done.code == 2, done.output
    assert "production" in done.envelope["error"]["message"]
    assert emulator.requests == []


def test_a_repeated_protected_key_is_bad_input(
    mainnet_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    (mainnet_project.path / ".skclaw.jsonc").write_text(
        '{"protectedEnvironments": ["mainnet"],\n "protectedEnvironments": []}')
    done = run(mainnet_project, wrangler_bin, "migrate", "--env", "mainnet", "--remote", "--yes", "--json")
    assert done.code == 2, done.output
    assert "protectedEnvironments" in done.envelope["error"]["message"]
    assert emulator.requests == []


SINGLE_WORKER = """\
name = "solo"
main = "src/index.js"
compatibility_date = "2025-01-01"
"""


def test_the_top_level_of_a_config_without_envs_is_protected(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    sample_project.config_path.unlink()
    (sample_project.path / "wrangler.toml").write_text(SINGLE_WORKER)
    emulator.seed_worker("solo", secrets={"API_TOKEN": "old", "STALE": "x"})
    use_envfile(sample_project, {"default": {"API_TOKEN": "new-solo-value"}}, required=["API_TOKEN"])
    emulator.clear_requests()

    refused = run(sample_project, wrangler_bin, "secrets", "sync", "--json")
    assert refused.code == 3, refused.output
    pruning = run(sample_project, wrangler_bin, "secrets", "sync", "--prune", "--yes", "--json")
    assert pruning.code == 3 and "--confirm-env default" in pruning.output
    assert changes(emulator) == []
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--prune", "--yes", "--confirm-env", "default",
               "--json")
    assert done.code == 0, done.output
    assert emulator.secrets("solo") == {"API_TOKEN": "new-solo-value"}


def test_rotate_no_push_on_production_needs_consent(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    seeded(sample_project, emulator, {"production": {"API_TOKEN": "current-prod-value"}})
    done = run(sample_project, wrangler_bin, "secrets", "rotate", "API_TOKEN", "--env", "production",
               "--no-push", "--json")
    assert done.code == 3, done.output
    envfile = (sample_project.path / ".secrets" / "production.env").read_text()
    assert "current-prod-value" in envfile
    ok = run(sample_project, wrangler_bin, "secrets", "rotate", "API_TOKEN", "--env", "production", "--no-push",
             "--yes", "--json")
    assert ok.code == 0, ok.output
    from skclaw.secrets.dotenv import parse_dotenv

    stored = parse_dotenv((sample_project.path / ".secrets" / "production.env").read_text(),
                          filename="production.env").values
    assert stored["API_TOKEN"] != "current-prod-value" and len(stored["API_TOKEN"]) == 64
    assert changes(emulator) == []


@REAL
def test_known_values_in_wranglers_output_do_not_corrupt_parsing(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    # Values that are also words of `secret list` JSON: masking before parsing broke it.
    values = {"API_TOKEN": "name", "FLAG": "true", "YEAR": "2025", "TYPE": "secret_text"}
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {"staging": values}, required=list(values))
    emulator.clear_requests()
    first = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json")
    assert first.code == 0, first.output
    listed = run(sample_project, wrangler_bin, "secrets", "list", "--env", "staging", "--json")
    assert listed.code == 0, listed.output
    keys = {k["name"]: k["onWorker"] for k in listed.envelope["result"]["environments"]["staging"]["keys"]}
    assert keys == {"API_TOKEN": True, "FLAG": True, "YEAR": True, "TYPE": True}
    assert emulator.secrets(STAGING) == values


# ----------------------------------------------------------------------------- the per-env lock


@pytest.fixture
def held_lock(sample_project: SampleProject) -> object:
    """Another skclaw run (simulated: flock held by this test) holds production's lock."""
    import fcntl

    locks = sample_project.path / ".skclaw" / "locks"
    locks.mkdir(parents=True, mode=0o700)
    handle = open(locks / "production.lock", "a+")  # noqa: SIM115 - released at teardown
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    handle.write('{"pid": 4242, "host": "ci-runner-7", "command": "deploy", "since": "2026-11-30T06:00:00+00:00"}')
    handle.flush()
    yield handle
    handle.close()


def test_the_lock_is_taken_before_planning(
    held_lock: object, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
    cf_env: dict[str, str],
) -> None:
    seeded(sample_project, emulator, {env: {"API_TOKEN": f"new-{env}-value"} for env in sample_project.envs})
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "production", "--yes",
               "--lock-timeout", "0.3", "--json")
    assert done.code == 1, done.output
    assert "locked by another skclaw run (deploy, pid 4242 on ci-runner-7" in done.envelope["error"]["message"]
    assert emulator.requests == []  # not even the plan's `secret list`: the plan could go stale


def test_a_lock_on_one_env_does_not_block_another(
    held_lock: object, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
    cf_env: dict[str, str],
) -> None:
    seeded(sample_project, emulator, {"staging": {"API_TOKEN": "new-staging-value"}})
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes",
               "--lock-timeout", "0.3", "--json")
    assert done.code == 0, done.output
    assert emulator.secrets(STAGING)["API_TOKEN"] == "new-staging-value"


def test_a_dry_run_does_not_wait_for_the_lock(
    held_lock: object, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
    cf_env: dict[str, str],
) -> None:
    seeded(sample_project, emulator, {"production": {"API_TOKEN": "new-production-value"}})
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "production", "--dry-run",
               "--lock-timeout", "0.3", "--json")
    assert done.code == 0, done.output
    assert changes(emulator) == []
