"""The wrangler double (tests/wrangler_double.py) against the real wrangler: each case it serves
runs through both, on two emulators seeded alike, and everything wrangler gives skclaw must agree:
exit code, stdout, stderr, the ND-JSON records, the requests that reached the API (method, path,
query, body) and the state they left. Ids, timestamps and paths that differ between two runs by
nature are compared as placeholders. Cases the double does not serve must reach the real wrangler
untouched."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cfemu import CloudflareEmulator
from tests.conftest import make_wrangler_double

pytestmark = pytest.mark.wrangler

DB = "5c1e7a52-0b1d-4c6e-9a3f-00000000a001"
WORKER = "demo-staging"
CONFIG = {
    "name": "demo", "main": "src/index.js", "compatibility_date": "2025-01-01",
    "env": {
        "staging": {"d1_databases": [{"binding": "DB", "database_name": "demo-db", "database_id": DB}]},
        "production": {"name": "demo-prod"},
    },
}
Setup = Callable[[CloudflareEmulator], dict[str, str] | None]


def seeded(cf: CloudflareEmulator) -> None:
    cf.seed_worker(WORKER, secrets={"A": "1", "B": "2"}, bindings=[{"type": "plain_text", "name": "MODE", "text": "x"}])
    cf.create_d1(DB, "demo-db")


def fault(method: str, path: str, status: int, code: int, message: str, then: Setup | None = None,
          after: int = 0) -> Setup:
    def setup(cf: CloudflareEmulator) -> dict[str, str] | None:
        ids = (then or seeded)(cf)
        cf.inject_fault(method, path, status=status, code=code, message=message, after=after)
        return ids
    return setup


def two_versions(cf: CloudflareEmulator) -> dict[str, str]:
    """Two versions of the Worker (a secret change on top of the upload); {v1} and {v2} in args."""
    seeded(cf)
    first = cf.current_version_id(WORKER)
    assert first is not None
    return {"v1": first, "v2": cf.put_secret(WORKER, "Z", "1")}


def no_worker(cf: CloudflareEmulator) -> None:
    cf.create_d1(DB, "demo-db")


def pending_version(cf: CloudflareEmulator) -> None:
    """Latest != deployed: Cloudflare refuses secret changes (10214/10215)."""
    seeded(cf)
    with cf._lock:  # a version uploaded and not deployed, as `versions upload` leaves it
        worker = cf._require_worker(cf.account_id, WORKER)
        base = cf._current_version(worker)
        cf._new_version(worker, triggered_by="upload", secrets=dict(base["secrets"]), bindings=[],
                        compatibility_date="2025-01-01")


@dataclass
class Case:
    id: str
    args: list[str]
    setup: Setup = seeded
    stdin: str | None = None
    env: str = "staging"
    files: dict[str, str] | None = None  # written into the project first


MIGRATIONS = {"migrations/0001_a.sql": "CREATE TABLE a(x);\n", "migrations/0002_b.sql": "CREATE TABLE b(x);\n"}
FAILING = {**MIGRATIONS, "migrations/0003_c.sql": "CREATE TABLE a(x);\n", "migrations/0004_d.sql": "SELECT 1;\n"}


def ledger(*names: str) -> Setup:
    """The sample state, with wrangler's migrations table recording ``names`` as applied."""
    def setup(cf: CloudflareEmulator) -> None:
        seeded(cf)
        cf.d1_query(DB, "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
                        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)")
        for name in names:
            cf.d1_query(DB, f"INSERT INTO d1_migrations (name) VALUES ('{name}')")
        if "0001_a.sql" in names:
            cf.d1_query(DB, "CREATE TABLE a(x)")
    return setup


