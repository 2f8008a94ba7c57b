"""`skclaw release`: migrations, `versions upload`, gradual `versions deploy` steps with a verify after
each, automatic rollback, `--resume`, saved plans; the real wrangler against the API emulator.

The verify command of these tests asks the emulator's API (as any health check asks Cloudflare)
which versions serve traffic at that moment and logs it, so the tests assert what Cloudflare
would serve after each step, not only what skclaw says.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from skclaw import releases
from skclaw.errors import UsageError
from skclaw.releases import ReleaseState
from tests.cfemu import ApiError, CloudflareEmulator, Recorded
from tests.conftest import REPO_ROOT, SAMPLE_MIGRATION, SampleProject
from tests.hardening import changes
from tests.skrun import Run
from tests.skrun import skclaw as run_skclaw_in_process

STAGING, PRODUCTION = "demo-worker-staging", "demo-worker-prod"
SKCLAW_BIN = REPO_ROOT / ".venv" / "bin" / "skclaw"

VERIFY_SCRIPT = """\
import json, os, sys, urllib.request
base, account = os.environ["CLOUDFLARE_API_BASE_URL"], os.environ["CLOUDFLARE_ACCOUNT_ID"]
worker = os.environ["SKCLAW_RELEASE_WORKER"]
request = urllib.request.Request(f"{base}/accounts/{account}/workers/scripts/{worker}/deployments",
                                 headers={"Authorization": "Bearer " + os.environ["CLOUDFLARE_API_TOKEN"]})
live = json.load(urllib.request.urlopen(request, timeout=10))["result"]["deployments"][0]
entry = {"percent": os.environ["SKCLAW_RELEASE_PERCENT"], "version": os.environ["SKCLAW_RELEASE_VERSION"],
         "previous": os.environ["SKCLAW_RELEASE_PREVIOUS_VERSION"],
         "serving": {v["version_id"]: v["percentage"] for v in live["versions"]}}
with open(sys.argv[1], "a") as log:
    log.write(json.dumps(entry) + "\\n")
