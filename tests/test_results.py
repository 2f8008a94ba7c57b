"""Result types: the JSON each command's envelope carries, its exit code, and what it audits."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from skclaw import audit
from skclaw.output import Output
from skclaw.render import render
from skclaw.results import (
    CommandResult,
    D1Ref,
    MigrateResult,
    RotatedEnv,
    RotateResult,
    SyncedEnv,
    SyncResult,
)
from skclaw.secrets.value import SecretValue


def envelope_result(result: CommandResult) -> Any:
    """The result as a reader of the envelope sees it (JSON text, parsed)."""
    return json.loads(json.dumps(result.to_json()))


def test_sync_verdict_and_audit_leave_out_unchanged_envs() -> None:
    result = SyncResult({
        "staging": SyncedEnv("app-staging", "ok", ("A", "B"), unchanged=()),
        "dev": SyncedEnv("app-dev", "ok", unchanged=("A",)),
        "production": SyncedEnv("app", "failed", ("A",), error="boom", unchanged=()),
    })
    verdict = result.verdict()
    assert verdict.exit_code == 4 and verdict.error() == {
        "kind": "partial",
        "message": "secrets sync failed for production. The new values are on: staging, production.",
    }
    assert [(e.env, e.outcome, e.keys) for e in result.audit_entries()] == [
        ("staging", "ok", ("A", "B")), ("production", "failed", ("A",))]
    assert envelope_result(result)["environments"]["dev"] == {
        "worker": "app-dev", "status": "ok", "pushed": [], "deleted": [], "error": None, "unchanged": ["A"]}


def test_interrupted_env_is_failed_in_json_and_interrupted_in_the_audit() -> None:
    result = SyncResult({"staging": SyncedEnv("w", "failed", error="interrupted; wrangler was stopped",
                                              interrupted=True)})
    assert envelope_result(result)["environments"]["staging"]["status"] == "failed"
    assert [e.outcome for e in result.audit_entries()] == ["interrupted"]


def test_a_dry_run_audits_nothing_and_a_local_sync_names_its_file() -> None:
    assert SyncResult({"s": SyncedEnv("w", "dry-run")}, dry_run=True).audit_entries() == ()
    local = SyncResult({"s": SyncedEnv("w", "ok", ("K",), file="/p/.dev.vars.s")}, local=True)
    [entry] = local.audit_entries()
    assert (entry.command, entry.details["file"]) == ("secrets sync --local", ".dev.vars.s")
    assert local.to_json() == {"environments": {"s": {"worker": "w", "status": "ok", "pushed": ["K"], "deleted": [],
                                                      "error": None, "file": "/p/.dev.vars.s"}},
                               "local": True, "dryRun": False}


def test_rotate_keeps_the_value_only_when_asked_and_audits_each_stage() -> None:
    stored = RotatedEnv("staging", "w-s", "TOKEN", "envfile", stored=True, failure="api down",
                        value=SecretValue("s3cret-value"))
    failed = RotatedEnv("dev", "w-d", "TOKEN", "envfile", failure="read-only")
    result = RotateResult("TOKEN", {"staging": stored, "dev": failed}, print_value=True)
    assert result.reveal_values
    document = envelope_result(result)["environments"]
    assert document["staging"]["value"] == "s3cret-value" and "value" not in document["dev"]
    assert document["dev"]["error"] == "storing failed: read-only"
    assert [(e.outcome, e.details["error"]) for e in result.audit_entries()] == [
        ("stored-not-pushed", "api down"), ("failed", "read-only")]
    assert "s3cret-value" not in repr(result.audit_entries())
    assert result.verdict().exit_code == 1


def test_migrate_audits_changes_and_refusals_not_reads(tmp_path: Path) -> None:
    base = MigrateResult(environment="staging", worker="w", database=D1Ref("DB", "db", "id-1"), target="remote",
                         protected=False, pending=("0001.sql",))
    assert base.audit_entries() == ()  # nothing pending was applied: nothing changed
    listed = MigrateResult(environment="staging", worker="w", database=D1Ref("DB", "db", None), target="local",
                           protected=False, applied=("0001.sql",), listing=True)
    assert listed.audit_entries() == ()
    applied = MigrateResult(environment="staging", worker="w", database=D1Ref("DB", "db", "id-1"), target="remote",
                            protected=False, pending=("0001.sql",), applied=("0001.sql",), bookmark="bm")
    audit.record_result(tmp_path, applied)
    [line] = (tmp_path / ".skclaw" / "audit.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["outcome"] == "applied" and record["bookmark"] == "bm" and record["database"] == "db"
    assert record["applied"] == ["0001.sql"] and record["command"] == "migrate" and "error" not in record


def test_render_writes_the_result_once_to_stdout_and_the_verdict_to_stderr() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(color=False, stdout=stdout, stderr=stderr)
    result = MigrateResult(environment="staging", worker="w", database=D1Ref("DB", "db", None), target="local",
                           protected=False, pending=("0002.sql",), applied=("0001.sql",), listing=True)
    render(result, out)
    assert "0001.sql" in stdout.getvalue() and "1 applied, 1 pending" in stdout.getvalue()
    assert stderr.getvalue() == ""