CASES = [
    Case("version", ["--version"]),
    Case("secret-list", ["secret", "list", "--format", "json"]),
    Case("secret-list-default-format", ["secret", "list"]),
    Case("secret-list-top-level", ["secret", "list"], env=""),
    Case("secret-list-missing-worker", ["secret", "list"], setup=no_worker),
    Case("secret-list-missing-worker-top-level", ["secret", "list"], setup=no_worker, env=""),
    Case("secret-list-500", ["secret", "list"], setup=fault("GET", "/secrets$", 500, 10013, "Internal error")),
    Case("secret-list-auth", ["secret", "list"], setup=fault("GET", "/secrets$", 403, 10000, "Authentication error")),
    Case("secret-put", ["secret", "put", "NEW"], stdin="  lead\nmulti \t\n"),
    Case("secret-put-empty", ["secret", "put", "NEW"], stdin=""),
    Case("secret-put-unicode", ["secret", "put", "K"], stdin='"qu\\ote" é 🙂\u00a0\n'),
    Case("secret-put-429", ["secret", "put", "A"], stdin="v",
         setup=fault("PUT", "/secrets$", 429, 971, "Please wait and consider throttling your request speed")),
    Case("secret-put-latest-not-deployed", ["secret", "put", "A"], stdin="v", setup=pending_version),
    Case("secret-delete", ["secret", "delete", "B"]),
    Case("secret-delete-odd-name", ["secret", "delete", "a b/c"]),
    Case("secret-delete-missing", ["secret", "delete", "NOPE"]),
    Case("secret-bulk", ["secret", "bulk"], stdin=json.dumps({"A": "x", "C": "line1\nline2", "D": ""})),
    Case("secret-bulk-pretty-json", ["secret", "bulk"], stdin=json.dumps({"A": "x", "E": "y"}, indent=2)),
    Case("secret-bulk-500", ["secret", "bulk"], stdin=json.dumps({"A": "x"}),
         setup=fault("PATCH", "/settings$", 500, 10013, "Internal error")),
    Case("secret-bulk-get-500", ["secret", "bulk"], stdin=json.dumps({"A": "x"}),
         setup=fault("GET", "/settings$", 500, 10013, "Internal error")),
    Case("secret-bulk-auth", ["secret", "bulk"], stdin=json.dumps({"A": "x"}),
         setup=fault("PATCH", "/settings$", 403, 10000, "Authentication error")),
    Case("secret-bulk-latest-not-deployed", ["secret", "bulk"], stdin=json.dumps({"A": "x"}), setup=pending_version),
    Case("secret-bulk-empty", ["secret", "bulk"], stdin=""),
    Case("secret-bulk-dotenv", ["secret", "bulk"], stdin="A=1\nB=2\n"),
    Case("deployments-status", ["deployments", "status", "--json"]),
    Case("deployments-list", ["deployments", "list", "--json"]),
    Case("deployments-status-missing-worker", ["deployments", "status", "--json"], setup=no_worker),
    Case("whoami", ["whoami", "--json"]),
    Case("d1-execute", ["d1", "execute", "DB", "--remote", "--json", "--command",
                        "CREATE TABLE t(x); INSERT INTO t VALUES (1); SELECT * FROM t"]),
    Case("d1-execute-by-name", ["d1", "execute", "demo-db", "--remote", "--json", "--command", "SELECT 1 AS one"]),
    Case("d1-execute-error", ["d1", "execute", "DB", "--remote", "--json", "--command", "SELECT * FROM nope"]),
    Case("d1-execute-500", ["d1", "execute", "DB", "--remote", "--json", "--command", "SELECT 1"],
         setup=fault("POST", "/query$", 500, 7500, "Internal error")),
    Case("d1-execute-text", ["d1", "execute", "DB", "--remote", "--command",
                             "CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1); SELECT * FROM t"]),
    Case("d1-execute-text-yes", ["d1", "execute", "DB", "--remote", "--yes", "--command=SELECT 1 AS one"]),
    Case("d1-execute-text-error", ["d1", "execute", "DB", "--remote", "--command", "SELECT * FROM nope"]),
    Case("d1-execute-text-500", ["d1", "execute", "DB", "--remote", "--command", "SELECT 1"],
         setup=fault("POST", "/query$", 500, 7500, "Internal error")),
    Case("versions-deploy-split", ["versions", "deploy", "{v1}@25", "{v2}@75", "-y", "--message=split"],
         setup=two_versions),
    Case("versions-deploy-all", ["versions", "deploy", "{v2}@100", "-y"], setup=two_versions),
    Case("versions-deploy-fraction", ["versions", "deploy", "{v1}@12.5", "{v2}@87.5", "--yes"], setup=two_versions),
    Case("versions-deploy-unknown-version", ["versions", "deploy", "00000000-0000-4000-8000-000000000000@100", "-y"],
         setup=two_versions),
    Case("versions-deploy-500", ["versions", "deploy", "{v1}@100", "-y"],
         setup=fault("POST", "/deployments$", 500, 10013, "Internal error", then=two_versions)),
    Case("migrations-list", ["d1", "migrations", "list", "DB", "--remote"], files=MIGRATIONS),
    Case("migrations-list-some-applied", ["d1", "migrations", "list", "DB", "--remote"], files=MIGRATIONS,
         setup=ledger("0001_a.sql")),
    Case("migrations-list-none", ["d1", "migrations", "list", "DB", "--remote"], files=MIGRATIONS,
         setup=ledger("0001_a.sql", "0002_b.sql")),
    Case("migrations-apply", ["d1", "migrations", "apply", "DB", "--remote"], files=MIGRATIONS),
    Case("migrations-apply-rest", ["d1", "migrations", "apply", "demo-db", "--remote"], files=MIGRATIONS,
         setup=ledger("0001_a.sql")),
    Case("migrations-apply-none", ["d1", "migrations", "apply", "DB", "--remote"], files=MIGRATIONS,
         setup=ledger("0001_a.sql", "0002_b.sql")),
    Case("migrations-apply-failing", ["d1", "migrations", "apply", "DB", "--remote"], files=FAILING),
    Case("migrations-apply-500", ["d1", "migrations", "apply", "DB", "--remote"], files=MIGRATIONS,
         setup=fault("POST", "/query$", 500, 7500, "Internal error")),
    Case("migrations-list-ledger-500", ["d1", "migrations", "list", "DB", "--remote"], files=MIGRATIONS,
         setup=fault("POST", "/query$", 500, 7500, "Internal error", then=ledger(), after=1)),
    Case("migrations-apply-second-500", ["d1", "migrations", "apply", "DB", "--remote"], files=MIGRATIONS,
         setup=fault("POST", "/query$", 500, 7500, "Internal error", then=ledger("0001_a.sql"), after=2)),
    Case("d1-time-travel-info", ["d1", "time-travel", "info", "DB", "--json"]),
    Case("d1-time-travel-500", ["d1", "time-travel", "info", "DB", "--json"],
         setup=fault("GET", "/bookmark$", 500, 7500, "Internal error")),
]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d{4}-\d\d-\d\d[T_ ]\d\d[:-]\d\d[:-]\d\d(?:[.,_]\d+)?Z?")
BOOKMARK = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}")
BOUNDARY = re.compile(r"-{4,}[\w.-]+")