sys.exit(1 if os.environ.get("FAIL_AT") == entry["percent"] else 0)
"""


@pytest.fixture
def project(sample_project: SampleProject, emulator: CloudflareEmulator, monkeypatch: pytest.MonkeyPatch,
            cf_env: dict[str, str]) -> SampleProject:
    """The sample project with a deployed staging/production Worker, its D1 databases, one pending
    migration, and a manifest secret from the environment."""
    monkeypatch.delenv("CI", raising=False)
    sample_project.create_databases(emulator)
    (sample_project.path / ".skclaw.jsonc").write_text(json.dumps({
        "secrets": {"required": ["API_TOKEN"], "source": "environ"}, "sources": {"environ": {"prefix": ""}},
    }))
    monkeypatch.setenv("API_TOKEN", "release-value-7c1d")
    for worker in (STAGING, PRODUCTION):
        emulator.seed_worker(worker, secrets={"API_TOKEN": "old-value"})
    (sample_project.path / "verify.py").write_text(VERIFY_SCRIPT)
    return sample_project


@pytest.fixture
def skclaw(project: SampleProject, wrangler_bin: Path) -> Any:
    def run(*args: str, env: dict[str, str | None] | None = None) -> Run:
        return run_skclaw_in_process(list(args), project=project.path, wrangler=wrangler_bin, env=env)

    return run


def drop_migrations(project: SampleProject) -> None:
    """No migration files: a release without D1 steps (fewer wrangler starts, for tests about the rest)."""
    shutil.rmtree(project.migrations_dir)


def verify_cmd(project: SampleProject) -> str:
    return f"{sys.executable} verify.py {project.path / 'verify.log'}"


def verify_log(project: SampleProject) -> list[dict[str, Any]]:
    path = project.path / "verify.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def state_file(project: SampleProject, env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project.path / ".skclaw" / "releases" / f"{env}.json").read_text())
    return data


def version_uploads(emulator: CloudflareEmulator, worker: str) -> int:
    return len(emulator.requests_to("POST", rf"/workers/scripts/{worker}/versions$"))


# -- a gradual release ----------------------------------------------------------------------------


def test_gradual_release_serves_each_step_then_100(skclaw: Any, project: SampleProject,
                                                    emulator: CloudflareEmulator) -> None:
    before = emulator.current_version_id(STAGING)
    (project.path / "src" / "index.js").write_text(
        'export default { fetch() { return new Response("release two"); } };\n')

    run = skclaw("release", "--env", "staging", "--gradual", "10,50", "--verify", verify_cmd(project), "--json")

    assert run.code == 0, run.stderr
    result = run.result
    new = result["versionId"]
    assert result["status"] == "ok" and result["previousVersionId"] == before and new != before
    # What Cloudflare served when each verify ran: the new version at 10 %, 50 %, then alone.
    assert [(e["percent"], e["serving"]) for e in verify_log(project)] == [
        ("10", {new: 10, before: 90}),
        ("50", {new: 50, before: 50}),
        ("100", {new: 100}),
    ]
    assert all(e["version"] == new and e["previous"] == before for e in verify_log(project))
    assert emulator.traffic(STAGING) == {new: 100.0}
    # One new version: the code and the manifest's secret together.
    version = emulator.versions(STAGING)[-1]
    assert version["id"] == new and version["secrets"] == {"API_TOKEN": "release-value-7c1d"}
    assert b"release two" in b"".join(emulator.uploaded_modules(STAGING).values())
    assert version_uploads(emulator, STAGING) == 1
    # The migration ran first, with a restore point.
    assert "users" in emulator.d1_tables(project.d1["staging"].id)
    assert result["migrations"]["DB"]["applied"] == [SAMPLE_MIGRATION]
    assert result["migrations"]["DB"]["bookmark"] in emulator.d1_bookmarks(project.d1["staging"].id)
    assert [s["name"] for s in result["steps"]] == ["migrate DB", "upload", "deploy 10%", "deploy 50%",
                                                     "deploy 100%"]
    state = state_file(project, "staging")
    assert state["status"] == "done" and all(s["done"] for s in state["steps"])
    assert "release-value-7c1d" not in run.output + json.dumps(state)
    audit = [json.loads(line) for line in (project.path / ".skclaw" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["command"] == "release" and audit[-1]["outcome"] == "ok" and audit[-1]["versionId"] == new


def test_failed_verify_rolls_back_and_keeps_migrations(skclaw: Any, project: SampleProject,
                                                       emulator: CloudflareEmulator) -> None:
    before = emulator.current_version_id(STAGING)

    run = skclaw("release", "--env", "staging", "--gradual", "25,50", "--verify", verify_cmd(project), "--json",
                 env={"FAIL_AT": "50"})

    assert run.code == 1, run.stderr
    new = run.result["versionId"]
    assert [(e["percent"], e["serving"]) for e in verify_log(project)] == [
        ("25", {new: 25, before: 75}), ("50", {new: 50, before: 50})]
    assert emulator.traffic(STAGING) == {before: 100.0}  # rolled back to what served before
    assert run.result["rolledBack"] is True and run.result["status"] == "failed"
    assert run.envelope["error"]["kind"] == "failed"
    assert f"rolled back to version {before}" in run.stderr
    # The migration stays applied, and the restore command is printed.
    assert "users" in emulator.d1_tables(project.d1["staging"].id)
    assert "Migrations stay applied" in run.stderr and "wrangler d1 time-travel restore" in run.stderr
    assert state_file(project, "staging")["status"] == "rolled-back"

    again = skclaw("release", "--env", "staging", "--resume")
    assert again.code == 3 and "rolled back" in again.stderr
    assert emulator.traffic(STAGING) == {before: 100.0}


def break_deployments_after(emulator: CloudflareEmulator, worker: str, allowed: int) -> dict[str, int | None]:
    """Deployment POSTs to ``worker`` after the first ``allowed`` fail (400, nothing changes) until
    the returned switch's ``allowed`` is set to None."""
    switch: dict[str, int | None] = {"allowed": allowed, "seen": 0}

    def handler(rec: Recorded, account: str, name: str) -> Any:
        switch["seen"] = (switch["seen"] or 0) + 1
        limit = switch["allowed"]
        if limit is not None and (switch["seen"] or 0) > limit:
            raise ApiError(400, 10013, "deployments are down")
        return emulator._r_deployments_post(rec, account, name)

    emulator.add_route("POST", rf"/accounts/([^/]+)/workers/scripts/({worker})/deployments", handler)
    return switch


