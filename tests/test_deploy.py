"""`skclaw deploy`, `status` and `rollback` with the real wrangler against the API emulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from skclaw import process
from skclaw.commands.rollback import previous_stable_version
from skclaw.credentials import credentials_origin
from skclaw.errors import FailedError
from skclaw.wrangler.d1 import parse_pending
from skclaw.wrangler.deployments import version_id_from
from tests.cfemu import CloudflareEmulator, Recorded
from tests.conftest import REPO_ROOT, SampleProject
from tests.hardening import changes
from tests.skrun import Run
from tests.skrun import skclaw as run_skclaw_in_process

SKCLAW_BIN = REPO_ROOT / ".venv" / "bin" / "skclaw"
STAGING, PRODUCTION = "demo-worker-staging", "demo-worker-prod"



@pytest.fixture
def skclaw(
    cf_env: dict[str, str],
    sample_project: SampleProject,
    wrangler_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Run skclaw in-process against the sample project and the emulator."""
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str) -> Run:
        return run_skclaw_in_process(list(args), project=sample_project.path, wrangler=wrangler_bin)

    return run


def write_config(project: SampleProject, config: dict[str, Any]) -> None:
    (project.path / ".skclaw.jsonc").write_text(json.dumps(config))


def drop_migrations(project: SampleProject) -> None:
    """No local migration files: deploy then skips its pending-migrations check (one wrangler
    start less, for tests about something else)."""
    shutil.rmtree(project.migrations_dir)


def worker_mutations(emulator: CloudflareEmulator) -> list[Recorded]:
    """Mutating requests to Workers (D1 `migrations list` bootstraps its table with a POST)."""
    return [r for r in emulator.mutating_requests() if "/workers/" in r.path]


# ----------------------------------------------------------------------------- deploy