def normal(text: str, root: Path, cf: CloudflareEmulator) -> str:
    text = text.replace(str(root), "<root>").replace(str(cf.port), "<port>")
    text = re.sub(r"wrangler-[\w-]+\.log", "wrangler-<stamp>.log", text)
    text = re.sub(r'(\\?"duration\\?":\s*)[\d.]+', r"\g<1>0", text)
    text = re.sub(r"(Executed \d+ commands? in )[\d.]+ms", r"\g<1>0ms", text)
    text = re.sub(r"\(\d+\.\d\d sec\)", "(<seconds> sec)", text)
    text = re.sub(r'(\\?"worker_tag\\?":\s*\\?")[0-9a-f]{32}', r"\g<1><tag>", text)
    return UUID.sub("<uuid>", BOOKMARK.sub("<bookmark>", STAMP.sub("<stamp>", text)))


def run(binary: Path, case: Case, tmp: Path, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    root = tmp / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "index.js").write_text("export default { fetch() { return new Response('x'); } };\n")
    (root / "wrangler.jsonc").write_text("// a comment, as wrangler.jsonc allows\n" + json.dumps(CONFIG, indent=2))
    for relative, text in (case.files or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    home = root / "home"
    (home / ".config").mkdir(parents=True)
    with CloudflareEmulator() as cf:
        ids = case.setup(cf) or {}
        cf.clear_requests()
        out = root / "out.ndjson"
        where = [] if case.args == ["--version"] else [f"--config={root / 'wrangler.jsonc'}", f"--env={case.env}"]
        args = [*(a.format(**ids) if "{" in a else a for a in case.args), *where]
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "CLOUDFLARE_API_BASE_URL": cf.base_url, "CLOUDFLARE_API_TOKEN": cf.token,
               "CLOUDFLARE_ACCOUNT_ID": cf.account_id, "WRANGLER_SEND_METRICS": "false",
               "WRANGLER_SEND_ERROR_REPORTS": "false", "WRANGLER_HIDE_BANNER": "true", "NO_PROXY": "127.0.0.1",
               "WRANGLER_LOG": "log", "WRANGLER_LOG_SANITIZE": "true", "WRANGLER_OUTPUT_FILE_PATH": str(out),
               **(extra_env or {})}
        done = subprocess.run([str(binary), *args], cwd=root, env=env, capture_output=True, text=True,
                              input=case.stdin, timeout=60)
        records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
        for record in records:
            record.pop("timestamp", None)
        requests = []
        for r in cf.requests:
            body: Any = r.json if r.json is not None else r.body.decode("utf-8", "replace")
            if r.multipart is not None:
                body = {p.name: p.data.decode("utf-8", "replace") for p in r.multipart}
            requests.append((r.method, r.path, r.query, body, r.status))
        state = {"secrets": cf.secrets(WORKER) if cf.worker_exists(WORKER) else None,
                 "versions": len(cf.versions(WORKER)) if cf.worker_exists(WORKER) else None,
                 "tables": sorted(cf.d1_tables(DB))}
        return json.loads(normal(json.dumps({
            "code": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "records": records,
            "requests": requests, "state": state,
        }), root, cf))


