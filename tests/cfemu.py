"""A small, stateful emulator of the Cloudflare REST API, for tests that run the real wrangler.

It implements the endpoints wrangler 4.86 uses for ``secret``, ``deploy``, ``deployments``,
``versions``, ``rollback``, ``d1 migrations`` and ``d1 time-travel`` (see
``reference/wrangler.md`` §13), with enough state behind them that a test can assert what
*happened*, not only what was sent. Standard library only; one ``ThreadingHTTPServer`` on
``127.0.0.1`` and a free port, in a background thread.

Usage::

    with CloudflareEmulator() as cf:
        env = {"CLOUDFLARE_API_BASE_URL": cf.base_url, "CLOUDFLARE_API_TOKEN": cf.token,
               "CLOUDFLARE_ACCOUNT_ID": cf.account_id, ...}
        cf.seed_worker("demo-worker-staging", secrets={"A": "1"})
        ...run wrangler...
        assert cf.secrets("demo-worker-staging") == {"A": "1", "B": "2"}

Contract
--------
* Envelope: ``{"success", "errors", "messages", "result"}``; errors are
  ``{"code": N, "message": "..."}`` with a matching HTTP status. wrangler decides success by
  the ``success`` field only; the status matters for its 5xx retries.
* Auth: every request needs ``Authorization: Bearer <token>``. A wrong or missing token, an
  unknown account id in the path, or ``set_token_valid(False)`` answers HTTP 403 with code
  10000 "Authentication error" (what wrangler treats as an authentication failure).
* Requests are recorded in ``requests`` (``Recorded``; ``path`` has no ``/client/v4`` prefix and
  no query string, header names are lower-case). Unmatched routes answer 404 with code 7003 and
  are also collected in ``unknown_requests``; the ``emulator`` pytest fixture fails a test that
  hit one unless ``fail_on_unknown`` is set to False.
* ``mutating_requests()`` is every recorded PUT/POST/PATCH/DELETE, except D1 ``/query`` (and
  ``/raw``) calls whose statements *all* start with SELECT, PRAGMA or EXPLAIN. Note that
  wrangler's ``CREATE TABLE IF NOT EXISTS d1_migrations`` (sent by ``d1 migrations list`` too)
  therefore counts as mutating. Requests answered by a fault are included (``.faulted`` tells).

Faults
------
``inject_fault(method, path_regex, status=500, code=10013, message=..., times=1,
delay_seconds=0)`` makes the next ``times`` requests (``-1``: forever) whose method equals
``method`` (``"*"``: any) and whose path matches ``re.search(path_regex, path)`` answer with the
error envelope and ``status``. Faults are checked in injection order, before authentication and
before any state changes, so a faulted request changes nothing. ``delay_seconds`` (capped at
30 s) sleeps before answering; with a ``status`` below 400 the fault only delays and the request
is then handled normally (a slow API). ``inject_fault`` returns the ``Fault``; its ``hits``
counts the requests it answered.

``hold(method, path_regex, timeout=30)`` is a ``Gate``: matching requests are recorded as they
arrive (``gate.arrived`` counts them, so a test can wait until a request is in flight) and then
wait, before faults, authentication and any state change, until ``gate.release(apply=...)``.
``apply=True`` lets them through to be handled normally; ``apply=False`` (and the ``timeout``,
capped at 30 s) answers them 500 (code 10013) and changes nothing: a write that never landed.
Stopping the emulator releases every gate unapplied.

Workers model
-------------
A Worker has versions (oldest first) and deployments (oldest first here; the API lists them
newest first). Every version carries a snapshot of its secrets (plaintext as received) and
its other bindings; the current secrets are those of the version the newest deployment routes
the most traffic to.

* ``secret`` PUT, DELETE, settings PATCH with ``bindings`` and the merge-patch ``secrets-bulk``
  PATCH each create exactly one version (``workers/triggered_by: "secret"``) and a 100 %
  deployment of it. They answer 10007 when the Worker does not exist and 10215 when the latest
  version is not the deployed one (as the real API does after ``versions upload`` or after a
  rollback to an older version).
* Script PUT and versions POST create versions with ``triggered_by: "upload"``; script PUT also
  deploys (and creates the Worker), versions POST does not (wrangler then POSTs a deployment).
  A script PUT without ``excludeScript`` in the query is wrangler's *draft Worker* creation
  (``secret put``/``bulk`` on a missing Worker); its name is listed in ``drafts``.
* Upload bindings: ``inherit`` bindings copy the previous version's binding of that name (one
  with nothing to inherit refuses the upload: 10057 ``inherit binding 'X' is invalid``, one error
  per binding, which wrangler's `secrets.required` check reads);
  binding types in ``keep_bindings`` are carried over; secrets are carried over unless the
  upload has ``secret_text`` bindings and no ``secret_text`` in ``keep_bindings`` (then the
  upload's secrets replace them). Secret bindings of an upload (``--secrets-file``) land in the
  new version.
* Deployments POST deploys existing versions, at most two, with percentages that add up to
  100 (a gradual deployment; ``traffic(name)`` is what the Worker serves now). The version with
  the most traffic is the current one; ``triggered_by`` is "rollback" when that is not the newest
  version, else "deployment". With ``rollback_checks_secrets = True`` a rollback to a version
  whose secrets differ from the current ones fails with code 10220 "... The following secrets
  have changed: A, B" unless ``?force=true``.

D1 model
--------
Each database is a sqlite file in a temp dir. ``/query`` splits the posted ``sql`` into
statements (``sqlite3.complete_statement``), runs them in one transaction and answers one
QueryResult per statement; a failing statement rolls the whole request back and answers HTTP
400, code 7500, with the sqlite error text. After every change of content the emulator stores
a snapshot under a new bookmark, so Time Travel ``bookmark?timestamp=`` and ``restore`` really
move the database content in time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

API_PREFIX = "/client/v4"
DEFAULT_ACCOUNT_ID = "acc0000000000000000000000000000a"
DEFAULT_TOKEN = "test-token"
AUTHOR_EMAIL = "tester@example.com"
MAX_FAULT_DELAY = 30.0
MAX_DEPLOYMENT_VERSIONS = 2  # Cloudflare's gradual deployments split traffic between two versions
MUTATING_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})
READ_ONLY_SQL = ("SELECT", "PRAGMA", "EXPLAIN")


class ApiError(Exception):
    """Raised by a route handler; becomes the Cloudflare error envelope."""

    def __init__(self, status: int, code: int, message: str, *more: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        #: further errors of the same code in the envelope (one per item, as the API lists them)
        self.more = more


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str | None
    filename: str | None
    content_type: str | None
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Recorded:
    """One request as the emulator received it."""

    method: str
    path: str  # without /client/v4 and without the query string
    query: dict[str, str]  # a repeated parameter keeps its last value
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # the parsed body, None when it is not JSON (multipart: see .multipart)
    multipart: list[Part] | None = None
    status: int = 0  # HTTP status the emulator answered with
    faulted: bool = False
    error_code: int | None = None  # Cloudflare error code answered, if any

    def part(self, name: str) -> Part | None:
        for p in self.multipart or []:
            if p.name == name:
                return p
        return None


@dataclass
class Fault:
    method: str
    path_regex: str
    status: int = 500
    code: int = 10013
    message: str = "Internal error"
    times: int = 1
    delay_seconds: float = 0.0
    hits: int = 0
    after: int = 0  # matching requests let through untouched before the fault starts

    def matches(self, method: str, path: str) -> bool:
        if self.times == 0:
            return False
        if self.method != "*" and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


@dataclass
class Gate:
    """Requests held in flight; see the module docstring (``hold``)."""

    method: str
    path_regex: str
    timeout: float = MAX_FAULT_DELAY
    arrived: int = 0
    applied: bool = False
    _opened: threading.Event = field(default_factory=threading.Event, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None

    def release(self, *, apply: bool = False) -> None:
        """Let the held requests (and any later ones) through: handled when ``apply``, else
        answered with an error that changes nothing."""
        if not self._opened.is_set():
            self.applied = apply
            self._opened.set()

    def wait(self) -> bool:
        """Block until released (or the timeout); whether the request is to be handled."""
        return self._opened.wait(self.timeout) and self.applied


@dataclass
class Upload:
    """A Worker upload (script PUT or versions POST) as received."""

    kind: str  # "draft" | "script" | "version"
    worker: str
    account: str
    query: dict[str, str]
    metadata: dict[str, Any]
    parts: list[Part]
    version_id: str

    @property
    def modules(self) -> dict[str, bytes]:
        return {p.name: p.data for p in self.parts if p.name and p.name != "metadata"}


@dataclass
class _Worker:
    name: str
    account: str
    tag: str
    created_on: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    subdomain_enabled: bool = False
    previews_enabled: bool = False
    script_settings: dict[str, Any] = field(default_factory=dict)
    routes: list[Any] = field(default_factory=list)
    schedules: list[Any] = field(default_factory=list)
    last_deployed_from: str = "wrangler"
    draft: bool = False


@dataclass
class _Snapshot:
    bookmark: str
    taken_at: float
    data: bytes


@dataclass
class _Database:
    uuid: str
    name: str
    account: str
    path: str
    created_on: str
    snapshots: list[_Snapshot] = field(default_factory=list)


def _envelope(result: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}


def _error_envelope(code: int, message: str, more: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": m} for m in (message, *more)],
        "messages": [],
        "result": None,
    }


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Parse a multipart/form-data body with the stdlib email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.default).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, 10021, "expected a multipart/form-data body")
    parts: list[Part] = []
    for sub in message.iter_parts():
        payload = sub.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        ctype = sub.get_content_type() if sub.get("content-type") else None
        parts.append(
            Part(
                name=sub.get_param("name", header="content-disposition"),  # type: ignore[arg-type]
                filename=sub.get_filename(),
                content_type=ctype,
                data=data,
            )
        )
    return parts


_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/|;)*", re.DOTALL)


def _strip_leading_noise(sql: str) -> str:
    """Drop leading whitespace, comments and stray semicolons."""
    return sql[_LEADING_NOISE.match(sql).end() :]  # type: ignore[union-attr]


def split_sql(sql: str) -> list[str]:
    """Split SQL text into complete statements (semicolons in strings, comments and trigger
    bodies are handled by sqlite3.complete_statement). Comment-only pieces are dropped."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    # The final split piece had a ';' appended that was not in the input.
    if pending:
        statements.append(pending[:-1])
    elif statements:
        statements[-1] = statements[-1][:-1]
    return [s for s in statements if _strip_leading_noise(s).strip()]


