"""Saved plans: `secrets sync --plan-out FILE` in one job, `skclaw apply FILE` in another."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.hardening import changes, use_envfile, write_envfile
from tests.skrun import Run, skclaw

STAGING, PRODUCTION = "demo-worker-staging", "demo-worker-prod"
VALUES = {"API_TOKEN": "plan-token-value-0001", "DB_URL": "postgres://plan-0001"}
KEY = "ab" * 32


def run(project: SampleProject, wrangler: Path, *args: str, key: str | None = KEY) -> Run:
    return skclaw(list(args), project=project.path, wrangler=wrangler,
                  env={"CI": None, "SKCLAW_FINGERPRINT_KEY": key})


@pytest.fixture
def planned(sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
            cf_env: dict[str, str]) -> Path:
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {env: VALUES for env in sample_project.envs}, required=list(VALUES))
    emulator.clear_requests()
    plan = sample_project.path / "plan.json"
    done = run(sample_project, wrangler_bin, "secrets", "sync", "-e", "staging", "-e", "production",
               "--plan-out", str(plan), "--json")
    assert done.code == 0, done.output
    assert done.envelope["result"]["planFile"] == str(plan)
    return plan


def test_a_plan_changes_nothing_holds_no_values_and_applies_exactly(
    planned: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    assert changes(emulator) == []
    assert stat.S_IMODE(planned.stat().st_mode) == 0o600
    text = planned.read_text()
    for value in VALUES.values():
        assert value not in text
    document = json.loads(text)
    assert document["environments"]["production"]["worker"] == PRODUCTION
    assert document["environments"]["production"]["deployedVersion"] == emulator.current_version_id(PRODUCTION)
    assert sorted(document["environments"]["staging"]["secrets"]) == sorted(VALUES)

    done = run(sample_project, wrangler_bin, "apply", str(planned), "--yes", "--json")

    assert done.code == 0, done.output
    for env in sample_project.envs:
        assert emulator.secrets(sample_project.worker(env)) == VALUES


def test_a_value_changed_since_the_plan_is_refused(
    planned: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    write_envfile(sample_project, "production", VALUES | {"DB_URL": "postgres://changed-after-review"})
    done = run(sample_project, wrangler_bin, "apply", str(planned), "--yes", "--json")
    assert done.code == 3, done.output
    assert "production: the value of DB_URL changed in the source" in done.envelope["error"]["message"]
    assert changes(emulator) == []


def test_a_version_deployed_by_someone_else_is_refused(
    planned: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    before = emulator.current_version_id(STAGING)
    after = emulator.put_secret(STAGING, "HAND_MADE", "x")
    emulator.clear_requests()
    done = run(sample_project, wrangler_bin, "apply", str(planned), "--yes", "--json")
    assert done.code == 3, done.output
    message = done.envelope["error"]["message"]
    assert f"staging: the deployed version was {before}, now {after}" in message
    assert changes(emulator) == []


def test_an_edited_plan_or_another_key_is_refused(
    planned: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    other_key = run(sample_project, wrangler_bin, "apply", str(planned), "--yes", "--json", key="cd" * 32)
    assert other_key.code == 3 and "another fingerprint key" in other_key.envelope["error"]["message"]
    document = json.loads(planned.read_text())
    document["environments"]["production"]["delete"] = ["API_TOKEN"]
    planned.write_text(json.dumps(document))
    edited = run(sample_project, wrangler_bin, "apply", str(planned), "--yes", "--json")
    assert edited.code == 3 and "changed after it was written" in edited.envelope["error"]["message"]
    assert changes(emulator) == []


def test_the_gate_still_applies_at_apply_time(
    planned: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    done = run(sample_project, wrangler_bin, "apply", str(planned), "--json")  # no --yes: production refuses
    assert done.code == 3, done.output
    assert "needs consent" in done.envelope["error"]["message"]
    assert changes(emulator) == []


# ----------------------------------------------------------------------------- migrate


ADD = "0002_add_posts.sql"


@pytest.fixture
def migrate_plan(sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
                 cf_env: dict[str, str]) -> Path:
    info = sample_project.d1["staging"]
    emulator.create_d1(info.id, info.name)
    emulator.d1_query(info.id, (sample_project.migrations_dir / "0001_create_users.sql").read_text())
    emulator.d1_query(info.id, "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
                      "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL); "
                      "INSERT INTO d1_migrations (name) VALUES ('0001_create_users.sql')")
    (sample_project.migrations_dir / ADD).write_text("CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT);\n")
    emulator.clear_requests()
    plan = sample_project.path / "migrate-plan.json"
    done = run(sample_project, wrangler_bin, "migrate", "--env", "staging", "--remote", "--plan-out", str(plan),
               "--json")
    assert done.code == 0, done.output
    return plan


def test_a_migrate_plan_changes_nothing_and_applies_those_migrations(
    migrate_plan: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    info = sample_project.d1["staging"]
    assert "posts" not in emulator.d1_tables(info.id)
    document = json.loads(migrate_plan.read_text())
    assert list(document["environments"]["staging"]["migrations"]) == [ADD]
    done = run(sample_project, wrangler_bin, "apply", str(migrate_plan), "--yes", "--json")
    assert done.code == 0, done.output
    assert done.envelope["result"]["applied"] == [ADD] and "posts" in emulator.d1_tables(info.id)


def test_a_new_or_edited_migration_since_the_plan_is_refused(
    migrate_plan: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    info = sample_project.d1["staging"]
    (sample_project.migrations_dir / "0003_drop_users.sql").write_text("DROP TABLE users;\n")
    added = run(sample_project, wrangler_bin, "apply", str(migrate_plan), "--yes", "--json")
    assert added.code == 3, added.output
    assert "a new migration file 0003_drop_users.sql is pending" in added.envelope["error"]["message"]
    (sample_project.migrations_dir / "0003_drop_users.sql").unlink()
    (sample_project.migrations_dir / ADD).write_text("CREATE TABLE posts (id INTEGER PRIMARY KEY);\n")
    edited = run(sample_project, wrangler_bin, "apply", str(migrate_plan), "--yes", "--json")
    assert edited.code == 3 and f"{ADD} changed since the plan" in edited.envelope["error"]["message"]
    assert "posts" not in emulator.d1_tables(info.id)


# ----------------------------------------------------------------------------- deploy


@pytest.fixture
def deploy_plan(sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
                cf_env: dict[str, str]) -> Path:
    import shutil

    shutil.rmtree(sample_project.migrations_dir)  # no pending-migrations check: a deploy-only project
    emulator.seed_worker(STAGING)
    emulator.clear_requests()
    plan = sample_project.path / "deploy-plan.json"
    done = run(sample_project, wrangler_bin, "deploy", "--env", "staging", "--plan-out", str(plan), "-m", "ship it",
               "--json")
    assert done.code == 0, done.output
    return plan


def test_a_deploy_plan_deploys_nothing_then_exactly_that_bundle(
    deploy_plan: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    assert changes(emulator) == [] and len(emulator.versions(STAGING)) == 1
    document = json.loads(deploy_plan.read_text())
    assert len(document["environments"]["staging"]["bundle"]) == 64
    done = run(sample_project, wrangler_bin, "apply", str(deploy_plan), "--yes", "--json")
    assert done.code == 0, done.output
    assert emulator.current_version_id(STAGING) == done.envelope["result"]["versionId"]
    assert emulator.deployments(STAGING)[-1]["annotations"]["workers/message"] == "ship it"


def test_changed_code_or_a_new_deployment_since_the_plan_is_refused(
    deploy_plan: Path, sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    live = emulator.current_version_id(STAGING)
    (sample_project.path / "src" / "index.js").write_text('export default { fetch() { return new Response("x"); } };\n')
    code = run(sample_project, wrangler_bin, "apply", str(deploy_plan), "--yes", "--json")
    assert code.code == 3, code.output
    assert "staging: the bundle (SHA-256) was" in code.envelope["error"]["message"]
    assert emulator.current_version_id(STAGING) == live
