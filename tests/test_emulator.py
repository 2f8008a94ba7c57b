"""The Cloudflare API emulator (cfemu) against the real wrangler, plus fast unit tests of the
emulator's own rules. The wrangler tests prove the emulator honours the contract wrangler
relies on; each would fail if the emulator answered or recorded the wrong thing."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cfemu import CloudflareEmulator, Recorded, iter_ndjson, split_sql
from tests.conftest import RunWrangler, SampleProject

# The emulator against what the real wrangler sends: never the double.
pytestmark = pytest.mark.real_wrangler

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

STAGING = "staging"


def plain(text: str) -> str:
    return ANSI_RE.sub("", text)


def wrangler_args(project: SampleProject, *args: str, env: str = STAGING) -> list[str]:
    return [*args, "--config", str(project.config_path), "--env", env]


def secret_puts(cf: CloudflareEmulator, worker: str) -> list[Recorded]:
    return cf.requests_to("PUT", rf"/workers/scripts/{worker}/secrets$")


# ----------------------------------------------------------------------------- secrets
@pytest.mark.wrangler
def test_secret_put_list_delete(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
) -> None:
    worker = sample_project.worker(STAGING)
    emulator.seed_worker(worker, secrets={"KEEP": "kept"})
    value = '  lead=1\n"quoted" ünïcødé ✓\n\n'

    put = run_wrangler(
        wrangler_args(sample_project, "secret", "put", "API_KEY"),
        cwd=sample_project.path,
        env=cf_env,
        input=value,
    )
    assert put.returncode == 0, put.stderr
    assert "Success! Uploaded secret API_KEY" in put.stdout
    # wrangler trimEnd()s the value; everything else arrives byte for byte.
    assert emulator.secrets(worker) == {"KEEP": "kept", "API_KEY": value.rstrip()}
    [req] = secret_puts(emulator, worker)
    assert req.json == {"name": "API_KEY", "text": value.rstrip(), "type": "secret_text"}
    versions = emulator.versions(worker)
    assert [v["triggered_by"] for v in versions] == ["upload", "secret"]
    assert emulator.current_version_id(worker) == versions[-1]["id"]
    assert len(emulator.deployments(worker)) == 2
    assert emulator.drafts == []

    listed = run_wrangler(wrangler_args(sample_project, "secret", "list"), cwd=sample_project.path, env=cf_env)
    assert listed.returncode == 0, listed.stderr
    assert sorted(s["name"] for s in json.loads(listed.stdout)) == ["API_KEY", "KEEP"]
    assert value.rstrip() not in listed.stdout

    deleted = run_wrangler(
        wrangler_args(sample_project, "secret", "delete", "API_KEY"),
        cwd=sample_project.path,
        env=cf_env,
    )
    assert deleted.returncode == 0, deleted.stderr
    assert "Success! Deleted secret API_KEY" in deleted.stdout
    [req] = emulator.requests_to("DELETE", r"/secrets/")
    assert req.path.endswith(f"/workers/scripts/{worker}/secrets/API_KEY")
    assert req.query == {"url_encoded": "true"}
    assert emulator.secrets(worker) == {"KEEP": "kept"}
    assert [v["triggered_by"] for v in emulator.versions(worker)] == ["upload", "secret", "secret"]
    assert [r.method for r in emulator.mutating_requests()] == ["PUT", "DELETE"]


@pytest.mark.wrangler
def test_secret_bulk_json_on_stdin_is_exact_and_one_version(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
) -> None:
    worker = sample_project.worker(STAGING)
    d1 = {"type": "d1", "name": "DB", "id": sample_project.d1[STAGING].id}
    emulator.seed_worker(worker, secrets={"OLD": "old", "KEEP": "kept"}, bindings=[d1])
    values = {
        "MULTILINE": "line1\nline2\n  indented\n",
        "QUOTES": 'it\'s "quoted" and `ticked`',
        "EQUALS": "a=b==c; d=e",
        "UNICODE": "ünïcødé ✓ 日本語 🚀",
        "OLD": "new value",
    }

    result = run_wrangler(
        wrangler_args(sample_project, "secret", "bulk"),
        cwd=sample_project.path,
        env=cf_env,
        input=json.dumps(values, indent=2, ensure_ascii=False),
    )

    assert result.returncode == 0, result.stderr
    assert "5 secrets successfully uploaded" in result.stdout
    assert emulator.secrets(worker) == {**values, "KEEP": "kept"}
    assert [v["triggered_by"] for v in emulator.versions(worker)] == ["upload", "secret"]
    assert emulator.versions(worker)[-1]["bindings"] == [d1]  # the D1 binding survived
    [patch] = emulator.requests_to("PATCH", r"/settings$")
    settings = patch.part("settings")
    assert settings is not None and settings.filename is None
    sent = json.loads(settings.data)["bindings"]
    # Existing bindings that are not overwritten are re-sent as {type, name} stubs.
    assert {"type": "d1", "name": "DB"} in sent
    assert {"type": "secret_text", "name": "KEEP"} in sent
    assert [m.method for m in emulator.mutating_requests()] == ["PATCH"]


@pytest.mark.wrangler
def test_secret_put_on_missing_worker_creates_a_draft(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
) -> None:
    worker = sample_project.worker(STAGING)

    result = run_wrangler(
        wrangler_args(sample_project, "secret", "put", "TOKEN"),
        cwd=sample_project.path,
        env=cf_env,
        input="t0ken",
    )

    # wrangler's non-interactive fallback answers "yes" and creates a draft Worker: this is
    # what skclaw must never let happen, and the emulator makes it visible.
    assert result.returncode == 0, result.stderr
    assert "Using fallback value in non-interactive context: yes" in result.stdout
    assert emulator.drafts == [worker]
    assert emulator.worker_state(worker)["draft"] is True
    assert [(r.method, r.status, r.error_code) for r in emulator.mutating_requests()] == [
        ("PUT", 404, 10007),
        ("PUT", 200, None),
        ("PUT", 200, None),
    ]
    [upload] = emulator.worker_uploads(worker)
    assert upload.kind == "draft" and upload.query == {}
    assert upload.metadata["main_module"] == worker
    assert emulator.secrets(worker) == {"TOKEN": "t0ken"}


@pytest.mark.wrangler
def test_rate_limited_secret_put_fails_without_retry(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
    tmp_path: Path,
) -> None:
    worker = sample_project.worker(STAGING)
    emulator.seed_worker(worker)
    fault = emulator.inject_fault("PUT", r"/secrets$", status=429, code=971, message="Please wait and retry", times=-1)
    ndjson = tmp_path / "out.ndjson"

    result = run_wrangler(
        wrangler_args(sample_project, "secret", "put", "K"),
        cwd=sample_project.path,
        env={**cf_env, "WRANGLER_OUTPUT_FILE_PATH": str(ndjson)},
        input="v",
    )

    assert result.returncode == 1
    assert "Please wait and retry [code: 971]" in plain(result.stderr)
    assert fault.hits == 1  # wrangler never retries secret calls
    assert emulator.secrets(worker) == {}
    assert len(emulator.versions(worker)) == 1
    failed = [r for r in iter_ndjson(ndjson.read_text()) if r["type"] == "command-failed"]
    assert [r["code"] for r in failed] == [971]

    # An invalid token is an authentication error (code 10000) for every call.
    emulator.clear_faults()
    emulator.set_token_valid(False)
    listed = run_wrangler(wrangler_args(sample_project, "secret", "list"), cwd=sample_project.path, env=cf_env)
    assert listed.returncode == 1
    assert "[code: 10000]" in plain(listed.stderr)


# ----------------------------------------------------------------------------- deploy
@pytest.mark.wrangler
def test_deploy_new_worker_then_redeploy_with_secrets_file(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
    tmp_path: Path,
) -> None:
    worker = sample_project.worker(STAGING)
    ndjson = tmp_path / "deploy.ndjson"
    env = {**cf_env, "WRANGLER_OUTPUT_FILE_PATH": str(ndjson)}

    first = run_wrangler(wrangler_args(sample_project, "deploy"), cwd=sample_project.path, env=env)

    assert first.returncode == 0, first.stderr
    v1 = emulator.current_version_id(worker)
    assert v1 is not None and re.fullmatch(UUID_RE, v1)
    assert f"Current Version ID: {v1}" in first.stdout
    [upload] = emulator.worker_uploads(worker)
    assert upload.kind == "script"
    assert upload.query == {"excludeScript": "true", "bindings_inherit": "strict"}
    assert upload.metadata["bindings"] == [{"name": "DB", "type": "d1", "id": sample_project.d1[STAGING].id}]
    assert b"hello from demo-worker" in emulator.uploaded_modules(worker)["index.js"]
    assert emulator.drafts == []
    assert emulator.worker_state(worker)["subdomain_enabled"] is True

    emulator.put_secret(worker, "KEPT", "from-before")
    secrets_file = sample_project.path / "secrets.json"
    secrets_file.write_text(json.dumps({"FROM_FILE": 'multi\nline "v"'}))
    second = run_wrangler(
        wrangler_args(sample_project, "deploy", "--secrets-file", str(secrets_file)),
        cwd=sample_project.path,
        env=env,
    )

    assert second.returncode == 0, second.stderr
    v3 = emulator.current_version_id(worker)
    assert v3 not in (None, v1)
    assert f"Current Version ID: {v3}" in second.stdout
    assert emulator.versions(worker)[-1]["id"] == v3
    assert emulator.versions(worker)[-1]["triggered_by"] == "upload"
    upload = emulator.worker_uploads(worker)[-1]
    assert upload.kind == "version" and upload.metadata["keep_bindings"] == [
        "secret_text",
        "secret_key",
    ]
    assert emulator.secrets(worker) == {"KEPT": "from-before", "FROM_FILE": 'multi\nline "v"'}
    records = [r for r in iter_ndjson(ndjson.read_text()) if r["type"] == "deploy"]
    assert [(r["worker_name"], r["version_id"]) for r in records] == [(worker, v1), (worker, v3)]


# ----------------------------------------------------------------------------- deployments
@pytest.mark.wrangler
def test_deployments_status_and_rollback(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
) -> None:
    worker = sample_project.worker(STAGING)
    v1 = emulator.seed_worker(worker, secrets={"A": "one"})
    v2 = emulator.put_secret(worker, "A", "two")
    emulator.rollback_checks_secrets = True

    status = run_wrangler(
        wrangler_args(sample_project, "deployments", "status", "--json"),
        cwd=sample_project.path,
        env=cf_env,
    )

    assert status.returncode == 0, status.stderr
    current = json.loads(status.stdout)
    assert current["id"] == emulator.deployments(worker)[-1]["id"]
    assert current["versions"] == [{"version_id": v2, "percentage": 100}]
    assert current["annotations"]["workers/triggered_by"] == "secret"

    rollback = run_wrangler(
        wrangler_args(sample_project, "rollback", v1, "--message", "back to one"),
        cwd=sample_project.path,
        env=cf_env,
    )

    assert rollback.returncode == 0, rollback.stderr
    assert f"Current Version ID: {v1}" in rollback.stdout
    # The changed secret makes the first POST fail with 10220; wrangler then forces it.
    posts = emulator.requests_to("POST", r"/deployments$")
    assert [(p.query, p.error_code) for p in posts] == [({}, 10220), ({"force": "true"}, None)]
    assert posts[-1].json["annotations"] == {"workers/message": "back to one"}
    assert emulator.current_version_id(worker) == v1
    assert emulator.secrets(worker) == {"A": "one"}
    last = emulator.deployments(worker)[-1]
    assert last["forced"] is True
    assert last["annotations"]["workers/triggered_by"] == "rollback"
    assert len(emulator.versions(worker)) == 2  # a rollback creates no version


# ----------------------------------------------------------------------------- D1
@pytest.mark.wrangler
def test_d1_migrations_apply_and_time_travel_restore(
    emulator: CloudflareEmulator,
    cf_env: dict[str, str],
    sample_project: SampleProject,
    run_wrangler: RunWrangler,
) -> None:
    sample_project.create_databases(emulator)
    db = sample_project.d1[STAGING]
    prod = sample_project.d1["production"]

    info = run_wrangler(
        wrangler_args(sample_project, "d1", "time-travel", "info", "DB", "--json"),
        cwd=sample_project.path,
        env=cf_env,
    )
    assert info.returncode == 0, info.stderr
    before = json.loads(info.stdout)["bookmark"]

    applied = run_wrangler(
        wrangler_args(sample_project, "d1", "migrations", "apply", "DB", "--remote"),
        cwd=sample_project.path,
        env=cf_env,
    )

    assert applied.returncode == 0, applied.stderr
    # One QueryResult per statement: two in the migration file plus wrangler's INSERT.
    assert "Executed 3 commands" in applied.stdout
    assert {"users", "d1_migrations"} <= emulator.d1_tables(db.id)
    assert emulator.d1_tables(prod.id) == set()
    migrations = emulator.d1_query(db.id, "SELECT name FROM d1_migrations")
    assert migrations == [{"name": "0001_create_users.sql"}]
    assert emulator.mutating_requests()[-1].path.endswith(f"/d1/database/{db.id}/query")

    restored = run_wrangler(
        wrangler_args(sample_project, "d1", "time-travel", "restore", "DB", "--bookmark", before, "--json"),
        cwd=sample_project.path,
        env=cf_env,
    )

    assert restored.returncode == 0, restored.stderr
    result = json.loads(restored.stdout)
    assert result["bookmark"] == before
    assert result["previous_bookmark"] != before
    assert emulator.d1_tables(db.id) == set()  # really back in time
    [req] = emulator.requests_to("POST", r"/time_travel/restore$")
    assert req.query == {"bookmark": before}


# ----------------------------------------------------------------------------- emulator units
def call(
    cf: CloudflareEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(cf.base_url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token or cf.token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_split_sql_handles_strings_comments_and_triggers() -> None:
    sql = (
        "-- header; with a semicolon\n"
        "CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x;y');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'z;'; END;\n"
        "/* trailing comment; */ SELECT a FROM t"
    )
    statements = split_sql(sql)
    assert len(statements) == 4
    assert "'x;y'" in statements[1]
    assert statements[2].rstrip().endswith("END;")
    assert split_sql("-- only a comment\n;  ") == []


def test_d1_query_is_atomic_and_reports_sqlite_errors(emulator: CloudflareEmulator) -> None:
    emulator.create_d1("db-1", "one")
    path = f"/accounts/{emulator.account_id}/d1/database/db-1/query"

    status, ok = call(emulator, "POST", path, {"sql": "CREATE TABLE t (a); INSERT INTO t VALUES (1)"})
    assert status == 200 and ok["success"] is True and len(ok["result"]) == 2

    bad = {"sql": "INSERT INTO t VALUES (2); INSERT INTO nope VALUES (3);"}
    status, err = call(emulator, "POST", path, bad)
    assert status == 400 and err["success"] is False
    assert err["errors"][0]["code"] == 7500
    assert "no such table: nope" in err["errors"][0]["message"]
    assert emulator.d1_query("db-1", "SELECT a FROM t") == [{"a": 1}]  # the 2 was rolled back

    status, rows = call(emulator, "POST", path, {"sql": "SELECT a FROM t; PRAGMA user_version"})
    assert rows["result"][0]["results"] == [{"a": 1}]
    mutating = emulator.mutating_requests()
    assert [r.json["sql"] for r in mutating] == [
        "CREATE TABLE t (a); INSERT INTO t VALUES (1)",
        bad["sql"],
    ]


def test_a_gate_holds_requests_in_flight_until_released(emulator: CloudflareEmulator) -> None:
    emulator.seed_worker("w", secrets={"S": "old"})
    path = f"/accounts/{emulator.account_id}/workers/scripts/w/secrets"
    body = {"name": "S", "text": "new", "type": "secret_text"}
    for apply, expected_status, expected in [(False, 500, "old"), (True, 200, "new")]:
        gate = emulator.hold("PUT", r"/secrets$")
        answers: list[int] = []
        sender = threading.Thread(target=lambda into=answers: into.append(call(emulator, "PUT", path, body)[0]))
        sender.start()
        deadline = time.monotonic() + 10
        while gate.arrived < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gate.arrived == 1 and answers == []  # recorded, still in flight
        assert emulator.requests_to("PUT", r"/secrets$")[-1].json == body
        gate.release(apply=apply)
        sender.join(10)
        assert answers == [expected_status] and emulator.secrets("w") == {"S": expected}
        emulator.gates.clear()
    emulator.hold("PUT", r"/secrets$", timeout=0.2)  # bounded: dropped, never applied
    assert call(emulator, "PUT", path, {**body, "text": "late"})[0] == 500
    assert emulator.secrets("w") == {"S": "new"}


def test_faults_auth_and_unknown_routes(emulator: CloudflareEmulator) -> None:
    emulator.seed_worker("w")
    secrets = f"/accounts/{emulator.account_id}/workers/scripts/w/secrets"
    emulator.inject_fault("GET", r"/secrets$", status=503, code=10013, times=2)

    assert call(emulator, "GET", secrets)[0] == 503
    assert call(emulator, "GET", secrets)[0] == 503
    status, ok = call(emulator, "GET", secrets)
    assert status == 200 and ok["result"] == []

    emulator.inject_fault("*", r"/secrets$", status=200, delay_seconds=0.2)
    status, _ = call(emulator, "PUT", secrets, {"name": "S", "text": "v", "type": "secret_text"})
    assert status == 200 and emulator.secrets("w") == {"S": "v"}

    status, err = call(emulator, "GET", secrets, token="wrong")
    assert status == 403 and err["errors"][0]["code"] == 10000
    status, err = call(emulator, "GET", "/accounts/someone-else/workers/scripts/w/secrets")
    assert status == 403 and err["errors"][0]["code"] == 10000

    status, err = call(emulator, "GET", "/no/such/endpoint")
    assert status == 404 and err["success"] is False
    assert [r.path for r in emulator.unknown_requests] == ["/no/such/endpoint"]
    emulator.fail_on_unknown = False


def test_secret_changes_after_rollback_need_the_latest_version_deployed(
    emulator: CloudflareEmulator,
) -> None:
    v1 = emulator.seed_worker("w", secrets={"A": "1"})
    emulator.put_secret("w", "A", "2")
    base = f"/accounts/{emulator.account_id}/workers/scripts/w"
    body = {"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 100}]}

    status, _ = call(emulator, "POST", f"{base}/deployments", body)
    assert status == 200 and emulator.secrets("w") == {"A": "1"}

    status, err = call(emulator, "PUT", f"{base}/secrets", {"name": "B", "text": "x"})
    assert status == 400 and err["errors"][0]["code"] == 10215
    status, listed = call(emulator, "GET", f"{base}/deployments")
    newest_first = [d["versions"][0]["version_id"] for d in listed["result"]["deployments"]]
    assert newest_first[0] == v1 and len(newest_first) == 3


def test_secrets_bulk_merge_patch_is_one_version(emulator: CloudflareEmulator) -> None:
    emulator.seed_worker("w", secrets={"GONE": "1", "KEEP": "2"})
    body = {"secrets": {"NEW": {"name": "NEW", "text": "n", "type": "secret_text"}, "GONE": None}}

    path = f"/accounts/{emulator.account_id}/workers/scripts/w/secrets-bulk"
    status, _ = call(emulator, "PATCH", path, body)

    assert status == 200
    assert emulator.secrets("w") == {"KEEP": "2", "NEW": "n"}
    assert [v["triggered_by"] for v in emulator.versions("w")] == ["upload", "secret"]


def test_time_travel_bookmark_by_timestamp(emulator: CloudflareEmulator) -> None:
    emulator.create_d1("db-2", "two")
    emulator.d1_query("db-2", "CREATE TABLE early (a)")
    time.sleep(0.05)
    between = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.05)
    emulator.d1_query("db-2", "CREATE TABLE late (a)")
    base = f"/accounts/{emulator.account_id}/d1/database/db-2/time_travel"

    _, got = call(emulator, "GET", f"{base}/bookmark?timestamp={between}")
    status, restored = call(emulator, "POST", f"{base}/restore?bookmark={got['result']['bookmark']}")

    assert status == 200
    assert emulator.d1_tables("db-2") == {"early"}
    undo = restored["result"]["previous_bookmark"]
    call(emulator, "POST", f"{base}/restore?bookmark={undo}")
    assert emulator.d1_tables("db-2") == {"early", "late"}


def test_add_route_overrides_a_builtin_route(emulator: CloudflareEmulator) -> None:
    emulator.seed_worker("w")
    emulator.add_route("GET", r"/accounts/([^/]+)/workers/scripts/([^/]+)/secrets", lambda *_: [])
    emulator.put_secret("w", "A", "1")

    status, listed = call(emulator, "GET", f"/accounts/{emulator.account_id}/workers/scripts/w/secrets")

    assert status == 200 and listed["result"] == []
    assert emulator.secrets("w") == {"A": "1"}
