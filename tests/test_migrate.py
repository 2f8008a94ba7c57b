"""`skclaw migrate` with the real wrangler: local Miniflare D1, remote D1 on the API emulator."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from skclaw import process
from skclaw.commands.migrate import CHECKSUM_TABLE, checksum_sql, restore_command
from skclaw.wrangler.d1 import (
    failed_migration,
    parse_apply_statuses,
    parse_bookmark,
    parse_pending,
    parse_query_rows,
)
from tests.cfemu import ApiError, CloudflareEmulator, Recorded
from tests.conftest import REPO_ROOT, SampleProject, run_wrangler_binary
from tests.hardening import changes
from tests.skrun import Run
from tests.skrun import skclaw as run_skclaw_in_process

SKCLAW_BIN = REPO_ROOT / ".venv" / "bin" / "skclaw"
FIRST = "0001_create_users.sql"
DROP = "0002_drop_users.sql"
DROP_SQL = "DROP TABLE users;\n"
# D1 rejects SQL transactions; SQLite (and so the offline lint) runs this fine.
BAD = "0002_posts_in_a_transaction.sql"
BAD_SQL = "BEGIN TRANSACTION;\nCREATE TABLE posts (id INTEGER PRIMARY KEY);\nCOMMIT;\n"
MIGRATIONS_DDL = (
    "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
    "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
)



@pytest.fixture
def skclaw(
    cf_env: dict[str, str],
    sample_project: SampleProject,
    wrangler_bin: Path,
) -> Any:
    """Run `skclaw migrate` in-process (non-interactive: stdin is not a terminal)."""

    def run(*args: str) -> Run:
        return run_skclaw_in_process(["migrate", *args], project=sample_project.path, wrangler=wrangler_bin)

    return run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def d1_writes(emulator: CloudflareEmulator) -> list[Recorded]:
    """Mutating requests, without the `CREATE TABLE IF NOT EXISTS d1_migrations` that wrangler's
    `migrations list` sends (reading state before the gate is allowed)."""
    return changes(emulator)  # one definition of "wrangler's ledger bootstrap" (quoted or not)


def seed_first_applied(emulator: CloudflareEmulator, project: SampleProject, env: str) -> str:
    """The env's remote D1 as if 0001 had been applied by wrangler; returns its uuid."""
    uuid = project.d1[env].id
    emulator.create_d1(uuid, project.d1[env].name)
    emulator.d1_query(uuid, (project.migrations_dir / FIRST).read_text())
    emulator.d1_query(
        uuid, f"{MIGRATIONS_DDL}; INSERT INTO d1_migrations (name) VALUES ('{FIRST}')"
    )
    emulator.d1_query(uuid, "INSERT INTO users (email) VALUES ('a@example.com')")
    emulator.clear_requests()
    return uuid


def first_index(requests: list[Recorded], predicate: Any) -> int:
    return next(i for i, r in enumerate(requests) if predicate(r))


def sql_of(r: Recorded) -> str:
    return str(r.json.get("sql", "")) if isinstance(r.json, dict) else ""


# ----------------------------------------------------------------------------- parsing

LIST_OUTPUT = """Resource location: remote

Migrations to be applied:
┌───────────────────────┐
│ Name                  │
├───────────────────────┤
│ 0001_create_users.sql │
├───────────────────────┤
│ 0002_bad.sql          │
└───────────────────────┘
"""

APPLY_OUTPUT = """Migrations to be applied:
┌───────────────────────┐
│ name                  │
├───────────────────────┤
│ 0001_a.sql            │
├───────────────────────┤
│ 0002_b.sql            │
└───────────────────────┘
🌀 Executing on remote database DB (5c1e):
┌────────────┬────────┐
│ name       │ status │
├────────────┼────────┤
│ 0001_a.sql │ ✅     │
├────────────┼────────┤
│ 0002_b.sql │ 🕒️    │
└────────────┴────────┘
┌────────────┬────────┐
│ name       │ status │
├────────────┼────────┤
│ 0001_a.sql │ ✅     │
├────────────┼────────┤
│ 0002_b.sql │ ❌     │
└────────────┴────────┘
"""