def test_resume_continues_after_a_failed_step_without_repeating_one(
    skclaw: Any, project: SampleProject, emulator: CloudflareEmulator
) -> None:
    before = emulator.current_version_id(STAGING)
    switch = break_deployments_after(emulator, STAGING, allowed=1)  # the 50 % step fails

    first = skclaw("release", "--env", "staging", "--gradual", "10,50", "--json")

    assert first.code == 1, first.stderr
    new = first.result["versionId"]
    assert emulator.traffic(STAGING) == {new: 10.0, before: 90.0}
    assert "--resume" in first.stderr and "deployments are down" in first.stderr
    assert state_file(project, "staging")["status"] == "failed"
    uploads = version_uploads(emulator, STAGING)
    ledger = emulator.d1_query(project.d1["staging"].id, "SELECT name, applied_at FROM d1_migrations")

    # `skclaw status` says a release is unfinished, and how to continue it.
    status = skclaw("status", "--env", "staging", "--json")
    assert status.code == 0, status.stderr
    release = status.result["environments"]["staging"]["release"]
    assert (release["status"], release["nextStep"], release["versionId"]) == ("failed", "deploy 50%", new)
    assert "deployments are down" in release["error"]
    human = skclaw("status", "--env", "staging")
    assert "release: failed, next step deploy 50% (continue: skclaw release --env staging --resume)" in human.stdout

    # A new release is refused while this one is unfinished.
    blocked = skclaw("release", "--env", "staging")
    assert blocked.code == 3 and "--resume" in blocked.stderr

    switch["allowed"] = None
    resumed = skclaw("release", "--env", "staging", "--resume", "--json")

    assert resumed.code == 0, resumed.stderr
    assert resumed.result["versionId"] == new and resumed.result["resumed"] is True
    assert emulator.traffic(STAGING) == {new: 100.0}
    assert version_uploads(emulator, STAGING) == uploads  # not uploaded again
    assert emulator.d1_query(project.d1["staging"].id, "SELECT name, applied_at FROM d1_migrations") == ledger
    assert [d["versions"] for d in emulator.deployments(STAGING)[-3:]] == [
        [{"version_id": new, "percentage": 10.0}, {"version_id": before, "percentage": 90.0}],
        [{"version_id": new, "percentage": 50.0}, {"version_id": before, "percentage": 50.0}],
        [{"version_id": new, "percentage": 100.0}],
    ]
    assert state_file(project, "staging")["status"] == "done"
    assert skclaw("release", "--env", "staging", "--resume").code == 0  # finished: nothing to resume


def test_resume_refuses_when_someone_deployed_meanwhile(
    skclaw: Any, project: SampleProject, emulator: CloudflareEmulator
) -> None:
    drop_migrations(project)
    switch = break_deployments_after(emulator, STAGING, allowed=1)
    assert skclaw("release", "--env", "staging", "--gradual", "10,50").code == 1
    switch["allowed"] = None
    other = emulator.put_secret(STAGING, "OTHER", "x")  # someone else: a new version at 100 %
    requests = len(changes(emulator))

    run = skclaw("release", "--env", "staging", "--resume")

    assert run.code == 3, run.stderr
    assert "moved since the release stopped" in run.stderr and other in run.stderr
    assert len(changes(emulator)) == requests
    assert emulator.traffic(STAGING) == {other: 100.0}