@pytest.fixture(scope="module")
def double(real_wrangler_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wrangler_double(tmp_path_factory.mktemp("double"), real_wrangler_bin)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_double_answers_as_wrangler_does(case: Case, real_wrangler_bin: Path, double: Path, tmp_path: Path,
                                            node_code_cache: dict[str, str]) -> None:
    real = run(real_wrangler_bin, case, tmp_path / "real", node_code_cache)
    doubled = run(double, case, tmp_path / "double", node_code_cache)
    for key in real:
        assert doubled[key] == real[key], f"{case.id}: {key} differs"


def test_what_the_double_does_not_serve_reaches_wrangler_untouched(double: Path, tmp_path: Path) -> None:
    """A `.env` beside the config (wrangler loads it) and a text format: wrangler's own answers."""
    case = Case("dotenv", ["secret", "list", "--format", "pretty"])
    doubled = run(double, case, tmp_path)
    assert doubled["code"] == 0 and "Secret Name: A" in doubled["stdout"], doubled  # only wrangler prints this


def test_durations_are_rounded_as_javascript_rounds_them() -> None:
    """`Executed N commands in X ms` uses toFixed(2): ties of the exact binary value round up."""
    from tests.wrangler_double import to_fixed

    values = [0.125, 0.375, 1.005, 0.217, 2.5, 0.0, 12.3456, 0.045, 100.0]
    script = f"console.log(JSON.stringify({values!r}.map(v => v.toFixed(2))))"
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    assert [to_fixed(v, 2) for v in values] == json.loads(done.stdout)