def test_parsing_wrangler_output() -> None:
    assert parse_pending(LIST_OUTPUT) == ["0001_create_users.sql", "0002_bad.sql"]
    assert parse_pending("Resource location: local\n\n✅ No migrations to apply!\n") == []
    # A ❌ with exit 0 (a statement answered success:false) is a failure, read from the table.
    assert parse_apply_statuses(APPLY_OUTPUT) == {"0001_a.sql": "applied", "0002_b.sql": "failed"}
    assert parse_bookmark('{\n  "bookmark": "0000-abc"\n}\n') == "0000-abc"
    logs = '🌀 Executing on remote database DB (x):\n[\n {"results": [{"n": 1}]}\n]\n'
    assert parse_query_rows(logs) == [{"n": 1}]
    detail = (
        "Migration 0002_b.sql failed with the following errors:\n\nno such table: t: SQLITE_ERROR"
    )
    assert failed_migration(detail) == ("0002_b.sql", "no such table: t: SQLITE_ERROR")
    assert restore_command("demo-db", "00a-b", "production") == (
        "wrangler d1 time-travel restore demo-db --bookmark 00a-b --env production"
    )
    assert restore_command("demo-db", "00a-b", "default").endswith("--bookmark 00a-b")
    db = sqlite3.connect(":memory:")
    db.executescript(checksum_sql({"0003_it's.sql": "ab" * 32}, "2026-01-01T00:00:00+00:00"))
    assert db.execute(f"SELECT name, sha256 FROM {CHECKSUM_TABLE}").fetchall() == [
        ("0003_it's.sql", "ab" * 32)
    ]


# ----------------------------------------------------------------------------- bad input (exit 2)