def is_read_only_sql(sql: str) -> bool:
    statements = split_sql(sql)
    return bool(statements) and all(
        _strip_leading_noise(s).lstrip().upper().startswith(READ_ONLY_SQL) for s in statements
    )


class CloudflareEmulator:
    """See the module docstring."""

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        account_name: str = "Test Account",
        token: str = DEFAULT_TOKEN,
    ) -> None:
        self.account_id = account_id
        self.token = token
        self.accounts: dict[str, str] = {account_id: account_name}
        self.account_subdomain: str | None = "cfemu"
        self.user_email = AUTHOR_EMAIL
        self.rollback_checks_secrets = False
        self.fail_on_unknown = True
        self.requests: list[Recorded] = []
        self.unknown_requests: list[Recorded] = []
        self.crashes: list[str] = []  # emulator bugs (answered 500); the fixture fails on them
        self.uploads: list[Upload] = []
        self.faults: list[Fault] = []
        self.gates: list[Gate] = []
        self._token_valid = True
        self._workers: dict[tuple[str, str], _Worker] = {}
        self._drafts: list[str] = []
        self._databases: dict[str, _Database] = {}
        self._bookmark_counter = 0
        self._last_clock = 0.0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> CloudflareEmulator:
        if self._server is not None:
            return self
        self._tmpdir = tempfile.mkdtemp(prefix="cfemu-")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        for gate in self.gates:
            gate.release()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> CloudflareEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # ------------------------------------------------------------------ request log
    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self.unknown_requests.clear()

    def mutating_requests(self) -> list[Recorded]:
        with self._lock:
            result = []
            for r in self.requests:
                if r.method not in MUTATING_METHODS:
                    continue
                if r.path.endswith(("/query", "/raw")) and isinstance(r.json, dict):
                    sql = r.json.get("sql")
                    if isinstance(sql, str) and is_read_only_sql(sql):
                        continue
                result.append(r)
            return result

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        """Recorded requests with this method ("*": any) whose path matches the regex."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method == "*" or r.method == method.upper()) and re.search(path_regex, r.path)
            ]

    # ------------------------------------------------------------------ faults and auth
    def inject_fault(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 500,
        code: int = 10013,
        message: str = "Internal error",
        times: int = 1,
        delay_seconds: float = 0.0,
        after: int = 0,
    ) -> Fault:
        fault = Fault(
            method=method,
            path_regex=path_regex,
            status=status,
            code=code,
            message=message,
            times=times,
            delay_seconds=min(max(delay_seconds, 0.0), MAX_FAULT_DELAY),
            after=max(after, 0),
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def hold(self, method: str, path_regex: str, *, timeout: float = MAX_FAULT_DELAY) -> Gate:
        gate = Gate(method=method, path_regex=path_regex, timeout=min(max(timeout, 0.0), MAX_FAULT_DELAY))
        with self._lock:
            self.gates.append(gate)
        return gate

    def unhold(self, gate: Gate) -> None:
        """Stop matching requests with ``gate``, releasing what it holds (unapplied unless
        ``release(apply=True)`` came first)."""
        gate.release(apply=False)
        with self._lock:
            self.gates = [held for held in self.gates if held is not gate]

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def set_token_valid(self, valid: bool) -> None:
        self._token_valid = valid

    def add_account(self, account_id: str, name: str = "Other Account") -> None:
        with self._lock:
            self.accounts[account_id] = name

    def add_route(self, method: str, path_regex: str, handler: Callable[..., Any]) -> None:
        """Answer ``method`` requests whose path fully matches ``path_regex`` with
        ``handler(recorded, *url_decoded_groups)`` (its return value is the envelope's
        ``result``; raise ``ApiError`` for an error). Takes precedence over built-in routes;
        the handler runs under the emulator's lock, after faults and authentication."""
        with self._lock:
            self._routes.insert(0, (method.upper(), re.compile(path_regex), handler))

    # ------------------------------------------------------------------ workers (test API)
    def seed_worker(
        self,
        name: str,
        secrets: dict[str, str] | None = None,
        account: str | None = None,
        *,
        bindings: list[dict[str, Any]] | None = None,
        compatibility_date: str = "2025-01-01",
    ) -> str:
        """Create a deployed Worker (one upload version, one 100 % deployment); returns the
        version id."""
        with self._lock:
            worker = self._create_worker(account or self.account_id, name)
            worker.subdomain_enabled = True
            version = self._new_version(
                worker,
                triggered_by="upload",
                secrets=dict(secrets or {}),
                bindings=copy.deepcopy(bindings or []),
                compatibility_date=compatibility_date,
                source="wrangler",
            )
            self._deploy(worker, version["id"], triggered_by="upload")
            return str(version["id"])

    def put_secret(self, name: str, key: str, value: str, account: str | None = None) -> str:
        """Change one secret the way the API's secret PUT does; returns the new version id."""
        with self._lock:
            worker = self._require_worker(account or self.account_id, name)
            secrets = self._current_version(worker)["secrets"] | {key: value}
            return self._secret_change(worker, secrets)

    def worker_exists(self, name: str, account: str | None = None) -> bool:
        with self._lock:
            return (account or self.account_id, name) in self._workers

    def secrets(self, name: str, account: str | None = None) -> dict[str, str]:
        with self._lock:
            worker = self._require_worker(account or self.account_id, name)
            return dict(self._current_version(worker)["secrets"])

    def versions(self, name: str, account: str | None = None) -> list[dict[str, Any]]:
        """Internal version records, oldest first: id, number, created_on, triggered_by,
        message, tag, source, secrets (plaintext), bindings (non-secret), keep_bindings,
        metadata (the upload's metadata JSON or None), compatibility_date."""
        with self._lock:
            return copy.deepcopy(self._require_worker(account or self.account_id, name).versions)

    def deployments(self, name: str, account: str | None = None) -> list[dict[str, Any]]:
        """Deployments oldest first, in the API's shape plus ``forced``."""
        with self._lock:
            worker = self._require_worker(account or self.account_id, name)
            return copy.deepcopy(worker.deployments)

    def current_version_id(self, name: str, account: str | None = None) -> str | None:
        with self._lock:
            worker = self._require_worker(account or self.account_id, name)
            if not worker.deployments:
                return None
            return self._main_version_id(worker.deployments[-1])

    def traffic(self, name: str, account: str | None = None) -> dict[str, float]:
        """What the Worker serves now: version id -> percentage of the newest deployment
        (empty before the first deployment)."""
        with self._lock:
            worker = self._require_worker(account or self.account_id, name)
            if not worker.deployments:
                return {}
            return {v["version_id"]: float(v["percentage"]) for v in worker.deployments[-1]["versions"]}

    def worker_uploads(self, name: str, account: str | None = None) -> list[Upload]:
        acct = account or self.account_id
        with self._lock:
            return [u for u in self.uploads if u.worker == name and u.account == acct]

    def uploaded_modules(self, name: str, account: str | None = None) -> dict[str, bytes]:
        """Module parts (name -> content) of the newest upload of this Worker."""
        uploads = self.worker_uploads(name, account)
        if not uploads:
            raise KeyError(f"no upload for Worker {name!r}")
        return uploads[-1].modules

    @property
    def drafts(self) -> list[str]:
        """Names of Workers created by a script PUT without ``excludeScript`` (drafts)."""
        with self._lock:
            return list(self._drafts)

    def worker_state(self, name: str, account: str | None = None) -> dict[str, Any]:
        """Other state: subdomain flags, script settings, routes, schedules, draft flag."""
        with self._lock:
            w = self._require_worker(account or self.account_id, name)
            return {
                "subdomain_enabled": w.subdomain_enabled,
                "previews_enabled": w.previews_enabled,
                "script_settings": copy.deepcopy(w.script_settings),
                "routes": copy.deepcopy(w.routes),
                "schedules": copy.deepcopy(w.schedules),
                "draft": w.draft,
                "tag": w.tag,
            }

    # ------------------------------------------------------------------ D1 (test API)
    def create_d1(self, uuid_: str, name: str, account: str | None = None) -> None:
        if self._tmpdir is None:
            raise RuntimeError("start() the emulator before creating databases")
        with self._lock:
            path = f"{self._tmpdir}/{uuid_}.sqlite"
            sqlite3.connect(path).close()
            db = _Database(
                uuid=uuid_,
                name=name,
                account=account or self.account_id,
                path=path,
                created_on=self._timestamp(),
            )
            self._databases[uuid_] = db
            self._snapshot(db)

    def d1_query(self, uuid_: str, sql: str) -> list[dict[str, Any]]:
        """Run SQL directly (like /query); returns the rows of the last statement."""
        with self._lock:
            results = self._d1_execute(self._require_db(uuid_), sql)
        return results[-1]["results"] if results else []

    def d1_tables(self, uuid_: str) -> set[str]:
        rows = self.d1_query(uuid_, "SELECT name FROM sqlite_master WHERE type='table'")
        return {str(r["name"]) for r in rows}

    def d1_bookmarks(self, uuid_: str) -> list[str]:
        with self._lock:
            return [s.bookmark for s in self._require_db(uuid_).snapshots]

    # ------------------------------------------------------------------ internals: clock
    def _timestamp(self) -> str:
        """Strictly increasing ISO-8601 timestamps (wrangler sorts by created_on strings)."""
        with self._lock:
            now = max(time.time(), self._last_clock + 0.001)
            self._last_clock = now
        return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # ------------------------------------------------------------------ internals: workers
    def _create_worker(self, account: str, name: str) -> _Worker:
        worker = _Worker(name=name, account=account, tag=uuid.uuid4().hex, created_on=self._timestamp())
        self._workers[(account, name)] = worker
        return worker

    def _require_worker(self, account: str, name: str) -> _Worker:
        try:
            return self._workers[(account, name)]
        except KeyError:
            raise KeyError(f"no Worker {name!r} in account {account}") from None

    def _worker_or_10007(self, account: str, name: str) -> _Worker:
        worker = self._workers.get((account, name))
        if worker is None:
            raise ApiError(404, 10007, "This Worker does not exist on your account.")
        return worker

    @staticmethod
    def _main_version_id(deployment: dict[str, Any]) -> str:
        best = max(deployment["versions"], key=lambda v: v["percentage"])
        return str(best["version_id"])

    def _current_version(self, worker: _Worker) -> dict[str, Any]:
        if not worker.deployments:
            if worker.versions:
                return worker.versions[-1]
            raise ApiError(404, 10007, "This Worker does not exist on your account.")
        return self._version_by_id(worker, self._main_version_id(worker.deployments[-1]))

    @staticmethod
    def _version_by_id(worker: _Worker, version_id: str) -> dict[str, Any]:
        for v in worker.versions:
            if v["id"] == version_id:
                return v
        raise ApiError(404, 10230, f"Version {version_id} not found.")

    def _new_version(
        self,
        worker: _Worker,
        *,
        triggered_by: str,
        secrets: dict[str, str],
        bindings: list[dict[str, Any]],
        compatibility_date: str | None,
        compatibility_flags: list[str] | None = None,
        source: str = "api",
        message: str | None = None,
        tag: str | None = None,
        metadata: dict[str, Any] | None = None,
        main_module: str | None = None,
    ) -> dict[str, Any]:
        version = {
            "id": str(uuid.uuid4()),
            "number": len(worker.versions) + 1,
            "created_on": self._timestamp(),
            "triggered_by": triggered_by,
            "message": message,
            "tag": tag,
            "source": source,
            "secrets": secrets,
            "bindings": bindings,
            "keep_bindings": (metadata or {}).get("keep_bindings"),
            "metadata": metadata,
            "main_module": main_module,
            "compatibility_date": compatibility_date,
            "compatibility_flags": list(compatibility_flags or []),
            "etag": uuid.uuid4().hex,
        }
        worker.versions.append(version)
        return version

    def _deploy(
        self,
        worker: _Worker,
        version_id: str,
        *,
        triggered_by: str,
        message: str | None = None,
        source: str = "api",
        versions: list[dict[str, Any]] | None = None,
        forced: bool = False,
    ) -> dict[str, Any]:
        annotations: dict[str, str] = {"workers/triggered_by": triggered_by}
        if message is not None:
            annotations["workers/message"] = message
        deployment = {
            "id": str(uuid.uuid4()),
            "source": source,
            "strategy": "percentage",
            "author_email": self.user_email,
            "annotations": annotations,
            "created_on": self._timestamp(),
            "versions": versions or [{"version_id": version_id, "percentage": 100.0}],
            "forced": forced,
        }
        worker.deployments.append(deployment)
        return deployment

    def _secret_change(
        self, worker: _Worker, secrets: dict[str, str], bindings: list[dict[str, Any]] | None = None
    ) -> str:
        base = self._current_version(worker)
        version = self._new_version(
            worker,
            triggered_by="secret",
            secrets=secrets,
            bindings=copy.deepcopy(base["bindings"] if bindings is None else bindings),
            compatibility_date=base["compatibility_date"],
            compatibility_flags=base["compatibility_flags"],
            main_module=base["main_module"],
        )
        self._deploy(worker, version["id"], triggered_by="secret")
        return str(version["id"])

    def _check_latest_deployed(self, worker: _Worker) -> None:
        if (
            worker.versions
            and worker.deployments
            and self._main_version_id(worker.deployments[-1]) != worker.versions[-1]["id"]
        ):
            raise ApiError(
                400,
                10215,
                "Secret edit failed. You attempted to modify a secret, but the latest "
                "version of your Worker isn't currently deployed.",
            )

    def _api_bindings(self, version: dict[str, Any]) -> list[dict[str, Any]]:
        bindings: list[dict[str, Any]] = copy.deepcopy(version["bindings"])
        bindings += [{"type": "secret_text", "name": k} for k in sorted(version["secrets"])]
        return bindings

    def _api_version(self, worker: _Worker, v: dict[str, Any]) -> dict[str, Any]:
        annotations = {"workers/triggered_by": v["triggered_by"]}
        if v["message"] is not None:
            annotations["workers/message"] = v["message"]
        if v["tag"] is not None:
            annotations["workers/tag"] = v["tag"]
        return {
            "id": v["id"],
            "number": v["number"],
            "metadata": {
                "author_id": "cfemu-user",
                "author_email": self.user_email,
                "source": v["source"],
                "created_on": v["created_on"],
                "modified_on": v["created_on"],
                "hasPreview": False,
            },
            "annotations": annotations,
            "resources": {
                "bindings": self._api_bindings(v),
                "script": {
                    "etag": v["etag"],
                    "handlers": ["fetch"],
                    "last_deployed_from": worker.last_deployed_from,
                },
                "script_runtime": {
                    "compatibility_date": v["compatibility_date"],
                    "compatibility_flags": v["compatibility_flags"],
                    "usage_model": "standard",
                    "limits": {"cpu_ms": 30000},
                },
            },
            "startup_time_ms": 5,
        }

    @staticmethod
    def _api_deployment(d: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in d.items() if k != "forced"}

    def _apply_upload(
        self,
        worker: _Worker,
        *,
        kind: str,
        query: dict[str, str],
        parts: list[Part],
        source: str,
    ) -> dict[str, Any]:
        meta_part = next((p for p in parts if p.name == "metadata"), None)
        if meta_part is None:
            raise ApiError(400, 10021, "multipart upload without a metadata part")
        try:
            metadata = json.loads(meta_part.data)
        except ValueError as e:
            raise ApiError(400, 10021, f"metadata is not JSON: {e}") from None
        if not isinstance(metadata, dict):
            raise ApiError(400, 10021, "metadata must be a JSON object")
        previous = worker.versions[-1] if worker.versions else None
        prev_bindings = {b["name"]: b for b in (previous or {}).get("bindings", [])}
        prev_secrets: dict[str, str] = dict((previous or {}).get("secrets", {}))
        keep = list(metadata.get("keep_bindings") or [])
        bindings: list[dict[str, Any]] = []
        upload_secrets: dict[str, str] = {}
        not_inheritable: list[str] = []
        for b in metadata.get("bindings") or []:
            if not isinstance(b, dict) or "name" not in b or "type" not in b:
                raise ApiError(400, 10021, f"invalid binding {b!r}")
            if b["type"] == "inherit":
                if b["name"] in prev_bindings:
                    bindings.append(copy.deepcopy(prev_bindings[b["name"]]))
                elif b["name"] in prev_secrets:
                    upload_secrets[b["name"]] = prev_secrets[b["name"]]
                else:
                    not_inheritable.append(b["name"])
            elif b["type"] == "secret_text":
                upload_secrets[b["name"]] = str(b.get("text", ""))
            else:
                bindings.append(copy.deepcopy(b))
        if not_inheritable:  # the whole upload is refused: no version is made
            raise ApiError(400, 10057, *(f"inherit binding '{n}' is invalid" for n in not_inheritable))
        names = {b["name"] for b in bindings} | set(upload_secrets)
        for name, b in prev_bindings.items():
            if b["type"] in keep and name not in names:
                bindings.append(copy.deepcopy(b))
        has_secret_bindings = any(b.get("type") == "secret_text" for b in metadata.get("bindings") or [])
        if "secret_text" in keep or not has_secret_bindings:
            secrets = prev_secrets | upload_secrets
        else:
            secrets = upload_secrets
        annotations = metadata.get("annotations") or {}
        version = self._new_version(
            worker,
            triggered_by="upload",
            secrets=secrets,
            bindings=bindings,
            compatibility_date=metadata.get("compatibility_date"),
            compatibility_flags=metadata.get("compatibility_flags"),
            source=source,
            message=annotations.get("workers/message"),
            tag=annotations.get("workers/tag"),
            metadata=metadata,
            main_module=metadata.get("main_module") or metadata.get("body_part"),
        )
        self.uploads.append(
            Upload(
                kind=kind,
                worker=worker.name,
                account=worker.account,
                query=dict(query),
                metadata=copy.deepcopy(metadata),
                parts=parts,
                version_id=version["id"],
            )
        )
        return version

    # ------------------------------------------------------------------ internals: D1
    def _require_db(self, uuid_: str) -> _Database:
        try:
            return self._databases[uuid_]
        except KeyError:
            raise KeyError(f"no D1 database {uuid_}") from None

    def _db_or_error(self, account: str, uuid_: str) -> _Database:
        db = self._databases.get(uuid_)
        if db is None or db.account != account:
            raise ApiError(404, 7404, f"The database {uuid_} could not be found")
        return db

    @staticmethod
    def _serialize(path: str) -> bytes:
        conn = sqlite3.connect(path)
        try:
            # A database nothing was ever written to has no pages and cannot be serialized.
            return conn.serialize() if conn.execute("PRAGMA page_count").fetchone()[0] else b""
        finally:
            conn.close()

    def _snapshot(self, db: _Database) -> _Snapshot:
        """Store the current content under a new bookmark unless it did not change."""
        data = self._serialize(db.path)
        if db.snapshots and db.snapshots[-1].data == data:
            return db.snapshots[-1]
        self._bookmark_counter += 1
        digest = hashlib.sha256(data).hexdigest()[:32]
        snap = _Snapshot(
            bookmark=f"{self._bookmark_counter:08x}-00000000-00004c6d-{digest}",
            taken_at=time.time(),
            data=data,
        )
        db.snapshots.append(snap)
        return snap

    def _d1_execute(self, db: _Database, sql: str) -> list[dict[str, Any]]:
        statements = split_sql(sql)
        if not statements:
            raise ApiError(400, 7500, "No SQL statements detected.: SQLITE_ERROR")
        for s in statements:
            head = _strip_leading_noise(s).lstrip().upper()
            if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END")):
                raise ApiError(
                    400,
                    7500,
                    "To execute a transaction, please use the state.storage.transaction() "
                    "APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements.",
                )
        conn = sqlite3.connect(db.path, isolation_level=None)
        results: list[dict[str, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for s in statements:
                    started = time.perf_counter()
                    before = conn.total_changes
                    cur = conn.execute(s)
                    rows = cur.fetchall()
                    columns = [d[0] for d in cur.description or []]
                    changes = conn.total_changes - before
                    results.append(
                        {
                            "results": [
                                {c: (list(v) if isinstance(v, bytes) else v) for c, v in zip(columns, row, strict=True)}
                                for row in rows
                            ],
                            "success": True,
                            "meta": {
                                "served_by": "cfemu",
                                "duration": round((time.perf_counter() - started) * 1000, 3),
                                "changes": changes,
                                "last_row_id": cur.lastrowid or 0,
                                "changed_db": changes > 0,
                                "rows_read": len(rows),
                                "rows_written": changes,
                            },
                        }
                    )
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                conn.execute("ROLLBACK")
                raise ApiError(400, 7500, f"{e}: SQLITE_ERROR") from None
        finally:
            conn.close()
        size = len(self._snapshot(db).data)
        for r in results:
            r["meta"]["size_after"] = size
        return results

    def _restore(self, db: _Database, bookmark: str) -> dict[str, str]:
        target = next((s for s in db.snapshots if s.bookmark == bookmark), None)
        if target is None:
            raise ApiError(400, 7400, f"Invalid bookmark: {bookmark}")
        previous = self._snapshot(db)
        src = sqlite3.connect(":memory:")
        dst = sqlite3.connect(db.path)
        try:
            if target.data:
                src.deserialize(target.data)
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        # The restored state is a new point in time, so a later restore can undo this one.
        self._bookmark_counter += 1
        db.snapshots.append(
            _Snapshot(
                bookmark=f"{self._bookmark_counter:08x}-00000000-00004c6d-"
                f"{hashlib.sha256(target.data).hexdigest()[:32]}",
                taken_at=time.time(),
                data=target.data,
            )
        )
        return {
            "bookmark": bookmark,
            "previous_bookmark": previous.bookmark,
            "message": "Database restored successfully",
        }

    # ------------------------------------------------------------------ HTTP dispatch
    def _handle(self, rec: Recorded) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(rec)
            gate = next((g for g in self.gates if g.matches(rec.method, rec.path)), None)
            if gate is not None:
                gate.arrived += 1
        if gate is not None and not gate.wait():
            rec.faulted = True
            rec.error_code = 10013
            return 500, _error_envelope(10013, "Internal error (held by a cfemu gate, never applied)")
        with self._lock:
            fault = next((f for f in self.faults if f.matches(rec.method, rec.path)), None)
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            if fault is not None:
                fault.hits += 1
                if fault.times > 0:
                    fault.times -= 1
        if fault is not None:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.status >= 400:
                rec.faulted = True
                rec.error_code = fault.code
                return fault.status, _error_envelope(fault.code, fault.message)
        with self._lock:
            try:
                self._authenticate(rec)
                route = self._match(rec)
                if route is None:
                    self.unknown_requests.append(rec)
                    raise ApiError(
                        404,
                        7003,
                        f"No route for that URI (cfemu: {rec.method} {rec.path})",
                    )
                handler, params = route
                result = handler(rec, *params)
            except ApiError as e:
                rec.error_code = e.code
                return e.status, _error_envelope(e.code, e.message, e.more)
        if isinstance(result, tuple):
            return 200, _envelope(result[0], result_info=result[1])
        return 200, _envelope(result)

    def _authenticate(self, rec: Recorded) -> None:
        auth = rec.headers.get("authorization", "")
        if not self._token_valid or auth != f"Bearer {self.token}":
            raise ApiError(403, 10000, "Authentication error")
        m = re.match(r"/accounts/([^/]+)", rec.path)
        if m and unquote(m.group(1)) not in self.accounts:
            raise ApiError(403, 10000, "Authentication error")

    def _match(self, rec: Recorded) -> tuple[Callable[..., Any], tuple[str, ...]] | None:
        for method, regex, handler in self._routes:
            if method != rec.method:
                continue
            m = regex.fullmatch(rec.path)
            if m:
                return handler, tuple(unquote(g) for g in m.groups())
        return None

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        seg = r"([^/]+)"
        acct = rf"/accounts/{seg}"
        script = rf"{acct}/workers/scripts/{seg}"
        d1 = rf"{acct}/d1/database"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/memberships", self._r_memberships),
            ("GET", r"/user/tokens/verify", self._r_verify),
            ("GET", r"/user", self._r_user),
            ("GET", r"/accounts", self._r_accounts),
            ("GET", r"/zones", self._r_zones),
            ("GET", rf"{acct}/workers/services/{seg}", self._r_service),
            ("GET", rf"{acct}/workers/subdomain", self._r_account_subdomain),
            ("GET", rf"{acct}/workers/workers/{seg}", self._r_workers_worker),
            ("PUT", script, self._r_script_put),
            ("DELETE", script, self._r_script_delete),
            ("GET", rf"{script}/secrets", self._r_secrets_list),
            ("PUT", rf"{script}/secrets", self._r_secret_put),
            ("GET", rf"{script}/secrets/{seg}", self._r_secret_get),
            ("DELETE", rf"{script}/secrets/{seg}", self._r_secret_delete),
            ("PATCH", rf"{script}/secrets-bulk", self._r_secrets_bulk),
            ("GET", rf"{script}/settings", self._r_settings_get),
            ("PATCH", rf"{script}/settings", self._r_settings_patch),
            ("GET", rf"{script}/script-settings", self._r_script_settings_get),
            ("PATCH", rf"{script}/script-settings", self._r_script_settings_patch),
            ("GET", rf"{script}/deployments", self._r_deployments_get),
            ("POST", rf"{script}/deployments", self._r_deployments_post),
            ("GET", rf"{script}/versions", self._r_versions_list),
            ("POST", rf"{script}/versions", self._r_versions_post),
            ("GET", rf"{script}/versions/{seg}", self._r_version_get),
            ("GET", rf"{script}/subdomain", self._r_script_subdomain_get),
            ("POST", rf"{script}/subdomain", self._r_script_subdomain_post),
            ("GET", rf"{script}/routes", self._r_routes_get),
            ("PUT", rf"{script}/routes", self._r_routes_put),
            ("GET", rf"{script}/schedules", self._r_schedules_get),
            ("PUT", rf"{script}/schedules", self._r_schedules_put),
            ("GET", d1, self._r_d1_list),
            ("GET", rf"{d1}/{seg}", self._r_d1_get),
            ("POST", rf"{d1}/{seg}/query", self._r_d1_query),
            ("GET", rf"{d1}/{seg}/time_travel/bookmark", self._r_d1_bookmark),
            ("POST", rf"{d1}/{seg}/time_travel/restore", self._r_d1_restore),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ------------------------------------------------------------------ helpers for routes
    @staticmethod
    def _json_body(rec: Recorded) -> Any:
        if rec.json is None:
            raise ApiError(400, 10021, "expected a JSON body")
        return rec.json

    @staticmethod
    def _source(rec: Recorded) -> str:
        return "wrangler" if rec.headers.get("user-agent", "").startswith("wrangler") else "api"

    @staticmethod
    def _paged(items: list[Any], query: dict[str, str], default_per_page: int) -> tuple[list[Any], dict[str, int]]:
        page = max(int(query.get("page", "1") or 1), 1)
        per_page = max(int(query.get("per_page", str(default_per_page)) or default_per_page), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)}
        return chunk, info

    # ------------------------------------------------------------------ routes: user/account
    def _r_memberships(self, rec: Recorded) -> Any:
        items = [
            {
                "id": f"mem-{a}",
                "status": "accepted",
                "account": {"id": a, "name": n},
                "roles": ["Administrator"],
            }
            for a, n in self.accounts.items()
        ]
        return self._paged(items, rec.query, 20)

    def _r_verify(self, rec: Recorded) -> Any:
        return {"id": "cfemu-token-id", "status": "active"}

    def _r_user(self, rec: Recorded) -> Any:
        return {"id": "cfemu-user", "email": self.user_email}

    def _r_accounts(self, rec: Recorded) -> Any:
        items = [{"id": a, "name": n} for a, n in self.accounts.items()]
        return self._paged(items, rec.query, 20)

    def _r_zones(self, rec: Recorded) -> Any:
        name = rec.query.get("name")
        if not name:
            return []
        return [{"id": hashlib.md5(name.encode()).hexdigest(), "name": name}]

    # ------------------------------------------------------------------ routes: workers
    def _r_service(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        cur = self._current_version(w)
        return {
            "id": name,
            "default_environment": {
                "environment": "production",
                "created_on": w.created_on,
                "modified_on": cur["created_on"],
                "script": {
                    "id": name,
                    "tag": w.tag,
                    "tags": w.script_settings.get("tags"),
                    "etag": cur["etag"],
                    "handlers": ["fetch"],
                    "created_on": w.created_on,
                    "modified_on": cur["created_on"],
                    "usage_model": "standard",
                    "compatibility_date": cur["compatibility_date"],
                    "last_deployed_from": w.last_deployed_from,
                },
            },
            "created_on": w.created_on,
            "modified_on": cur["created_on"],
        }

    def _r_account_subdomain(self, rec: Recorded, account: str) -> Any:
        if self.account_subdomain is None:
            raise ApiError(404, 10007, "workers.api.error.subdomain_not_found")
        return {"subdomain": self.account_subdomain}

    def _r_workers_worker(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        return {
            "id": w.tag,
            "name": name,
            "created_on": w.created_on,
            "subdomain": {"enabled": w.subdomain_enabled, "previews_enabled": w.previews_enabled},
        }

    def _r_script_put(self, rec: Recorded, account: str, name: str) -> Any:
        if rec.multipart is None:
            raise ApiError(400, 10021, "expected a multipart/form-data body")
        draft = "excludeScript" not in rec.query
        worker = self._workers.get((account, name))
        if worker is None:
            worker = self._create_worker(account, name)
            if draft:
                worker.draft = True
                self._drafts.append(name)
        version = self._apply_upload(
            worker,
            kind="draft" if draft else "script",
            query=rec.query,
            parts=rec.multipart,
            source=self._source(rec),
        )
        self._deploy(worker, version["id"], triggered_by="upload", source=self._source(rec))
        return {
            "id": name,
            "tag": worker.tag,
            "etag": version["etag"],
            "handlers": ["fetch"],
            "created_on": worker.created_on,
            "modified_on": version["created_on"],
            "deployment_id": version["id"],
            "startup_time_ms": 5,
        }

    def _r_script_delete(self, rec: Recorded, account: str, name: str) -> Any:
        self._worker_or_10007(account, name)
        del self._workers[(account, name)]
        return None

    def _r_secrets_list(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        secrets = self._current_version(w)["secrets"]
        return [{"name": k, "type": "secret_text"} for k in sorted(secrets)]

    def _r_secret_get(self, rec: Recorded, account: str, name: str, key: str) -> Any:
        w = self._worker_or_10007(account, name)
        if key not in self._current_version(w)["secrets"]:
            raise ApiError(404, 10056, f"Binding name '{key}' not found.")
        return {"name": key, "type": "secret_text"}

    def _r_secret_put(self, rec: Recorded, account: str, name: str) -> Any:
        body = self._json_body(rec)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ApiError(400, 10021, "secret body needs name, text and type")
        if body.get("type", "secret_text") != "secret_text":
            raise ApiError(400, 10021, f"unsupported secret type {body.get('type')!r}")
        w = self._worker_or_10007(account, name)
        self._check_latest_deployed(w)
        secrets = self._current_version(w)["secrets"] | {body["name"]: str(body.get("text", ""))}
        self._secret_change(w, secrets)
        return {"name": body["name"], "type": "secret_text"}

    def _r_secret_delete(self, rec: Recorded, account: str, name: str, key: str) -> Any:
        w = self._worker_or_10007(account, name)
        self._check_latest_deployed(w)
        secrets = dict(self._current_version(w)["secrets"])
        if key not in secrets:
            raise ApiError(404, 10056, f"Binding name '{key}' not found.")
        del secrets[key]
        self._secret_change(w, secrets)
        return None

    def _r_secrets_bulk(self, rec: Recorded, account: str, name: str) -> Any:
        body = self._json_body(rec)
        if not isinstance(body, dict) or not isinstance(body.get("secrets"), dict):
            raise ApiError(400, 10021, 'merge-patch body needs a "secrets" object')
        w = self._worker_or_10007(account, name)
        self._check_latest_deployed(w)
        secrets = dict(self._current_version(w)["secrets"])
        for key, value in body["secrets"].items():
            if value is None:
                secrets.pop(key, None)
            elif isinstance(value, dict):
                secrets[key] = str(value.get("text", ""))
            else:
                raise ApiError(400, 10021, f"invalid value for secret {key}")
        self._secret_change(w, secrets)
        return None

    def _settings(self, w: _Worker) -> dict[str, Any]:
        cur = self._current_version(w)
        return {
            "bindings": self._api_bindings(cur),
            "compatibility_date": cur["compatibility_date"],
            "compatibility_flags": cur["compatibility_flags"],
            "logpush": w.script_settings.get("logpush", False),
            "observability": w.script_settings.get("observability"),
            "placement": {},
            "tags": w.script_settings.get("tags") or [],
            "tail_consumers": w.script_settings.get("tail_consumers") or [],
            "usage_model": "standard",
        }

    def _r_settings_get(self, rec: Recorded, account: str, name: str) -> Any:
        return self._settings(self._worker_or_10007(account, name))

    def _r_settings_patch(self, rec: Recorded, account: str, name: str) -> Any:
        part = rec.part("settings")
        if part is None:
            raise ApiError(400, 10021, 'settings PATCH needs a multipart "settings" field')
        try:
            settings = json.loads(part.data)
        except ValueError as e:
            raise ApiError(400, 10021, f"settings is not JSON: {e}") from None
        w = self._worker_or_10007(account, name)
        if "bindings" in settings:
            self._check_latest_deployed(w)
            cur = self._current_version(w)
            prev_bindings = {b["name"]: b for b in cur["bindings"]}
            bindings: list[dict[str, Any]] = []
            secrets: dict[str, str] = {}
            for b in settings["bindings"]:
                bname, btype = b.get("name"), b.get("type")
                content = {k for k in b if k not in ("name", "type")}
                if btype == "secret_text" and "text" in b:
                    secrets[bname] = str(b["text"])
                elif btype == "inherit" or not content:
                    # An inherit stub: keep the existing binding of that name.
                    if bname in cur["secrets"]:
                        secrets[bname] = cur["secrets"][bname]
                    elif bname in prev_bindings:
                        bindings.append(copy.deepcopy(prev_bindings[bname]))
                    else:
                        raise ApiError(400, 10021, f"binding {bname} not found to inherit")
                else:
                    bindings.append(copy.deepcopy(b))
            self._secret_change(w, secrets, bindings)
        for key in ("logpush", "observability", "tail_consumers", "tags"):
            if key in settings:
                w.script_settings[key] = settings[key]
        return self._settings(w)

    def _r_script_settings_get(self, rec: Recorded, account: str, name: str) -> Any:
        return copy.deepcopy(self._worker_or_10007(account, name).script_settings)

    def _r_script_settings_patch(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        body = self._json_body(rec)
        if not isinstance(body, dict):
            raise ApiError(400, 10021, "script-settings body must be an object")
        w.script_settings.update(copy.deepcopy(body))
        return copy.deepcopy(w.script_settings)

    def _r_deployments_get(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        return {"deployments": [self._api_deployment(d) for d in reversed(w.deployments)]}

    def _r_deployments_post(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        body = self._json_body(rec)
        versions = body.get("versions") if isinstance(body, dict) else None
        if not isinstance(versions, list) or not versions:
            raise ApiError(400, 10021, "deployment needs versions")
        if len(versions) > MAX_DEPLOYMENT_VERSIONS:
            raise ApiError(400, 10021, f"a deployment has at most {MAX_DEPLOYMENT_VERSIONS} versions")
        if abs(sum(float(v.get("percentage", 0)) for v in versions) - 100.0) > 1e-9:
            raise ApiError(400, 10021, "version percentages must add up to 100")
        for v in versions:
            self._version_by_id(w, str(v.get("version_id")))
        traffic: list[dict[str, Any]] = [
            {"version_id": str(v["version_id"]), "percentage": float(v["percentage"])} for v in versions
        ]
        main = self._main_version_id({"versions": traffic})
        forced = rec.query.get("force") == "true"
        rollback = main != w.versions[-1]["id"]
        if self.rollback_checks_secrets and rollback and not forced and w.deployments:
            current = self._current_version(w)["secrets"]
            target = self._version_by_id(w, main)["secrets"]
            changed = sorted(k for k in set(current) | set(target) if current.get(k) != target.get(k))
            if changed:
                raise ApiError(
                    400,
                    10220,
                    "Cannot rollback to a version with different secrets. "
                    f"The following secrets have changed: {', '.join(changed)}",
                )
        annotations = body.get("annotations") or {}
        triggered_by = "rollback" if rollback else "deployment"
        deployment = self._deploy(
            w,
            main,
            triggered_by=triggered_by,
            message=annotations.get("workers/message"),
            source=self._source(rec),
            versions=traffic,
            forced=forced,
        )
        return self._api_deployment(deployment)

    def _r_versions_list(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        items = [self._api_version(w, v) for v in reversed(w.versions)]
        return {"items": items}

    def _r_version_get(self, rec: Recorded, account: str, name: str, version_id: str) -> Any:
        w = self._worker_or_10007(account, name)
        return self._api_version(w, self._version_by_id(w, version_id))

    def _r_versions_post(self, rec: Recorded, account: str, name: str) -> Any:
        if rec.multipart is None:
            raise ApiError(400, 10021, "expected a multipart/form-data body")
        w = self._worker_or_10007(account, name)
        version = self._apply_upload(w, kind="version", query=rec.query, parts=rec.multipart, source=self._source(rec))
        api = self._api_version(w, version)
        api["resources"]["script"]["etag"] = version["etag"]
        return api

    def _r_script_subdomain_get(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        return {"enabled": w.subdomain_enabled, "previews_enabled": w.previews_enabled}

    def _r_script_subdomain_post(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        body = self._json_body(rec)
        if isinstance(body, dict):
            if "enabled" in body:
                w.subdomain_enabled = bool(body["enabled"])
            if "previews_enabled" in body:
                w.previews_enabled = bool(body["previews_enabled"])
        return {"enabled": w.subdomain_enabled, "previews_enabled": w.previews_enabled}

    def _r_routes_get(self, rec: Recorded, account: str, name: str) -> Any:
        return copy.deepcopy(self._worker_or_10007(account, name).routes)

    def _r_routes_put(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        w.routes = copy.deepcopy(self._json_body(rec))
        return copy.deepcopy(w.routes)

    def _r_schedules_get(self, rec: Recorded, account: str, name: str) -> Any:
        return {"schedules": copy.deepcopy(self._worker_or_10007(account, name).schedules)}

    def _r_schedules_put(self, rec: Recorded, account: str, name: str) -> Any:
        w = self._worker_or_10007(account, name)
        w.schedules = copy.deepcopy(self._json_body(rec))
        return {"schedules": copy.deepcopy(w.schedules)}

    # ------------------------------------------------------------------ routes: D1
    def _api_db(self, db: _Database) -> dict[str, Any]:
        return {
            "uuid": db.uuid,
            "name": db.name,
            "version": "production",
            "created_at": db.created_on,
            "num_tables": len(self._table_names(db)),
            "file_size": len(self._serialize(db.path)),
        }

    @staticmethod
    def _table_names(db: _Database) -> list[str]:
        conn = sqlite3.connect(db.path)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        finally:
            conn.close()
        return [r[0] for r in rows]

    def _r_d1_list(self, rec: Recorded, account: str) -> Any:
        dbs = [d for d in self._databases.values() if d.account == account]
        if rec.query.get("name"):
            dbs = [d for d in dbs if d.name == rec.query["name"]]
        items = [{"uuid": d.uuid, "name": d.name, "version": "production", "created_at": d.created_on} for d in dbs]
        return self._paged(items, rec.query, 1000)

    def _r_d1_get(self, rec: Recorded, account: str, db_id: str) -> Any:
        return self._api_db(self._db_or_error(account, db_id))

    def _r_d1_query(self, rec: Recorded, account: str, db_id: str) -> Any:
        db = self._db_or_error(account, db_id)
        body = self._json_body(rec)
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            raise ApiError(400, 7400, 'query body needs "sql"')
        if body.get("params"):
            raise ApiError(400, 7400, "cfemu: query params are not supported")
        return self._d1_execute(db, body["sql"])

    def _r_d1_bookmark(self, rec: Recorded, account: str, db_id: str) -> Any:
        db = self._db_or_error(account, db_id)
        current = self._snapshot(db)
        stamp = rec.query.get("timestamp")
        if not stamp:
            return {"bookmark": current.bookmark}
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ApiError(400, 7400, f"Invalid timestamp: {stamp}") from None
        older = [s for s in db.snapshots if s.taken_at <= when]
        return {"bookmark": (older[-1] if older else db.snapshots[0]).bookmark}

    def _r_d1_restore(self, rec: Recorded, account: str, db_id: str) -> Any:
        db = self._db_or_error(account, db_id)
        bookmark = rec.query.get("bookmark")
        if not bookmark:
            raise ApiError(400, 7400, "A bookmark is required")
        return self._restore(db, bookmark)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cfemu/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        emulator: CloudflareEmulator = self.server.emulator  # type: ignore[attr-defined]
        body = self._read_body()
        url = urlsplit(self.path)
        path = url.path
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :] or "/"
        path = path.rstrip("/") or "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        ctype = headers.get("content-type", "")
        parsed_json: Any = None
        multipart: list[Part] | None = None
        status: int
        payload: dict[str, Any]
        try:
            if ctype.startswith("multipart/form-data"):
                multipart = parse_multipart(ctype, body)
            elif body:
                try:
                    parsed_json = json.loads(body)
                except ValueError:
                    parsed_json = None
            rec = Recorded(
                method=self.command,
                path=path,
                query=dict(parse_qsl(url.query, keep_blank_values=True)),
                headers=headers,
                body=body,
                json=parsed_json,
                multipart=multipart,
            )
        except ApiError as e:
            rec = Recorded(self.command, path, dict(parse_qsl(url.query)), headers, body, None)
            with emulator._lock:
                emulator.requests.append(rec)
            status, payload = e.status, _error_envelope(e.code, e.message, e.more)
        else:
            try:
                status, payload = emulator._handle(rec)
            except Exception as e:  # a bug in the emulator: say so loudly, never hang
                emulator.crashes.append(f"{rec.method} {rec.path}: {e!r}")
                status, payload = 500, _error_envelope(10013, f"cfemu crashed: {e!r}")
        rec.status = status
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (killed while we delayed)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _dispatch


def iter_ndjson(text: str) -> Iterator[dict[str, Any]]:
    """Parse wrangler's ND-JSON output file (WRANGLER_OUTPUT_FILE_PATH)."""
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)