def test_sigterm_during_a_verify_stops_and_resume_finishes(
    project: SampleProject, emulator: CloudflareEmulator, cf_env: dict[str, str], wrangler_bin: Path
) -> None:
    drop_migrations(project)
    # The first verify hangs (until SIGTERM); once resumed, the verifies pass.
    verify = "if [ -e verified-once ]; then exit 0; fi; touch verified-once; sleep 60"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    argv = [str(SKCLAW_BIN), "-C", str(project.path), "--wrangler", str(wrangler_bin), "release", "--env",
            "staging", "--gradual", "50", "--verify", verify, "--json"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (project.path / "verified-once").exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert (project.path / "verified-once").exists(), "the first verify never ran"
        assert len(emulator.traffic(STAGING)) == 2  # the 50 % step is live
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()

    assert proc.returncode == 143, stderr.decode()
    envelope = json.loads(stdout)
    assert envelope["error"]["kind"] == "interrupted"
    state = state_file(project, "staging")
    assert state["status"] == "interrupted"
    assert [s["done"] for s in state["steps"]] == [True, False, False]  # upload, 50 %, 100 %
    new = state["newVersion"]

    resumed = run_skclaw_in_process(["release", "--env", "staging", "--resume", "--json"], project=project.path,
                                    wrangler=wrangler_bin)

    assert resumed.code == 0, resumed.stderr
    assert emulator.traffic(STAGING) == {new: 100.0}
    assert version_uploads(emulator, STAGING) == 1


# -- refusals -------------------------------------------------------------------------------------


def test_protected_env_needs_consent_and_changes_nothing(skclaw: Any, emulator: CloudflareEmulator,
                                                          project: SampleProject) -> None:
    drop_migrations(project)
    run = skclaw("release", "--env", "production", "--json")

    assert run.code == 3, run.stderr
    assert "RELEASE · production · PROTECTED" in run.stderr and "--yes" in run.stderr
    assert changes(emulator) == []
    assert len(emulator.versions(PRODUCTION)) == 1

    granted = skclaw("release", "--env", "production", "--yes", "--json")
    assert granted.code == 0, granted.stderr
    assert emulator.traffic(PRODUCTION) == {granted.result["versionId"]: 100.0}


def test_a_split_deployment_is_not_a_starting_point(skclaw: Any, emulator: CloudflareEmulator,
                                                     project: SampleProject, run_wrangler: Any,
                                                     cf_env: dict[str, str]) -> None:
    drop_migrations(project)
    first = emulator.current_version_id(STAGING)
    second = emulator.put_secret(STAGING, "X", "y")
    split = run_wrangler(["versions", "deploy", f"{first}@30", f"{second}@70", "-y", "--env", "staging"],
                         cwd=project.path, env=cf_env)
    assert split.returncode == 0, split.stderr
    requests = len(changes(emulator))

    run = skclaw("release", "--env", "staging")

    assert run.code == 3 and "middle of a gradual deployment" in run.stderr
    assert len(changes(emulator)) == requests


def test_a_worker_never_deployed_is_refused(sample_project: SampleProject, emulator: CloudflareEmulator,
                                            cf_env: dict[str, str], wrangler_bin: Path) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text("{}")
    run = run_skclaw_in_process(["release", "--env", "staging", "--non-interactive"], project=sample_project.path,
                                wrangler=wrangler_bin)

    assert run.code == 2, run.stderr
    assert "no deployment yet" in run.stderr and "skclaw deploy --env staging" in run.stderr
    assert not emulator.worker_exists(STAGING)


def test_bad_gradual_and_resume_options_are_usage_errors(skclaw: Any, emulator: CloudflareEmulator) -> None:
    for bad in ("50,10", "0", "abc", "101", "nan"):
        run = skclaw("release", "--env", "staging", "--gradual", bad)
        assert run.code == 2, (bad, run.stderr)
    run = skclaw("release", "--env", "staging", "--resume", "--gradual", "10")
    assert run.code == 2 and "--resume" in run.stderr
    assert skclaw("release", "--env", "staging", "--resume").code == 2  # nothing to resume
    assert emulator.requests == []


# -- dry run and saved plans ----------------------------------------------------------------------


def test_dry_run_shows_the_plan_and_changes_nothing(skclaw: Any, emulator: CloudflareEmulator,
                                                    project: SampleProject) -> None:
    run = skclaw("release", "--env", "staging", "--gradual", "10,50", "--verify", "true", "--dry-run", "--json")

    assert run.code == 0, run.stderr
    assert run.result["status"] == "dry-run" and run.result["dryRun"] is True and len(run.result["bundle"]) == 64
    assert "traffic:  10% → 50% → 100%" in run.stderr and SAMPLE_MIGRATION in run.stderr
    assert changes(emulator) == []
    assert not (project.path / ".skclaw" / "releases" / "staging.json").exists()


def test_plan_then_apply_releases_exactly_that_or_refuses(skclaw: Any, emulator: CloudflareEmulator,
                                                          project: SampleProject) -> None:
    plan = project.path / "release.plan.json"
    planned = skclaw("release", "--env", "staging", "--gradual", "50", "--plan-out", str(plan), "--json")
    assert planned.code == 0, planned.stderr
    assert json.loads(plan.read_text())["command"] == "release"
    assert version_uploads(emulator, STAGING) == 0

    (project.migrations_dir / "0002_more.sql").write_text("CREATE TABLE more (id INTEGER);\n")
    moved = skclaw("apply", str(plan))
    assert moved.code == 3 and "0002_more.sql" in moved.stderr
    assert version_uploads(emulator, STAGING) == 0

    (project.migrations_dir / "0002_more.sql").unlink()
    applied = skclaw("apply", str(plan), "--json")
    assert applied.code == 0, applied.stderr
    assert applied.result["gradual"] == [50.0, 100.0]
    assert emulator.traffic(STAGING) == {applied.result["versionId"]: 100.0}


# -- the state and the options, without wrangler ---------------------------------------------------


@pytest.mark.parametrize(("text", "steps"), [
    (None, [100.0]), ("", [100.0]), ("100", [100.0]), ("10,50", [10.0, 50.0, 100.0]),
    ("5, 25,100", [5.0, 25.0, 100.0]), ("12.5", [12.5, 100.0]),
])
def test_gradual_steps(text: str | None, steps: list[float]) -> None:
    assert releases.parse_gradual(text) == steps


@pytest.mark.parametrize("text", ["50,10", "10,10", "0", "-5", "101", "abc", "nan", "inf", "10,,50"])
def test_gradual_steps_refused(text: str) -> None:
    with pytest.raises(UsageError):
        releases.parse_gradual(text)


def test_state_round_trip_and_expected_traffic(tmp_path: Path) -> None:
    state = ReleaseState(env="staging", worker="w", previous_version="old", options={"gradual": [10.0, 100.0]},
                         steps=releases.plan_steps(["DB"], [10.0, 100.0]))
    assert state.expected_traffic() == [{"old": 100.0}]
    for step in state.steps[:2]:
        step.done = True
    state.new_version = "new"
    # Stopped before or during the 10 % step: either split may be live.
    assert state.expected_traffic() == [{"old": 100.0}, {"new": 10.0, "old": 90.0}]
    state.steps[2].done = True
    assert state.expected_traffic() == [{"new": 10.0, "old": 90.0}, {"new": 100.0}]
    releases.save(tmp_path, state)
    loaded = releases.load(tmp_path, "staging")
    assert loaded is not None and loaded.to_json() == state.to_json()
    assert (tmp_path / ".skclaw" / "releases" / "staging.json").stat().st_mode & 0o777 == 0o600


def test_state_file_through_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    (tmp_path / ".skclaw" / "releases").mkdir(parents=True)
    (tmp_path / ".skclaw" / "releases" / "staging.json").symlink_to(target)
    with pytest.raises(UsageError):
        releases.load(tmp_path, "staging")