BAD_INPUT_CONFIG = """{
  "name": "demo-worker", "main": "src/index.js", "compatibility_date": "2025-01-01",
  "env": {
    "production": {},
    "multi": {"d1_databases": [
      {"binding": "A", "database_name": "db-a", "database_id": "id-a"},
      {"binding": "B", "database_name": "db-b", "database_id": "id-b"}]},
    "noid": {"d1_databases": [{"binding": "DB", "database_name": "db-noid"}]}
  }
}
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "production", "--remote"], "no D1 binding in env production"),  # before policy
        (["--env", "production"], "no D1 binding in env production"),
        (["--env", "nope", "--remote"], "Unknown environment 'nope'"),
        (["--env", "multi", "--remote"], "env multi has 2 D1 databases: A (db-a), B (db-b)"),
        (["--env", "multi", "--database", "C", "--remote"], "no D1 database 'C' in env multi"),
        (["--env", "noid", "--remote"], "has no database_id; --remote needs one"),
        (["--env", "noid", "--remote", "--local"], "--remote and --local exclude each other"),
    ],
)
def test_bad_input_is_exit_2_before_any_wrangler_call(
    args: list[str],
    message: str,
    skclaw: Any,
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
) -> None:
    sample_project.config_path.write_text(BAD_INPUT_CONFIG)
    run = skclaw(*args, "--yes", "--json")
    assert run.code == 2, run.stderr
    assert message in run.envelope["error"]["message"]
    assert emulator.requests == []
    assert not (sample_project.path / ".wrangler").exists()


# ----------------------------------------------------------------------------- policy refusal


@pytest.mark.parametrize(
    ("args", "skclaw_env"),
    [
        (["--env", "production", "--yes"], None),
        (["--env", "production", "--local", "--yes", "--confirm-env", "production"], None),
        (["--yes"], "production"),
        (["--env", "production", "--list"], None),
    ],
    ids=["no-remote", "local", "SKCLAW_ENV", "list"],
)
def test_production_without_remote_is_refused_and_runs_nothing(
    args: list[str],
    skclaw_env: str | None,
    skclaw: Any,
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if skclaw_env:
        monkeypatch.setenv("SKCLAW_ENV", skclaw_env)
    run = skclaw(*args, "--json")
    assert run.code == 3, run.stderr
    assert run.envelope["error"]["kind"] == "refused"
    assert "needs --remote" in run.envelope["error"]["message"]
    assert run.result["status"] == "refused" and run.result["environment"] == "production"
    # The target is shown before the refusal.
    assert "LOCAL" in run.stderr and "demo-prod-db" in run.stderr
    assert emulator.requests == []
    assert not any(
        argv
        for argv in process.started_argv()
        if str(sample_project.path) in " ".join(argv) and "d1" in argv
    )
    assert not (sample_project.path / ".wrangler").exists()
    audit = (sample_project.path / ".skclaw" / "audit.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["outcome"] == "refused"


# ----------------------------------------------------------------------------- local (Miniflare)


@pytest.mark.wrangler
def test_local_apply_on_staging_writes_the_miniflare_database(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    run = skclaw("--env", "staging", "--local", "--json")
    assert run.code == 0, run.stderr
    result = run.result
    assert result["target"] == "local" and result["applied"] == [FIRST]
    assert result["bookmark"] is None and result["status"] == "ok"
    assert "MIGRATE · LOCAL · staging" in run.stderr
    assert emulator.requests == []  # nothing reached Cloudflare

    state = sample_project.path / ".wrangler" / "state" / "v3" / "d1"
    files = [p for p in state.glob("**/*.sqlite") if p.name != "metadata.sqlite"]
    assert len(files) == 1, files
    db = sqlite3.connect(files[0])
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"users", "d1_migrations", CHECKSUM_TABLE} <= tables
        assert db.execute("SELECT name FROM d1_migrations").fetchall() == [(FIRST,)]
        assert db.execute(f"SELECT name, sha256 FROM {CHECKSUM_TABLE}").fetchall() == [
            (FIRST, sha256(sample_project.migrations_dir / FIRST))
        ]
    finally:
        db.close()


# ----------------------------------------------------------------------------- remote (emulator)


@pytest.mark.wrangler
def test_remote_apply_takes_a_bookmark_first_then_guards_applied_files(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    info = sample_project.d1["staging"]
    emulator.create_d1(info.id, info.name)
    (sample_project.migrations_dir / "0002_posts.sql").write_text(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n"
    )
    run = skclaw("--env", "staging", "--remote", "--json")
    assert run.code == 0, run.stderr
    result = run.result
    assert result["applied"] == [FIRST, "0002_posts.sql"] and result["target"] == "remote"
    assert result["database"] == {"binding": "DB", "name": info.name, "id": info.id}
    assert {"users", "posts", CHECKSUM_TABLE} <= emulator.d1_tables(info.id)

    bookmark = result["bookmark"]
    assert bookmark in emulator.d1_bookmarks(info.id)
    assert result["restoreCommand"] == (
        f"wrangler d1 time-travel restore {info.name} --bookmark {bookmark} --env staging"
    )
    assert result["restoreCommand"] in run.stderr
    requests = emulator.requests
    took_bookmark = first_index(requests, lambda r: r.path.endswith("/time_travel/bookmark"))
    first_migration = first_index(requests, lambda r: "CREATE TABLE users" in sql_of(r))
    assert took_bookmark < first_migration
    recorded = emulator.d1_query(
        info.id, f"SELECT name, sha256 FROM {CHECKSUM_TABLE} ORDER BY name"
    )
    assert recorded == [
        {"name": FIRST, "sha256": sha256(sample_project.migrations_dir / FIRST)},
        {
            "name": "0002_posts.sql",
            "sha256": sha256(sample_project.migrations_dir / "0002_posts.sql"),
        },
    ]
    audit = json.loads(
        (sample_project.path / ".skclaw" / "audit.jsonl").read_text().splitlines()[-1]
    )
    assert audit["outcome"] == "applied" and audit["bookmark"] == bookmark

    # An applied file edited afterwards: refused (exit 2), naming it; nothing is applied.
    with (sample_project.migrations_dir / FIRST).open("a") as handle:
        handle.write("ALTER TABLE users ADD COLUMN name TEXT;\n")
    (sample_project.migrations_dir / "0003_more.sql").write_text(
        "CREATE TABLE more (id INTEGER);\n"
    )
    emulator.clear_requests()
    run = skclaw("--env", "staging", "--remote", "--json")
    assert run.code == 2, run.stderr
    assert (
        FIRST in run.envelope["error"]["message"] and "changed" in run.envelope["error"]["message"]
    )
    assert d1_writes(emulator) == []
    assert "more" not in emulator.d1_tables(info.id)


@pytest.mark.wrangler
def test_a_failing_migration_reports_what_was_applied_and_how_to_restore(
    skclaw: Any,
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    wrangler_bin: Path,
) -> None:
    info = sample_project.d1["staging"]
    emulator.create_d1(info.id, info.name)
    (sample_project.migrations_dir / BAD).write_text(BAD_SQL)
    run = skclaw("--env", "staging", "--remote", "--json")
    assert run.code == 1, run.stderr
    message = run.envelope["error"]["message"]
    assert f"Migration {BAD} failed" in message and "transaction" in message
    assert f"Applied before it: {FIRST}" in message
    result = run.result
    assert result["status"] == "failed" and result["applied"] == [FIRST] and result["failed"] == BAD
    restore = result["restoreCommand"]
    assert restore and restore in run.stderr
    assert "users" in emulator.d1_tables(info.id) and "posts" not in emulator.d1_tables(info.id)
    # Only the applied one got a checksum.
    assert emulator.d1_query(info.id, f"SELECT name FROM {CHECKSUM_TABLE}") == [{"name": FIRST}]
    # No blind retry of `migrations apply`: the failing migration was sent once.
    assert len([r for r in emulator.requests if "CREATE TABLE posts" in sql_of(r)]) == 1

    # The printed restore command is exact: run it as printed, from the project directory.
    done = run_wrangler_binary(
        wrangler_bin, restore.split()[1:], cwd=sample_project.path, env=cf_env
    )
    assert done.returncode == 0, done.stderr
    assert "users" not in emulator.d1_tables(info.id)


@pytest.mark.wrangler
def test_destructive_migration_on_production_needs_confirm_env(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    uuid = seed_first_applied(emulator, sample_project, "production")
    (sample_project.migrations_dir / DROP).write_text(DROP_SQL)

    run = skclaw("--env", "production", "--remote", "--yes", "--json")
    assert run.code == 3, run.stderr
    assert "--confirm-env production" in run.stderr
    # One plan block: the target and the destructive finding once each, then the refusal.
    assert run.stderr.count("target:   REMOTE") == 1 and run.stderr.count("- destructive:") == 1
    assert run.result["status"] == "refused"
    assert [f["code"] for f in run.result["findings"]] == ["drop-table"]
    assert d1_writes(emulator) == []
    assert emulator.requests_to("GET", r"/time_travel/bookmark") == []
    assert "users" in emulator.d1_tables(uuid)

    run = skclaw(
        "--env", "production", "--remote", "--yes", "--confirm-env", "production", "--json"
    )
    assert run.code == 0, run.stderr
    assert run.result["applied"] == [DROP] and run.result["alreadyApplied"] == [FIRST]
    assert run.result["bookmark"] and "users" not in emulator.d1_tables(uuid)


@pytest.mark.wrangler
def test_no_bookmark_on_production_stops_before_applying(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    info = sample_project.d1["production"]
    emulator.create_d1(info.id, info.name)
    fault = emulator.inject_fault("GET", r"/time_travel/bookmark$", status=400, code=7400, times=-1)
    run = skclaw("--env", "production", "--remote", "--yes", "--json")
    assert run.code == 1, run.stderr
    assert "bookmark" in run.envelope["error"]["message"] and "--allow-no-bookmark" in run.stderr
    assert fault.hits == 1  # not a transient error: asked once
    assert d1_writes(emulator) == [] and "users" not in emulator.d1_tables(info.id)


@pytest.mark.wrangler
def test_dry_run_and_list_change_nothing(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    uuid = seed_first_applied(emulator, sample_project, "production")
    (sample_project.migrations_dir / DROP).write_text(DROP_SQL)

    run = skclaw("--env", "production", "--remote", "--dry-run", "--json")
    assert run.code == 0, run.stderr
    result = run.result
    assert result["status"] == "dry-run" and result["pending"] == [DROP] and result["applied"] == []
    assert (
        result["findings"][0]["code"] == "drop-table" and result["findings"][0]["table"] == "users"
    )
    assert "REMOTE" in run.stderr and "demo-prod-db" in run.stderr

    run = skclaw("--env", "production", "--remote", "--list", "--json")
    assert run.code == 0, run.stderr
    assert run.result["applied"] == [FIRST] and run.result["pending"] == [DROP]
    assert d1_writes(emulator) == []
    assert emulator.requests_to("GET", r"/time_travel/bookmark") == []
    assert "users" in emulator.d1_tables(uuid)


# A loss only the replay finds: no statement reads as a DELETE of users, yet a trigger the file
# creates empties it when the file's last statement fires it.
TRIGGERED = "0002_audit_log.sql"
TRIGGERED_SQL = """\
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, event TEXT NOT NULL);
CREATE TRIGGER audit_reset AFTER INSERT ON audit_log
BEGIN
  DELETE FROM users WHERE 1 = 1;
