"""`skclaw secrets sync` with the real wrangler against the emulator."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from skclaw import process
from skclaw.secrets.dotenv import format_dotenv
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.skrun import skclaw

AWKWARD = {
    "API_TOKEN": "tok-" + "a" * 40,
    "MULTILINE": "-----BEGIN KEY-----\nline two\n  indented \"quoted\" 'single'\n-----END KEY-----",
    "EQUALS": "a=b=c&d==",
    "UNICODE": "päss wörd ✓ 秘密",
    "TRAILING": "keeps trailing spaces   ",
}


def configure(project: SampleProject, *, required: list[str], optional: list[str] | None = None,
              values: dict[str, dict[str, str]] | None = None) -> None:
    config = {"secrets": {"required": required, "optional": optional or [], "source": "envfile"}}
    (project.path / ".skclaw.jsonc").write_text(json.dumps(config))
    secrets_dir = project.path / ".secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    for env, mapping in (values or {}).items():
        path = secrets_dir / f"{env}.env"
        path.write_text(format_dotenv(mapping))
        path.chmod(0o600)


def env_values(tag: str) -> dict[str, str]:
    return {k: f"{v}-{tag}" if k != "TRAILING" else v for k, v in AWKWARD.items()}


@pytest.fixture
def synced_project(sample_project: SampleProject, emulator: CloudflareEmulator) -> SampleProject:
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"OLD_KEY": "old"})
    configure(sample_project, required=list(AWKWARD),
              values={env: env_values(env) for env in sample_project.envs})
    return sample_project


def wrangler_calls(wrangler_bin: Path) -> list[list[str]]:
    return [argv for argv in process.started_argv() if argv and argv[0] == str(wrangler_bin)]


def test_exact_values_reach_both_workers_in_one_version_each(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    before = {env: len(emulator.versions(synced_project.worker(env))) for env in synced_project.envs}
    calls_before = len(wrangler_calls(wrangler_bin))
    run = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--yes", "--json"],
                 project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    result = run.envelope["result"]["environments"]
    for env in synced_project.envs:
        worker = synced_project.worker(env)
        assert emulator.secrets(worker) == {"OLD_KEY": "old", **env_values(env)}
        assert len(emulator.versions(worker)) == before[env] + 1
        assert result[env]["status"] == "ok"
        assert sorted(result[env]["pushed"]) == sorted(AWKWARD)
        assert result[env]["worker"] == worker
    # per env: one `secret list`, one `secret bulk`, and one read of the version that holds them
    calls = [c for c in wrangler_calls(wrangler_bin)[calls_before:] if c[1:2] != ["--version"]]
    assert len(calls) == 6
    assert sorted(c[1:3] for c in calls) == (
        [["deployments", "status"]] * 2 + [["secret", "bulk"]] * 2 + [["secret", "list"]] * 2)
    # values travel on stdin only
    for call in calls:
        for value in [*env_values("staging").values(), *env_values("production").values()]:
            assert value not in " ".join(call)


def test_dry_run_plans_without_mutation(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.clear_requests()
    run = skclaw(["secrets", "sync", "-e", "staging", "--prune", "--dry-run", "--json"],
                 project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    plan = run.envelope["result"]["environments"]["staging"]
    assert plan["status"] == "dry-run"
    assert sorted(plan["plan"]["create"]) == sorted(AWKWARD)
    assert plan["plan"]["delete"] == ["OLD_KEY"]
    assert emulator.mutating_requests() == []
    assert "OLD_KEY" in run.stderr


def test_prune_needs_typed_consent_on_production(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.clear_requests()
    refused = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--prune", "--yes", "--json"],
                     project=synced_project.path, wrangler=wrangler_bin)
    assert refused.code == 3
    assert refused.envelope["error"]["kind"] == "refused"
    assert "--confirm-env production" in refused.stderr
    # a refusal refuses the whole run: staging was not pushed either
    assert emulator.mutating_requests() == []

    typo = skclaw(["secrets", "sync", "-e", "staging", "--prune", "--yes", "--confirm-env", "production"],
                  project=synced_project.path, wrangler=wrangler_bin)
    assert typo.code == 3 and "does not touch" in typo.stderr  # names an env outside the run
    assert emulator.mutating_requests() == []
    # --confirm-env covers production's prune; staging is not protected, so --yes covers its prune
    done = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--prune", "--yes",
                   "--confirm-env", "production"], project=synced_project.path, wrangler=wrangler_bin)
    assert done.code == 0, done.stderr
    assert "OLD_KEY" not in emulator.secrets(synced_project.worker("production"))
    assert "OLD_KEY" not in emulator.secrets(synced_project.worker("staging"))


def test_unprotected_prune_with_yes(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    no_yes = skclaw(["secrets", "sync", "-e", "staging", "--prune"], project=synced_project.path,
                    wrangler=wrangler_bin)
    assert no_yes.code == 3
    run = skclaw(["secrets", "sync", "-e", "staging", "--prune", "--yes", "--json"],
                 project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    assert run.envelope["result"]["environments"]["staging"]["deleted"] == ["OLD_KEY"]
    assert emulator.secrets(synced_project.worker("staging")) == env_values("staging")


def test_missing_worker_is_refused_without_a_draft(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    configure(sample_project, required=["API_TOKEN"], values={"staging": {"API_TOKEN": "x" * 20}})
    run = skclaw(["secrets", "sync", "-e", "staging", "--json"], project=sample_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 3
    assert "skclaw deploy --env staging" in run.stderr
    assert emulator.drafts == []
    assert emulator.mutating_requests() == []


def test_missing_required_key_stops_before_any_push(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    (synced_project.path / ".secrets" / "production.env").write_text(format_dotenv({"API_TOKEN": "only-one"}))
    emulator.clear_requests()
    run = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--yes"],
                 project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 1
    assert "production" in run.stderr and "MULTILINE" in run.stderr and "production.env" in run.stderr
    assert emulator.requests == []  # not even a plan


def test_single_503_is_retried(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    fault = emulator.inject_fault("PATCH", r"/workers/scripts/demo-worker-staging/(settings|secrets-bulk)$", status=503,
                                  code=10013, times=1)
    run = skclaw(["secrets", "sync", "-e", "staging", "--json"], project=synced_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    assert fault.hits == 1
    assert emulator.secrets(synced_project.worker("staging"))["API_TOKEN"] == env_values("staging")["API_TOKEN"]


def test_auth_error_is_not_retried(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    fault = emulator.inject_fault("PATCH", r"/(settings|secrets-bulk)$", status=403, code=10000,
                                  message="Authentication error", times=-1)
    run = skclaw(["secrets", "sync", "-e", "staging"], project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 1
    assert fault.hits == 1
    assert "CLOUDFLARE_API_TOKEN" in run.stderr


def test_persistent_500_on_one_env_is_partial(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.inject_fault("PATCH", r"/workers/scripts/demo-worker-prod/(settings|secrets-bulk)$", status=500,
                          code=10013, times=-1)
    run = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--yes", "--json"],
                 project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 4
    envs = run.envelope["result"]["environments"]
    assert envs["staging"]["status"] == "ok" and envs["production"]["status"] == "failed"
    assert run.envelope["error"]["kind"] == "partial"
    assert "new values are on: staging" in run.envelope["error"]["message"]
    assert emulator.secrets(synced_project.worker("staging"))["EQUALS"] == env_values("staging")["EQUALS"]
    assert emulator.secrets(synced_project.worker("production")) == {"OLD_KEY": "old"}


def test_non_interactive_production_without_yes_is_refused(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.clear_requests()
    run = skclaw(["secrets", "sync", "-e", "production", "--json"], project=synced_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 3
    assert run.envelope["error"]["kind"] == "refused"
    assert emulator.mutating_requests() == []


def test_local_writes_dev_vars_that_round_trip(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.clear_requests()
    run = skclaw(["secrets", "sync", "-e", "staging", "--local"], project=synced_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    path = synced_project.path / ".dev.vars.staging"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    from skclaw.secrets.dotenv import parse_dotenv

    assert parse_dotenv(path.read_text(), filename=path.name).values == env_values("staging")
    assert emulator.requests == []  # no wrangler call reached the API

    refused = skclaw(["secrets", "sync", "-e", "production", "--local"], project=synced_project.path,
                     wrangler=wrangler_bin)
    assert refused.code == 3
    assert not (synced_project.path / ".dev.vars.production").exists()


def test_empty_source_never_prunes(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"), secrets={"KEEP_ME": "v"})
    (sample_project.path / ".skclaw.jsonc").write_text('{"secrets": {"source": "envfile"}}')
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text("# nothing yet\n")
    emulator.clear_requests()
    run = skclaw(["secrets", "sync", "-e", "staging", "--prune", "--yes"], project=sample_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    assert "not pruning" in run.stderr
    assert emulator.secrets(sample_project.worker("staging")) == {"KEEP_ME": "v"}
    assert emulator.mutating_requests() == []


def test_put_method_uses_one_process_per_key(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    configure(synced_project, required=["API_TOKEN", "EQUALS"],
              values={"staging": {"API_TOKEN": "t" * 12, "EQUALS": "x=y"}})
    before = len(emulator.versions(synced_project.worker("staging")))
    run = skclaw(["secrets", "sync", "-e", "staging", "--method", "put"], project=synced_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    assert len(emulator.versions(synced_project.worker("staging"))) == before + 2
    assert emulator.secrets(synced_project.worker("staging"))["EQUALS"] == "x=y"


def test_ctrl_c_mid_run_kills_wrangler_and_exits_130(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.inject_fault("PATCH", r"/(settings|secrets-bulk)$", status=200, delay_seconds=20, times=-1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "skclaw", "-C", str(synced_project.path), "--wrangler", str(wrangler_bin),
         "secrets", "sync", "-e", "staging", "-e", "production", "--yes", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cf_env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(emulator.requests_to("PATCH", r"/(settings|secrets-bulk)$")) < 2:
        time.sleep(0.1)
    assert len(emulator.requests_to("PATCH", r"/(settings|secrets-bulk)$")) == 2, "both bulk calls should be in flight"
    children = descendants(proc.pid)
    assert len(children) >= 2
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert time.monotonic() - started < 15
    envelope = json.loads(out.decode().strip().splitlines()[-1])
    assert envelope["error"]["kind"] == "interrupted"
    survivors = [pid for pid in children if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]]
    assert survivors == [], "wrangler children survived Ctrl-C"


@pytest.mark.real_wrangler
def test_a_bulk_whose_worker_process_is_killed_is_not_taken_as_pushed(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    wrangler_double_bin: Path | None,
) -> None:
    """wrangler's launcher (bin/wrangler.js) runs the command in a child node process and exits 0
    when that child dies by a signal (the OOM killer, a `kill -9`). skclaw must not take that exit 0
    for a push: the env fails saying the outcome is unknown, nothing is remembered as pushed, and
    the next sync pushes every value again."""
    worker = synced_project.worker("staging")
    gate = emulator.hold("PATCH", r"/(settings|secrets-bulk)$")
    argv = [sys.executable, "-m", "skclaw", "-C", str(synced_project.path), "--wrangler", str(wrangler_bin),
            "secrets", "sync", "-e", "staging", "--yes", "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=cf_env)
    killed: list[int] = []
    try:
        for _ in range(250):  # bounded: 25 s, under the gate's own 30 s
            if gate.arrived:
                killed = [pid for pid in descendants(proc.pid) if b"wrangler-dist/cli.js" in cmdline(pid)]
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
    finally:
        emulator.unhold(gate)
        out, err = proc.communicate(timeout=120)
    assert len(killed) == 1, "the node process running `secret bulk` under the launcher"

    assert proc.returncode == 1, err.decode()
    entry = json.loads(out.decode().strip().splitlines()[-1])["result"]["environments"]["staging"]
    assert entry["status"] == "failed" and entry["pushed"] == []
    # npm's bin is the launcher; scripts/compat-newest runs the bundle itself (a kill is then exit -9)
    if wrangler_bin.resolve().name == "wrangler.js":
        assert "exited 0 without reporting success" in entry["error"] and "is unknown" in entry["error"]

    # What the first run remembered decides what the second pushes (the double is enough for it).
    again = skclaw(["secrets", "sync", "-e", "staging", "--yes", "--json"], project=synced_project.path,
                   wrangler=wrangler_double_bin or wrangler_bin)
    assert again.code == 0, again.stderr
    assert sorted(again.envelope["result"]["environments"]["staging"]["pushed"]) == sorted(AWKWARD)
    assert emulator.secrets(worker) == {"OLD_KEY": "old", **env_values("staging")}


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return b""


def descendants(root: int) -> list[int]:
    """PIDs below ``root`` in the process tree (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_text = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat_text.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current:
                found.append(pid)
                frontier.append(pid)
    return found


# ----------------------------------------------------------------------------- idempotent sync


def test_a_sync_with_nothing_changed_pushes_nothing_and_asks_nothing(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    isolated_home: Path,
) -> None:
    first = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--yes", "--json"],
                   project=synced_project.path, wrangler=wrangler_bin)
    assert first.code == 0, first.stderr
    versions = {env: len(emulator.versions(synced_project.worker(env))) for env in synced_project.envs}
    emulator.clear_requests()

    # No --yes: an env with no change needs no consent, even production in a non-interactive run.
    again = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--json"],
                   project=synced_project.path, wrangler=wrangler_bin)

    assert again.code == 0, again.stderr
    for env in synced_project.envs:
        entry = again.envelope["result"]["environments"][env]
        assert entry["status"] == "ok" and entry["pushed"] == [] and sorted(entry["unchanged"]) == sorted(AWKWARD)
        assert len(emulator.versions(synced_project.worker(env))) == versions[env]  # no new version
    assert emulator.requests_to("PATCH", r"/(settings|secrets-bulk)$") == []
    assert f"unchanged ({len(AWKWARD)})" in again.stderr
    # What is kept: fingerprints under .skclaw/, the key under the user's config dir; no values.
    state = (synced_project.path / ".skclaw" / "pushed" / "demo-worker-prod.json").read_text()
    key = isolated_home / ".config" / "skclaw" / "fingerprint.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for value in env_values("production").values():
        assert value not in state