def test_first_deploy_creates_the_worker_with_build_and_audit(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    marker = sample_project.path / "built.txt"
    build = f"{sys.executable} -c \"open('built.txt', 'w').write('ok'); print('BUILD-RAN')\""
    write_config(sample_project, {"build": build})
    assert not emulator.worker_exists(STAGING)

    run = skclaw("deploy", "--env", "staging", "--message", "first ship", "--json")

    assert run.code == 0, run.stderr
    result = run.result
    assert result["versionId"] == emulator.current_version_id(STAGING)
    assert result["dryRun"] is False and result["status"] == "ok"
    assert result["environment"] == "staging" and result["worker"] == STAGING
    assert result["url"] == f"https://{STAGING}.cfemu.workers.dev"
    assert marker.read_text() == "ok" and "BUILD-RAN" in run.stderr  # build output on stderr
    versions = emulator.versions(STAGING)
    assert len(versions) == 1 and versions[0]["message"] == "first ship"
    audit = [json.loads(line) for line in (sample_project.path / ".skclaw" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["command"] == "deploy" and audit[-1]["versionId"] == result["versionId"]
    # the sample's D1 database does not exist in the emulator: the check warns, deploy goes on
    assert "could not check pending migrations of DB" in run.stderr


def test_redeploy_of_protected_env_with_yes_and_pending_migration_warning(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    first = emulator.seed_worker(PRODUCTION)
    sample_project.create_databases(emulator)

    run = skclaw("deploy", "--env", "production", "--yes", "--json")

    assert run.code == 0, run.stderr
    version_id = run.result["versionId"]
    assert version_id == emulator.current_version_id(PRODUCTION) != first
    assert [v["id"] for v in emulator.versions(PRODUCTION)] == [first, version_id]
    assert emulator.worker_uploads(PRODUCTION)[-1].kind == "version"  # versions API, not a PUT
    assert run.result["pendingMigrations"] == {"DB": ["0001_create_users.sql"]}
    assert "1 pending remote migration: 0001_create_users.sql" in run.stderr


def test_a_migrations_check_that_can_only_warn_runs_beside_the_deploy(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    """Without --check-migrations (and not at a terminal) the pending-migrations check cannot stop
    the deploy: it runs beside it, not before it. Its D1 reads are held until the upload arrives;
    a check made before the deploy would wait for them and the upload would never come."""
    emulator.seed_worker(STAGING)
    sample_project.create_databases(emulator)
    gate = emulator.hold("POST", r"/d1/database/[^/]+/query$")
    done: list[Run] = []
    runner = threading.Thread(target=lambda: done.append(skclaw("deploy", "--env", "staging", "--json")))
    runner.start()
    uploaded_while_held = False
    try:
        for _ in range(250):  # bounded: 25 s, under the gate's own 30 s
            uploaded_while_held = bool(emulator.worker_uploads(STAGING)) and gate.arrived >= 1
            if uploaded_while_held or not runner.is_alive():
                break
            time.sleep(0.1)
    finally:
        gate.release(apply=True)
        runner.join(120)
    assert uploaded_while_held, "the deploy waited for the pending-migrations check"
    run = done[0]
    assert run.code == 0, run.stderr
    assert run.result["versionId"] == emulator.current_version_id(STAGING)
    assert run.result["pendingMigrations"] == {"DB": ["0001_create_users.sql"]}
    assert "1 pending remote migration: 0001_create_users.sql" in run.stderr


def test_a_failed_deploy_still_reports_the_pending_migrations_checked_beside_it(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    emulator.seed_worker(STAGING)
    sample_project.create_databases(emulator)
    emulator.inject_fault("*", rf"/scripts/{STAGING}(/versions)?$", status=400, code=10021,
                          message="Uncaught SyntaxError", times=-1)

    run = skclaw("deploy", "--env", "staging", "--json")

    assert run.code == 1, run.stderr
    assert run.envelope["result"]["status"] == "failed"
    assert run.envelope["result"]["pendingMigrations"] == {"DB": ["0001_create_users.sql"]}
    assert "1 pending remote migration: 0001_create_users.sql" in run.stderr


def test_missing_secrets_stop_the_deploy_before_any_upload(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    write_config(sample_project, {"secrets": {"required": ["API_TOKEN", "DB_PASSWORD"]}})

    new = skclaw("deploy", "--env", "staging", "--json")  # the Worker does not exist yet
    assert new.code == 1
    message = new.envelope["error"]["message"]
    assert "does not exist yet" in message and "API_TOKEN, DB_PASSWORD" in message
    assert "skclaw secrets sync --env staging" in new.stderr and "--with-secrets" in new.stderr

    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "t0ken-value"})
    old = skclaw("deploy", "--env", "staging", "--json")
    assert old.code == 1
    assert "lacks required secret(s): DB_PASSWORD" in old.envelope["error"]["message"]

    # Only reads (the pending-migrations check bootstraps wrangler's table: a read, run beside
    # the secrets check).
    assert changes(emulator) == []
    assert len(emulator.versions(STAGING)) == 1


def test_required_secrets_in_the_wrangler_config_are_checked_by_the_deploy_itself(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    """Every manifest secret in the env's `secrets.required`: wrangler (4.77+) checks them within
    the upload, atomically, so skclaw starts no `secret list` before it and relays the refusal."""
    from skclaw.jsonc import load_jsonc

    config = load_jsonc(sample_project.config_path, what="wrangler config")
    config["env"]["staging"]["secrets"] = {"required": ["API_TOKEN", "DB_PASSWORD"]}
    sample_project.config_path.write_text(json.dumps(config))
    drop_migrations(sample_project)

    def secret_lists(since: int) -> list[list[str]]:
        return [a for a in process.started_argv()[since:] if a[1:3] == ["secret", "list"]]

    started = len(process.started_argv())
    new = skclaw("deploy", "--env", "staging", "--json")  # the Worker does not exist yet
    assert new.code == 1, new.stderr
    assert "lacks required secret(s): API_TOKEN, DB_PASSWORD; nothing was deployed" in new.envelope["error"]["message"]
    assert not emulator.worker_exists(STAGING)

    first = emulator.seed_worker(STAGING, secrets={"API_TOKEN": "t0ken-value"})
    old = skclaw("deploy", "--env", "staging", "--json")
    assert old.code == 1, old.stderr
    assert "lacks required secret(s): DB_PASSWORD; nothing was deployed" in old.envelope["error"]["message"]
    assert "skclaw secrets sync --env staging" in old.stderr
    assert [v["id"] for v in emulator.versions(STAGING)] == [first]
    assert emulator.current_version_id(STAGING) == first

    emulator.put_secret(STAGING, "DB_PASSWORD", "pw-value")
    ok = skclaw("deploy", "--env", "staging", "--json")
    assert ok.code == 0, ok.stderr
    assert emulator.current_version_id(STAGING) == ok.result["versionId"]
    assert emulator.versions(STAGING)[-1]["secrets"] == {"API_TOKEN": "t0ken-value", "DB_PASSWORD": "pw-value"}
    assert secret_lists(started) == []

    # An optional secret asks for a warning only a list can give: the list is back.
    write_config(sample_project, {"secrets": {"optional": ["SENTRY_DSN"]}})
    started = len(process.started_argv())
    warned = skclaw("deploy", "--env", "staging", "--json")
    assert warned.code == 0, warned.stderr
    assert "optional secret SENTRY_DSN is not set" in warned.stderr
    assert len(secret_lists(started)) == 1


def test_changes_made_outside_wrangler_are_not_overwritten(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    drop_migrations(sample_project)
    emulator.seed_worker(STAGING)
    # The Worker was last changed through the API: wrangler would overwrite it silently
    # without a TTY; skclaw deploys with --strict, so wrangler aborts before any upload.
    emulator._workers[(emulator.account_id, STAGING)].last_deployed_from = "api"

    run = skclaw("deploy", "--env", "staging", "--json")

    assert run.code == 1
    assert "made outside wrangler" in run.envelope["error"]["message"]
    assert worker_mutations(emulator) == [] and len(emulator.versions(STAGING)) == 1


def test_failing_build_deploys_nothing(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    drop_migrations(sample_project)
    write_config(sample_project, {"build": f'{sys.executable} -c "raise SystemExit(3)"'})
    started_before = len(process.started_argv())

    run = skclaw("deploy", "--env", "staging", "--json")

    assert run.code == 1
    assert "build failed" in run.envelope["error"]["message"] and "exited 3" in run.stderr
    assert worker_mutations(emulator) == [] and emulator.uploads == []
    assert not any("deploy" in argv for argv in process.started_argv()[started_before:])


def test_with_secrets_ships_code_and_secrets_as_one_version(
    skclaw: Any,
    emulator: CloudflareEmulator,
    sample_project: SampleProject,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = "with-secrets-value-93f1"
    write_config(
        sample_project,
        {
            "secrets": {"required": ["API_TOKEN"], "source": "environ"},
            "sources": {"environ": {"prefix": ""}},
        },
    )
    monkeypatch.setenv("API_TOKEN", value)
    drop_migrations(sample_project)
    first = emulator.seed_worker(STAGING)
    started_before = len(process.started_argv())

    run = skclaw("deploy", "--env", "staging", "--with-secrets", "--json")

    assert run.code == 0, run.stderr
    versions = emulator.versions(STAGING)
    assert [v["id"] for v in versions] == [first, run.result["versionId"]]
    assert versions[-1]["triggered_by"] == "upload"
    assert versions[-1]["secrets"] == {"API_TOKEN": value}
    assert emulator.current_version_id(STAGING) == run.result["versionId"]
    assert run.result["secrets"] == ["API_TOKEN"]
    deploys = [a for a in process.started_argv()[started_before:] if any(t.startswith("--secrets-file=") for t in a)]
    assert len(deploys) == 1
    secrets_arg = next(t for t in deploys[0] if t.startswith("--secrets-file="))
    # In memory only: a memfd of this very process, handed over by /proc path, closed afterwards.
    assert re.fullmatch(rf"--secrets-file=/proc/{os.getpid()}/fd/\d+", secrets_arg), secrets_arg
    assert not Path(secrets_arg.partition("=")[2]).exists()
    assert value not in run.stdout + run.stderr
    assert "secret list" not in " ".join(" ".join(a) for a in process.started_argv()[started_before:])


def test_dry_run_is_offline_and_reports_the_bundle(
    skclaw: Any, emulator: CloudflareEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")  # no credentials needed

    run = skclaw("deploy", "--env", "production", "--dry-run", "--json")  # protected: no consent

    assert run.code == 0, run.stderr
    result = run.result
    assert result["status"] == "dry-run" and result["dryRun"] is True
    assert result["versionId"] is None
    assert result["bundle"]["files"]["index.js"] > 0 and result["bundle"]["totalBytes"] > 0
    assert result["bundle"]["upload"].endswith("KiB") and result["bundle"]["gzip"].endswith("KiB")
    assert emulator.requests == []


def test_without_credentials_nothing_runs(
    skclaw: Any, emulator: CloudflareEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")

    run = skclaw("deploy", "--env", "staging", "--json")

    assert run.code == 1
    assert "no Cloudflare credentials" in run.envelope["error"]["message"]
    assert emulator.requests == []


def test_check_migrations_refuses_a_protected_deploy_with_pending_migrations(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    emulator.seed_worker(PRODUCTION)
    sample_project.create_databases(emulator)

    run = skclaw("deploy", "--env", "production", "--yes", "--check-migrations", "--json")

    assert run.code == 3
    assert "0001_create_users.sql" in run.envelope["error"]["message"]
    assert "skclaw migrate --env production --remote" in run.stderr
    assert worker_mutations(emulator) == [] and len(emulator.versions(PRODUCTION)) == 1


def test_non_interactive_deploy_of_protected_env_without_yes_is_refused(
    skclaw: Any, emulator: CloudflareEmulator
) -> None:
    emulator.seed_worker(PRODUCTION)

    run = skclaw("deploy", "--env", "production")

    assert run.code == 3
    assert "--yes" in run.stderr
    assert emulator.mutating_requests() == [] and emulator.requests == []
    assert len(emulator.versions(PRODUCTION)) == 1


# ----------------------------------------------------------------------------- status


def test_status_shows_the_live_deployment_and_fails_for_a_missing_worker(
    skclaw: Any, emulator: CloudflareEmulator
) -> None:
    version_id = emulator.seed_worker(STAGING)

    run = skclaw("status", "--env", "staging", "--env", "production", "--json")

    assert run.code == 1
    envs = run.result["environments"]
    staging = envs["staging"]
    assert staging["error"] is None and staging["worker"] == STAGING and staging["status"] == "ok"
    live = emulator.deployments(STAGING)[-1]
    assert staging["deployment"]["id"] == live["id"]
    assert staging["deployment"]["versions"] == [{"versionId": version_id, "percentage": 100}]
    assert staging["deployment"]["author"] == live["author_email"]
    assert envs["production"]["deployment"] is None and envs["production"]["status"] == "failed"
    assert "does not exist" in envs["production"]["error"]


# ----------------------------------------------------------------------------- rollback


def test_rollback_to_the_previous_version_is_verified(skclaw: Any, emulator: CloudflareEmulator) -> None:
    previous = emulator.seed_worker(STAGING, secrets={"A": "one-value"})
    newest = emulator.put_secret(STAGING, "A", "two-value")
    emulator.rollback_checks_secrets = True  # the API refuses (10220) unless forced

    run = skclaw("rollback", "--env", "staging", "--yes", "--message", "bad release", "--json")

    assert run.code == 0, run.stderr
    assert run.result == {
        "environment": "staging",
        "worker": STAGING,
        "fromVersionId": newest,
        "versionId": previous,
        "verified": True,
        "message": "bad release",
        "status": "ok",
    }
    assert emulator.current_version_id(STAGING) == previous
    live = emulator.deployments(STAGING)[-1]
    assert live["annotations"]["workers/message"] == "bad release"
    assert live["forced"] is True  # wrangler answered its own secrets question: what we warn of
    assert emulator.secrets(STAGING) == {"A": "one-value"}
    assert "secrets changed since that version are reverted" in run.stderr
    assert run.stderr.count("D1 is not rolled back") == 1  # the plan block once
    assert "D1 is not rolled back" in run.stderr


def test_rollback_that_did_not_happen_is_caught(skclaw: Any, emulator: CloudflareEmulator) -> None:
    previous = emulator.seed_worker(STAGING)
    newest = emulator.put_secret(STAGING, "A", "two-value")
    # The deployments POST answers success but changes nothing (like wrangler 4.86 printing
    # SUCCESS after it aborted).
    emulator.add_route(
        "POST",
        r"/accounts/([^/]+)/workers/scripts/([^/]+)/deployments",
        lambda rec, account, name: {"id": "00000000-0000-4000-8000-000000000000"},
    )

    run = skclaw("rollback", previous, "--env", "staging", "--yes", "--json")

    assert run.code == 1
    assert run.result["verified"] is False and run.result["versionId"] == previous
    assert "is not live" in run.envelope["error"]["message"]
    assert emulator.current_version_id(STAGING) == newest


def test_rollback_of_protected_env_needs_confirm_env(skclaw: Any, emulator: CloudflareEmulator) -> None:
    emulator.seed_worker(PRODUCTION)
    emulator.put_secret(PRODUCTION, "A", "two-value")

    run = skclaw("rollback", "--env", "production", "--yes", "--json")

    assert run.code == 3
    assert "--confirm-env production" in run.stderr
    assert emulator.requests == []


def test_rollback_rejects_a_malformed_version_id(skclaw: Any, emulator: CloudflareEmulator) -> None:
    run = skclaw("rollback", "not-a-version", "--env", "staging", "--yes", "--json")
    assert run.code == 2 and emulator.requests == []


# ----------------------------------------------------------------------------- consent in a pty


@pytest.mark.pty
@pytest.mark.parametrize("answer", ["n", "y"])
def test_consent_prompt_in_a_terminal(
    answer: str,
    cf_env: dict[str, str],
    emulator: CloudflareEmulator,
    sample_project: SampleProject,
    wrangler_bin: Path,
) -> None:
    import pexpect  # a missing pexpect fails the test, never skips it
    drop_migrations(sample_project)
    first = emulator.seed_worker(PRODUCTION)
    env = {k: v for k, v in cf_env.items() if k != "CI"} | {"TERM": "xterm"}
    argv = ["-C", str(sample_project.path), "--wrangler", str(wrangler_bin)]
    child = pexpect.spawn(
        str(SKCLAW_BIN),
        [*argv, "deploy", "--env", "production"],
        env=env,
        encoding="utf-8",
        timeout=90,
        dimensions=(40, 120),
    )
    child.expect(re.escape(f"Test Account ({emulator.account_id}) from CLOUDFLARE_ACCOUNT_ID"))
    child.expect("Worker: +demo-worker-prod")
    child.expect(r"Proceed with deploy on protected environment production\?")
    child.send(answer)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    if answer == "n":
        assert child.exitstatus == 3
        assert [v["id"] for v in emulator.versions(PRODUCTION)] == [first]
        assert worker_mutations(emulator) == []
    else:
        assert child.exitstatus == 0, child.before
        assert len(emulator.versions(PRODUCTION)) == 2
        assert emulator.current_version_id(PRODUCTION) != first


# ----------------------------------------------------------------------------- parsing


def test_parse_pending_migrations() -> None:
    """One parser for deploy's check and migrate: unknown output is an error, never 'none'."""
    assert parse_pending("Resource location: remote\n\n✅ No migrations to apply!\n") == []
    table = (
        "Migrations to be applied:\n┌──────────┐\n│ Name     │\n├──────────┤\n"
        "│ 0001_a.sql │\n│ 0002_b.sql │\n└──────────┘\n"
    )
    assert parse_pending(table) == ["0001_a.sql", "0002_b.sql"]
    with pytest.raises(FailedError):
        parse_pending("something else")


def test_previous_stable_version_follows_wrangler() -> None:
    deployments = [
        {
            "created_on": "2026-01-01T00:00:00Z",
            "versions": [{"version_id": "v1", "percentage": 100}],
        },
        {
            "created_on": "2026-01-03T00:00:00Z",
            "versions": [{"version_id": "v3", "percentage": 100}],
        },
        {
            "created_on": "2026-01-02T00:00:00Z",
            "versions": [
                {"version_id": "v2", "percentage": 50},
                {"version_id": "v1", "percentage": 50},
            ],
        },
    ]
    assert previous_stable_version(deployments) == "v1"
    assert previous_stable_version(deployments[1:2]) is None


def test_version_id_fallback_and_credentials(tmp_path: Path) -> None:
    uuid = "212b6cd6-6d29-4a30-9b72-b0e27e818810"
    assert version_id_from(None, f"Uploaded x\nCurrent Version ID: {uuid}\n") == uuid
    assert version_id_from("abc", "") == "abc"
    assert version_id_from(None, "Current Version ID: null") is None
    home = {"HOME": str(tmp_path / "home")}
    assert credentials_origin(home, tmp_path, "staging") is None
    (tmp_path / ".env.staging").write_text("export CLOUDFLARE_API_TOKEN=x\n")
    assert credentials_origin(home, tmp_path, "staging") == "API token (.env file)"
    assert credentials_origin(home, tmp_path, "production") is None
    oauth = tmp_path / "home" / ".wrangler" / "config" / "default.toml"
    oauth.parent.mkdir(parents=True)
    oauth.write_text("oauth_token = 'x'\n")
    assert str(oauth) in str(credentials_origin(home, tmp_path, "production"))
    assert credentials_origin({"CLOUDFLARE_API_KEY": "k", "CLOUDFLARE_EMAIL": "e"}, tmp_path, "x")


def test_status_prints_its_result_on_stdout(skclaw: Any, emulator: CloudflareEmulator) -> None:
    version = emulator.seed_worker(STAGING)
    run = skclaw("status", "--env", "staging")
    assert run.code == 0, run.stderr
    assert STAGING in run.stdout and version in run.stdout  # `skclaw status | grep` works
    assert "ago (" in run.stdout or "just now (" in run.stdout  # a relative time, the absolute beside it
    assert version not in run.stderr


def test_a_build_error_shows_wranglers_diagnostic_without_v(
    skclaw: Any, emulator: CloudflareEmulator, sample_project: SampleProject
) -> None:
    drop_migrations(sample_project)
    emulator.seed_worker(STAGING)
    broken = 'export default {\n  fetch() { return new Response("x" }\n};\n'
    (sample_project.path / "src" / "index.js").write_text(broken)
    run = skclaw("deploy", "--env", "staging", "--yes")
    assert run.code == 1
    assert 'Expected ")" but found "}"' in run.stderr and "src/index.js:2:" in run.stderr
    assert "nothing was deployed" in run.stderr
    assert "a new version may exist" not in run.stderr  # the build failed: nothing was uploaded
    assert len(emulator.versions(STAGING)) == 1