END;
INSERT INTO audit_log (event) VALUES ('audit enabled');
"""


@pytest.mark.wrangler
def test_a_loss_found_only_by_the_replay_needs_confirm_env_on_production(
    skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    uuid = seed_first_applied(emulator, sample_project, "production")
    (sample_project.migrations_dir / TRIGGERED).write_text(TRIGGERED_SQL)

    run = skclaw("--env", "production", "--remote", "--yes", "--json")
    assert run.code == 3, run.stderr
    assert run.envelope["error"]["kind"] == "refused"
    assert "--confirm-env production" in run.stderr
    findings = run.result["findings"]
    assert [(f["code"], f["table"], f["file"], f["line"], f["destructive"]) for f in findings] == [
        ("delete-rows", "users", TRIGGERED, 6, True)
    ]
    assert findings[0]["statement"] == "INSERT INTO audit_log (event) VALUES ('audit enabled')"
    assert "destructive" in run.stderr and "deletes rows of table users" in run.stderr
    # Nothing was applied: no write, no bookmark, the row is still there.
    assert d1_writes(emulator) == []
    assert emulator.requests_to("GET", r"/time_travel/bookmark") == []
    assert emulator.d1_query(uuid, "SELECT email FROM users") == [{"email": "a@example.com"}]
    assert "audit_log" not in emulator.d1_tables(uuid)

    run = skclaw(
        "--env", "production", "--remote", "--yes", "--confirm-env", "production", "--json"
    )
    assert run.code == 0, run.stderr
    assert run.result["applied"] == [TRIGGERED] and run.result["bookmark"]
    assert emulator.d1_query(uuid, "SELECT count(*) AS n FROM users") == [{"n": 0}]


@pytest.mark.wrangler
@pytest.mark.parametrize("landed", [False, True], ids=["lost-before", "landed-then-error"])
def test_a_transient_error_on_apply_is_not_retried(
    landed: bool, skclaw: Any, sample_project: SampleProject, emulator: CloudflareEmulator
) -> None:
    """A 5xx on the apply's query is transient, yet `migrations apply` is never retried: the
    migration may have landed. skclaw asks the database what is applied and says so."""
    info = sample_project.d1["staging"]
    emulator.create_d1(info.id, info.name)
    applies: list[str] = []

    def flaky(rec: Recorded, account: str, db_id: str) -> Any:
        # The emulator's own /query handler, for everything but the migration's query.
        query = emulator._r_d1_query
        if "CREATE TABLE users" not in sql_of(rec):
            return query(rec, account, db_id)
        applies.append(sql_of(rec))
        if landed:
            query(rec, account, db_id)  # the migration lands, but the answer is a 5xx
        raise ApiError(500, 10013, "Internal error")

    emulator.add_route("POST", r"/accounts/([^/]+)/d1/database/([^/]+)/query", flaky)
    run = skclaw("--env", "staging", "--remote", "--json")
    assert run.code == 1, run.stderr
    assert len(applies) == 1  # sent once: no retry of `migrations apply`
    message = run.envelope["error"]["message"]
    result = run.result
    assert result["status"] == "failed"
    assert result["restoreCommand"] and result["restoreCommand"] in run.stderr
    tables = emulator.d1_tables(info.id)
    checksums = (
        emulator.d1_query(info.id, f"SELECT name FROM {CHECKSUM_TABLE}")
        if CHECKSUM_TABLE in tables
        else []
    )
    if landed:
        assert "users" in tables
        assert f"failed on {FIRST} (Internal error [code: 10013])" in message
        assert f"the database lists {FIRST} as applied" in message and "Nothing is pending" in message
        assert result["applied"] == [FIRST] and result["failed"] is None
        assert checksums == [{"name": FIRST}]
    else:
        assert "users" not in tables
        assert f"Migration {FIRST} failed" in message and "Nothing was applied" in message
        assert result["applied"] == [] and result["failed"] == FIRST
        assert checksums == []


# ----------------------------------------------------------------------------- consent in a pty


def spawn_skclaw(project: SampleProject, wrangler: Path, env: dict[str, str], *args: str) -> Any:
    import pexpect  # a missing pexpect fails the test, never skips it
    child_env = {k: v for k, v in env.items() if k != "CI"}
    child_env.update(TERM="xterm", COLUMNS="120", LINES="40", PROMPT_TOOLKIT_NO_CPR="1")
    argv = ["-C", str(project.path), "--wrangler", str(wrangler), "migrate", *args]
    return pexpect.spawn(
        str(SKCLAW_BIN), argv, env=child_env, encoding="utf-8", timeout=120, dimensions=(40, 120)
    )


def finish(child: Any) -> int:
    import pexpect

    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus)


@pytest.mark.pty
@pytest.mark.wrangler
def test_declining_the_y_n_prompt_applies_nothing(
    cf_env: dict[str, str],
    emulator: CloudflareEmulator,
    sample_project: SampleProject,
    wrangler_bin: Path,
) -> None:
    info = sample_project.d1["production"]
    emulator.create_d1(info.id, info.name)
    child = spawn_skclaw(sample_project, wrangler_bin, cf_env, "--env", "production", "--remote")
    child.expect(re.escape(f"{info.name} ({info.id})"))
    child.expect(re.escape(FIRST))
    child.expect(r"Proceed with applying 1 D1 migration on protected environment production\?")
    child.send("n")
    child.send("\r")
    assert finish(child) == 3
    assert d1_writes(emulator) == []
    assert "users" not in emulator.d1_tables(info.id)


@pytest.mark.pty
@pytest.mark.wrangler
def test_destructive_migration_asks_for_the_env_name(
    cf_env: dict[str, str],
    emulator: CloudflareEmulator,
    sample_project: SampleProject,
    wrangler_bin: Path,
) -> None:
    uuid = seed_first_applied(emulator, sample_project, "production")
    (sample_project.migrations_dir / DROP).write_text(DROP_SQL)
    prompt = r"Type the environment name \(production\) to continue:"

    child = spawn_skclaw(sample_project, wrangler_bin, cf_env, "--env", "production", "--remote")
    child.expect("destructive: .*drops table users")
    child.expect(prompt)
    child.send("prod\r")
    assert finish(child) == 3
    assert d1_writes(emulator) == [] and "users" in emulator.d1_tables(uuid)

    child = spawn_skclaw(sample_project, wrangler_bin, cf_env, "--env", "production", "--remote")
    child.expect(prompt)
    child.send("production\r")
    child.expect("to undo this run: wrangler d1 time-travel restore demo-prod-db --bookmark")
    assert finish(child) == 0
    assert "users" not in emulator.d1_tables(uuid)