def test_a_change_made_outside_skclaw_makes_every_value_unknown_again(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    assert skclaw(["secrets", "sync", "-e", "staging", "--yes"], project=synced_project.path,
                  wrangler=wrangler_bin).code == 0
    worker = synced_project.worker("staging")
    emulator.put_secret(worker, "API_TOKEN", "edited-in-the-dashboard")  # a version skclaw never saw

    again = skclaw(["secrets", "sync", "-e", "staging", "--yes", "--json"], project=synced_project.path,
                   wrangler=wrangler_bin)

    assert again.code == 0, again.stderr
    assert sorted(again.envelope["result"]["environments"]["staging"]["pushed"]) == sorted(AWKWARD)
    assert emulator.secrets(worker)["API_TOKEN"] == env_values("staging")["API_TOKEN"]
    assert "changed outside skclaw" in again.stderr


def test_only_values_that_changed_in_the_source_are_pushed(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    assert skclaw(["secrets", "sync", "-e", "staging", "--yes"], project=synced_project.path,
                  wrangler=wrangler_bin).code == 0
    values = env_values("staging") | {"EQUALS": "a brand new value"}
    configure(synced_project, required=list(AWKWARD), values={"staging": values})

    again = skclaw(["secrets", "sync", "-e", "staging", "--yes", "--json"], project=synced_project.path,
                   wrangler=wrangler_bin)

    entry = again.envelope["result"]["environments"]["staging"]
    assert again.code == 0 and entry["pushed"] == ["EQUALS"]
    assert sorted(entry["unchanged"]) == sorted(k for k in AWKWARD if k != "EQUALS")
    assert emulator.secrets(synced_project.worker("staging"))["EQUALS"] == "a brand new value"


def test_a_version_waiting_for_deploy_is_explained_not_a_raw_error(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    run_wrangler: Any,
) -> None:
    worker = synced_project.worker("staging")
    live = emulator.current_version_id(worker)
    uploaded = run_wrangler(["versions", "upload", "--config", str(synced_project.config_path), "--env", "staging"],
                            cwd=synced_project.path, env=cf_env)
    assert uploaded.returncode == 0, uploaded.stderr
    assert emulator.versions(worker)[-1]["id"] != live  # the newest is not the deployed one

    run = skclaw(["secrets", "sync", "-e", "staging", "--yes", "--json"], project=synced_project.path,
                 wrangler=wrangler_bin)

    assert run.code == 1, run.stderr
    error = run.envelope["result"]["environments"]["staging"]["error"]
    assert "is not the deployed one" in error and "versions deploy" in error and "Nothing was changed" in error
    assert emulator.current_version_id(worker) == live
    assert emulator.secrets(worker) == {"OLD_KEY": "old"}


def test_the_plan_block_is_printed_once_per_env(
    synced_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    run = skclaw(["secrets", "sync", "-e", "staging", "-e", "production", "--yes", "--confirm-env", "production",
                  "--prune"], project=synced_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    for env in synced_project.envs:
        assert run.stderr.count(f"worker:  {synced_project.worker(env)}") == 1
    assert run.stderr.count("DELETE (1): OLD_KEY") == 2  # once in each env's block
    assert run.stderr.count("- destructive: deletes OLD_KEY") == 2
