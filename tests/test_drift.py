"""`skclaw secrets status [--check]`: drift between the source, Cloudflare and skclaw's last push."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.hardening import changes, use_envfile, write_envfile
from tests.skrun import Run, skclaw

STAGING = "demo-worker-staging"
VALUES = {"API_TOKEN": "drift-token-value-0001", "DB_URL": "postgres://drift-0001"}


def run(project: SampleProject, wrangler: Path, *args: str) -> Run:
    return skclaw(list(args), project=project.path, wrangler=wrangler, env={"CI": None})


@pytest.fixture
def pushed(sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path,
           cf_env: dict[str, str]) -> SampleProject:
    emulator.seed_worker(STAGING)
    use_envfile(sample_project, {"staging": VALUES}, required=list(VALUES))
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes")
    assert done.code == 0, done.output
    emulator.clear_requests()
    return sample_project


def test_in_sync_after_a_push(pushed: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path) -> None:
    done = run(pushed, wrangler_bin, "secrets", "status", "--env", "staging", "--check", "--json")
    assert done.code == 0, done.output
    entry = done.envelope["result"]["environments"]["staging"]
    assert entry["status"] == "ok" and entry["changedOutside"] is False
    assert entry["missing"] == entry["extra"] == entry["sourceChanged"] == []
    assert changes(emulator) == []  # reads only


def test_a_value_changed_in_the_source_is_drift(
    pushed: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    write_envfile(pushed, "staging", VALUES | {"DB_URL": "postgres://rotated-in-vault"})
    checked = run(pushed, wrangler_bin, "secrets", "status", "--env", "staging", "--check", "--json")
    assert checked.code == 5, checked.output
    assert checked.envelope["error"]["kind"] == "drift"
    entry = checked.envelope["result"]["environments"]["staging"]
    assert entry["status"] == "drift" and entry["sourceChanged"] == ["DB_URL"]
    human = run(pushed, wrangler_bin, "secrets", "status", "--env", "staging")
    assert human.code == 0  # without --check drift is reported, not an error
    assert "DB_URL" in human.stdout and "source changed since skclaw pushed it" in human.stdout
    for value in [*VALUES.values(), "postgres://rotated-in-vault"]:
        assert value not in human.output and value not in checked.output


def test_changes_made_outside_skclaw_and_extra_names_are_drift(
    pushed: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path
) -> None:
    emulator.put_secret(STAGING, "HAND_MADE", "x")  # `wrangler secret put` by someone
    done = run(pushed, wrangler_bin, "secrets", "status", "--env", "staging", "--check", "--json")
    assert done.code == 5
    entry = done.envelope["result"]["environments"]["staging"]
    assert entry["changedOutside"] is True and entry["extra"] == ["HAND_MADE"]
    assert entry["sourceChanged"] == []


def test_names_missing_on_cloudflare_without_any_push(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "x"})
    use_envfile(sample_project, {"staging": VALUES}, required=list(VALUES))
    done = run(sample_project, wrangler_bin, "secrets", "status", "--env", "staging", "--check", "--json")
    assert done.code == 5
    entry = done.envelope["result"]["environments"]["staging"]
    assert entry["missing"] == ["DB_URL"] and entry["changedOutside"] is None and entry["lastPush"] == "none"


def test_a_missing_worker_is_a_failure_not_drift(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    use_envfile(sample_project, {"staging": VALUES}, required=list(VALUES))
    done = run(sample_project, wrangler_bin, "secrets", "status", "--env", "staging", "--check", "--json")
    assert done.code in (1, 3), done.output
    assert done.envelope["error"]["kind"] != "drift"
