"""A test double of wrangler 4.86 for the calls skclaw makes most: it answers them in a Python
start (about 30 ms of CPU) instead of a Node start of wrangler's 12 MB bundle (about 600 ms).

It speaks to the Cloudflare API emulator exactly as wrangler does (the same requests, in the same
order, with the same bodies) and prints what wrangler prints: stdout, stderr, exit code and the
ND-JSON records of ``WRANGLER_OUTPUT_FILE_PATH``. ``tests/test_wrangler_double.py`` holds it to
that: every case it serves runs against the real wrangler and the double on the same emulator
state, and the two must agree.

Everything else goes to the real wrangler (``SKCLAW_DOUBLE_REAL_WRANGLER``), unchanged: deploys,
uploads, migrations, local D1, ``--file``, text formats, and any project shape the double does
not read exactly as wrangler would (a ``.env`` beside the config, a config with ``account_id``,
an env the config lacks, no ``--config``). The decision is made before stdin is read or any
request is sent, so a call that goes to wrangler is wrangler's from its first byte.

Served (with ``--config`` and ``--env``, as skclaw passes them):
    --version | secret list [--format json] | secret put K | secret delete K | secret bulk (stdin)
    deployments status --json | deployments list --json | whoami --json | versions deploy ID@P [ID@Q] -y
    d1 execute DB --remote [--json] [--yes] --command SQL | d1 time-travel info DB --json
    d1 migrations list|apply DB --remote

Standard library only, started with ``python -S -E`` (tests/conftest.py makes the launcher).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

# Modules needed on rare paths (TOML configs, exact rounding, handing a call to wrangler) are
# imported there: the double is started hundreds of times a run, so its start-up is kept lean.

REAL_ENV = "SKCLAW_DOUBLE_REAL_WRANGLER"
VERSION = "4.86.0"
# wrangler prints warnings and errors through esbuild's formatter, with colour even when piped.
ERROR_PREFIX = "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1m"
BUG_LINK = "If you think this is a bug, please open an issue at: \x1b[4mhttps://github.com/cloudflare/workers-sdk/issues/new/choose\x1b[0m"
WORKER_NOT_FOUND = (10007, 10090)
# What JavaScript's trimEnd() removes (wrangler trims a `secret put` value with it).
JS_TRAILING_SPACE = ("\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                     + "\u2028\u2029\u202f\u205f\u3000\ufeff")

VALUE_FLAGS = {"--config", "--env", "--format", "--command", "--message"}
BOOL_FLAGS = {"--json", "--remote", "--yes"}


class Delegate(Exception):
    """This call is the real wrangler's."""


class ApiError(Exception):
    def __init__(self, path: str, envelope: dict[str, Any]) -> None:
        super().__init__(path)
        self.path = path
        self.errors = envelope.get("errors") or []
        self.messages = envelope.get("messages") or []

    @property
    def code(self) -> int | None:
        first = self.errors[0] if self.errors else {}
        code = first.get("code") if isinstance(first, dict) else None
        return code if isinstance(code, int) else None


class UserError(Exception):
    pass


def quote(text: str) -> str:
    """JavaScript's encodeURIComponent."""
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def http(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    """One HTTP/1.1 request to the emulator on 127.0.0.1 (plain HTTP, the connection closed after
    it): the status and the body. A socket, not urllib, which costs the double's start 15 ms."""
    match = re.fullmatch(r"http://([^/:]+):(\d+)(/.*)", url)
    if match is None:
        raise Delegate
    host, port, target = match.group(1), int(match.group(2)), match.group(3)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", "Accept: */*"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")
    with socket.create_connection((host, port), timeout=120) as conn:
        conn.sendall(request)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        raise Delegate  # the emulator sends a length; anything else is not what the double knows
    length = fields.get(b"content-length")
    return status, rest if length is None else rest[: int(length)]


# ----------------------------------------------------------------------------- the call
class Call:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.words: list[str] = []
        self.flags: dict[str, str | bool] = {}
        i = 0
        while i < len(argv):
            token = argv[i]
            if token.startswith("--"):
                name, eq, value = token.partition("=")
                if name in VALUE_FLAGS:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            raise Delegate
                        value = argv[i]
                    self.flags[name] = value
                elif name in BOOL_FLAGS and not eq:
                    self.flags[name] = True
                else:
                    raise Delegate
            elif token == "-y":
                self.flags["--yes"] = True
            elif token.startswith("-") and token != "-":
                raise Delegate
            else:
                self.words.append(token)
            i += 1
        self.environ = os.environ
        self._config: tuple[dict[str, Any], str] | None = None
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.records: list[str] = []
        for name in ("CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"):
            if not self.environ.get(name):
                raise Delegate
        if any(self.environ.get(n) for n in ("CLOUDFLARE_API_KEY", "CLOUDFLARE_ENV", "CF_API_TOKEN", "CF_ACCOUNT_ID")):
            raise Delegate
        if self.environ.get("WRANGLER_LOG", "log") != "log":
            raise Delegate
        self.base = self.environ["CLOUDFLARE_API_BASE_URL"]
        self.account = self.environ["CLOUDFLARE_ACCOUNT_ID"]

    def string(self, name: str) -> str | None:
        value = self.flags.get(name)
        return value if isinstance(value, str) else None

    # -- the project, read as wrangler reads it; anything unusual is wrangler's ---------------
    def config(self) -> tuple[dict[str, Any], str]:
        """(the env-resolved view skclaw's calls need, the env name), read once per call."""
        if self._config is None:
            self._config = self._read_config()
        return self._config

    def _read_config(self) -> tuple[dict[str, Any], str]:
        path_text = self.string("--config")
        env = self.string("--env")
        if not path_text or env is None:
            raise Delegate
        path = Path(path_text)
        if not path.is_absolute() or path.name == "config.json":  # a redirected build config
            raise Delegate
        for folder in {path.parent, Path.cwd()}:
            if any(folder.glob(".env*")) or any(folder.glob(".dev.vars*")):
                raise Delegate
        try:
            text = path.read_text("utf-8")
            if path.suffix == ".toml":
                import tomllib

                data = tomllib.loads(text)
            else:
                data = json.loads(strip_jsonc(text))
        except (OSError, ValueError):
            raise Delegate from None
        if not isinstance(data, dict) or "account_id" in data or data.get("legacy_env") is False:
            raise Delegate
        if env:
            envs = data.get("env")
            block = envs.get(env) if isinstance(envs, dict) else None
            if not isinstance(block, dict) or "account_id" in block:
                raise Delegate
            name = block.get("name") or (f"{data['name']}-{env}" if isinstance(data.get("name"), str) else None)
            view = {"name": name, "d1_databases": block.get("d1_databases") or [], "raw": (data, block)}
        else:
            view = {"name": data.get("name"), "d1_databases": data.get("d1_databases") or [], "raw": (data,)}
        if not isinstance(view["name"], str) or not view["name"]:
            raise Delegate
        return view, env

    def worker(self) -> tuple[str, str]:
        view, env = self.config()
        return view["name"], env

    def database_entry(self, arg: str) -> dict[str, Any]:
        """The env's d1_databases entry named ``arg`` (binding or database_name), as wrangler finds it."""
        view, _ = self.config()
        for db in view["d1_databases"]:
            if isinstance(db, dict) and arg in (db.get("binding"), db.get("database_name")):
                return db
        raise Delegate

    def database(self, arg: str) -> str:
        uuid = self.database_entry(arg).get("database_id")
        if not isinstance(uuid, str):
            raise Delegate
        return uuid

    # -- the API ------------------------------------------------------------------------------
    def api(self, method: str, resource: str, *, body: bytes | None = None, content_type: str | None = None,
            query: str = "") -> Any:
        headers = {"Authorization": f"Bearer {self.environ['CLOUDFLARE_API_TOKEN']}",
                   "User-Agent": f"wrangler/{VERSION}"}
        if content_type:
            headers["Content-Type"] = content_type
        status, raw = http(method, self.base + resource + query, headers, body)
        if status in (204, 205) and not raw:
            return {}
        try:
            envelope = json.loads(raw)
        except ValueError:
            raise Delegate from None  # wrangler's "malformed response" path: not served
        if not isinstance(envelope, dict):
            raise Delegate
        if not envelope.get("success"):
            raise ApiError(resource, envelope)
        return envelope.get("result")

    # -- what wrangler writes besides stdout ----------------------------------------------------
    def start(self) -> None:
        now = time.time()
        config_home = self.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        self.log_path = Path(config_home) / ".wrangler" / "logs" / (
            "wrangler-" + time.strftime("%Y-%m-%d_%H-%M-%S_", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}.log")
        self.record({"type": "wrangler-session", "version": 1, "wrangler_version": VERSION,
                     "command_line_args": self.argv, "log_file_path": str(self.log_path)})


    def record(self, entry: dict[str, Any]) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
        self.records.append(json.dumps({**entry, "timestamp": stamp}, ensure_ascii=False, separators=(",", ":")) + "\n")

    def out(self, text: str) -> None:
        self.stdout.append(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.append(text)

    def flush(self) -> None:
        """What the call printed, at its end: a call handed to wrangler midway printed nothing."""
        sys.stdout.write("".join(self.stdout))
        sys.stderr.write("".join(self.stderr))
        target = self.environ.get("WRANGLER_OUTPUT_FILE_PATH")
        if target and self.records:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as file:
                file.write("".join(self.records))

    def discard(self) -> None:
        self.stdout, self.stderr, self.records = [], [], []

    def fail(self, exc: ApiError | UserError, *, bare: bool = False) -> int:
        """wrangler's error output. ``bare``: as an error reading the migrations table comes out
        (no blank line on stdout, no log-file line)."""
        if not bare:
            self.out("")
        if isinstance(exc, ApiError):
            lines = [f"{e.get('message')} [code: {e.get('code')}]" for e in exc.errors if isinstance(e, dict)]
            lines += [str(m.get("message") if isinstance(m, dict) else m) for m in exc.messages]
            title = f"A request to the Cloudflare API ({exc.path}) failed."
            notes = "".join(f"  {line}\n" for line in lines)
            if exc.code == 10000:  # wrangler's diagnostic: who the token is, on stdout
                self.out(AUTH_HINT)
                self.stdout.append(self.whoami_text())
                self.err(f"{ERROR_PREFIX}{title}\x1b[0m\n\n{notes}\n\n")
            else:
                self.err(f"{ERROR_PREFIX}{title}\x1b[0m\n\n{notes}  \n  {BUG_LINK}\n\n\n")
            entry: dict[str, Any] = {"type": "command-failed", "version": 1}
            if exc.code is not None:
                entry["code"] = exc.code
            self.record({**entry, "message": title})
        else:
            first, _, rest = str(exc).partition("\n")
            body = "".join(f"  {line}\n" if line else "  \n" for line in rest.split("\n")) if rest else ""
            self.err(f"{ERROR_PREFIX}{first}\x1b[0m\n\n{body}\n\n" if rest else f"{ERROR_PREFIX}{first}\x1b[0m\n\n\n")
            self.record({"type": "command-failed", "version": 1, "message": str(exc)})
        if not bare:
            self.err(f"🪵  Logs were written to \"{self.log_path}\"\n")
        return 1


    def whoami_text(self) -> str:
        """`wrangler whoami --account A`'s text, which wrangler prints after an authentication
        error (rare in tests: the real wrangler makes it, with the same reads)."""
        import os
        import signal
        import subprocess

        env = {k: v for k, v in self.environ.items() if k != "WRANGLER_OUTPUT_FILE_PATH"}
        # Its own process group: wrangler's bin starts a second Node, and a timeout must stop both
        # (an orphaned whoami was once seen spinning on after its test).
        child = subprocess.Popen([self.environ[REAL_ENV], "whoami", "--account", self.account], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, start_new_session=True)
        try:
            stdout, _ = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return ""
        return stdout


LATEST_NOT_DEPLOYED = (
    "Secret edit failed. You attempted to modify a secret, but the latest version of your Worker isn't currently "
    "deployed.\nThis limitation exists to prevent accidental deployment when using Worker versions and secrets "
    "together.\nTo resolve this, you have two options:\n(1) use the `wrangler versions secret put` instead, which "
    "allows you to update secrets without deploying; or\n(2) deploy the latest version first, then modify secrets."
    "\nAlternatively, you can use the Cloudflare dashboard to modify secrets and deploy the version.")
AUTH_HINT = ("📎 It looks like you are authenticating Wrangler via a custom API token set in an environment "
             "variable.\nPlease ensure it has the correct permissions for this operation.\n")


# ----------------------------------------------------------------------------- commands
def js(value: Any) -> Any:
    """What JSON.stringify prints for a parsed value: integral floats without `.0`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [js(v) for v in value]
    return value


def pretty(value: Any, indent: int = 2) -> str:
    return json.dumps(js(value), indent=indent, ensure_ascii=False)


def scripts(call: Call, name: str) -> str:
    return f"/accounts/{call.account}/workers/scripts/{name}"


def secret_list(call: Call) -> int:
    if call.string("--format") not in (None, "json") or len(call.words) != 2:
        raise Delegate
    name, env = call.worker()
    call.start()
    try:
        result = call.api("GET", scripts(call, name) + "/secrets")
    except ApiError as exc:
        if exc.code in WORKER_NOT_FOUND:
            where = f" (env: {env})" if env else ""
            return call.fail(UserError(
                f'Worker "{name}"{where} not found.\n\nIf this is a new Worker, run `wrangler deploy` first to '
                "create it.\nOtherwise, check that the Worker name is correct and you're logged into the right "
                "account."))
        return call.fail(exc)
    call.out(pretty(result))
    return 0


def read_stdin() -> str:
    return sys.stdin.buffer.read().decode("utf-8", "replace")


def fallback(call: Call, stdin: str) -> NoReturn:
    """Not served, but stdin is already read: run wrangler with it (nothing was sent yet)."""
    import subprocess

    done = subprocess.run([os.environ[REAL_ENV], *call.argv], input=stdin.encode("utf-8"))
    sys.exit(done.returncode)


def secret_put(call: Call) -> int:
    if len(call.words) != 3 or sys.stdin.isatty():
        raise Delegate
    key = call.words[2]
    name, _ = call.worker()
    value = read_stdin().rstrip(JS_TRAILING_SPACE)
    call.start()
    call.out(f'🌀 Creating the secret for the Worker "{name}" ')
    body = json.dumps({"name": key, "text": value, "type": "secret_text"}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
    try:
        call.api("PUT", scripts(call, name) + "/secrets", body=body, content_type="application/json")
    except ApiError as exc:
        if exc.code in WORKER_NOT_FOUND:
            raise Unserved(value) from None
        if exc.code == 10215:
            return call.fail(UserError(LATEST_NOT_DEPLOYED))
        return call.fail(exc)
    call.out(f"✨ Success! Uploaded secret {key}")
    return 0


def secret_delete(call: Call) -> int:
    if len(call.words) != 3:
        raise Delegate
    key = call.words[2]
    name, _ = call.worker()
    call.start()
    call.out(f"? Are you sure you want to permanently delete the secret {key} on the Worker {name}?")
    call.out("🤖 Using fallback value in non-interactive context: yes")
    call.out(f"🌀 Deleting the secret {key} on the Worker {name}")
    try:
        call.api("DELETE", scripts(call, name) + "/secrets/" + quote(key),
                 query="?url_encoded=true")
    except ApiError as exc:
        return call.fail(exc)
    call.out(f"✨ Success! Deleted secret {key}")
    return 0


def secret_bulk(call: Call) -> int:
    if len(call.words) != 2 or sys.stdin.isatty():
        raise Delegate
    name, _ = call.worker()
    text = read_stdin()
    try:
        values = json.loads(text.replace("\r", "").replace("\n", ""))
    except ValueError:
        fallback(call, text)
    if not isinstance(values, dict) or not values or not all(isinstance(v, str) for v in values.values()):
        fallback(call, text)
    call.start()
    call.out(f'🌀 Creating the secrets for the Worker "{name}" ')
    resource = scripts(call, name) + "/settings"
    try:
        settings = call.api("GET", resource)
    except ApiError as exc:
        if exc.code in WORKER_NOT_FOUND:
            raise Unserved(text) from None
        return call.fail(exc)
    existing = settings.get("bindings") if isinstance(settings, dict) else None
    if not isinstance(existing, list):
        raise Unserved(text)
    bindings: list[dict[str, Any]] = [
        {"type": b.get("type"), "name": b.get("name")} for b in existing
        if isinstance(b, dict) and not (b.get("type") == "secret_text" and b.get("name") in values)
    ]
    bindings += [{"type": "secret_text", "name": k, "text": v} for k, v in values.items()]
    boundary = "----formdata-undici-0" + str(int.from_bytes(os.urandom(8), "big") % 10**11).zfill(11)
    field = json.dumps({"bindings": bindings}, ensure_ascii=False, separators=(",", ":"))
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="settings"\r\n\r\n{field}\r\n'
            f"--{boundary}--\r\n").encode()
    try:
        call.api("PATCH", resource, body=body, content_type=f"multipart/form-data; boundary={boundary}")
    except ApiError as exc:
        call.out("\n🚨 Secrets failed to upload")
        return call.fail(exc)
    for key in values:
        call.out(f"✨ Successfully created secret for key: {key}")
    call.out(f"\nFinished processing secrets file:\n✨ {len(values)} secrets successfully uploaded")
    return 0


def deployments(call: Call) -> int:
    if len(call.words) != 2 or call.flags.get("--json") is not True:
        raise Delegate
    name, _ = call.worker()
    call.start()
    try:
        result = call.api("GET", scripts(call, name) + "/deployments")
    except ApiError as exc:
        return call.fail(exc)
    items = result.get("deployments") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise Delegate
    if call.words[1] == "list":
        call.out(pretty(sorted(items, key=lambda d: d.get("created_on", ""))))
        return 0
    if not items:
        return call.fail(UserError(f"The Worker {name} has no deployments."))
    call.out(pretty(items[0]))
    return 0


def whoami(call: Call) -> int:
    if len(call.words) != 1 or call.flags.get("--json") is not True:
        raise Delegate
    call.start()
    try:
        call.api("GET", "/user/tokens/verify")
        user = call.api("GET", "/user")
        accounts = call.api("GET", "/accounts", query="?page=1")
    except ApiError:
        raise Delegate from None  # only reads were sent: wrangler's own answer, from the start
    if not isinstance(accounts, list) or len(accounts) >= 50 or not isinstance(user, dict):
        raise Delegate
    answer = {"loggedIn": True, "authType": "User API Token", "email": user.get("email"),
              "accounts": [{"id": a.get("id"), "name": a.get("name")} for a in accounts]}
    call.out(pretty(answer, 4))
    return 0


def d1_execute(call: Call) -> int:
    """`d1 execute DB --remote --command SQL`, as JSON (``--json``) or as wrangler prints it to a
    pipe without it: its log lines, then the same JSON."""
    sql = call.string("--command")
    if len(call.words) != 3 or sql is None or call.flags.get("--remote") is not True:
        raise Delegate
    as_json = call.flags.get("--json") is True
    arg = call.words[2]
    database = call.database(arg)
    call.start()
    if not as_json:
        call.out("Resource location: remote \n")
        where = "preview" if call.database_entry(arg).get("preview_database_id") else "remote"
        call.out(f"🌀 Executing on {where} database {arg} ({database}):")
        call.out("🌀 To execute on your local development database, remove the --remote flag from your wrangler "
                 "command.")
    resource = f"/accounts/{call.account}/d1/database/{database}/query"
    try:
        result = call.api("POST", resource, body=json.dumps({"sql": sql}, ensure_ascii=False,
                                                             separators=(",", ":")).encode("utf-8"),
                          content_type="application/json")
    except ApiError as exc:
        if not as_json:
            return call.fail(exc)
        title = f"A request to the Cloudflare API ({exc.path}) failed."
        notes = [{"text": f"{e.get('message')} [code: {e.get('code')}]"} for e in exc.errors if isinstance(e, dict)]
        error: dict[str, Any] = {"text": title, "notes": notes, "kind": "error", "name": "APIError"}
        if exc.code is not None:
            error["code"] = exc.code
        error["accountTag"] = call.account
        text = pretty({"error": error})
        call.out("")
        call.out(text)
        call.record({"type": "command-failed", "version": 1, "message": text})
        return 1
    if not isinstance(result, list):
        raise Delegate
    if not as_json:
        total = 0.0
        for item in result:
            duration = (item.get("meta") or {}).get("duration") if isinstance(item, dict) else None
            total = total + (duration or 0)
        count = f"{len(result)} commands" if len(result) != 1 else "1 command"
        call.out(f"🚣 Executed {count} in {to_fixed(total, 2)}ms")
    call.out(pretty(result))
    return 0


def to_fixed(value: float, digits: int) -> str:
    """JavaScript's Number.prototype.toFixed: the exact binary value, ties rounded up."""
    import decimal

    exact = decimal.Decimal(value)
    return str(exact.quantize(decimal.Decimal(1).scaleb(-digits), rounding=decimal.ROUND_HALF_UP))


def time_travel_info(call: Call) -> int:
    if len(call.words) != 4 or call.flags.get("--json") is not True:
        raise Delegate
    database = call.database(call.words[3])
    call.start()
    resource = f"/accounts/{call.account}/d1/database/{database}"
    try:
        info = call.api("GET", resource)
        if isinstance(info, dict) and info.get("version") == "alpha":
            raise Delegate
        result = call.api("GET", resource + "/time_travel/bookmark?")  # an empty query string, as wrangler's
    except ApiError as exc:
        return call.fail(exc)
    call.out(pretty(result))
    return 0


NON_VERSIONED_SETTINGS = ("logpush", "tail_consumers", "streaming_tail_consumers", "observability")
VERSION_SPEC = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@(\d+(?:\.\d+)?)%?$")


def js_number(value: float) -> str:
    """How JavaScript prints a number: 25, 12.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def versions_deploy(call: Call) -> int:
    """`versions deploy ID@P [ID@Q] -y [--message M]`: every version and percentage given, adding
    up to 100, and no non-versioned settings in the config to sync."""
    specs = [VERSION_SPEC.match(word) for word in call.words[2:]]
    if call.flags.get("--yes") is not True or not 1 <= len(specs) <= 2 or not all(specs):
        raise Delegate
    traffic = [(m.group(1), float(m.group(2))) for m in specs if m is not None]
    if abs(sum(p for _, p in traffic) - 100) > 1e-9 or len({v for v, _ in traffic}) != len(traffic):
        raise Delegate
    view, _ = call.config()
    if any(key in raw for raw in view["raw"] for key in NON_VERSIONED_SETTINGS):
        raise Delegate
    name = view["name"]
    message = call.string("--message")
    call.start()
    cache: dict[str, dict[str, Any]] = {}

    def version(version_id: str) -> dict[str, Any]:
        if version_id not in cache:
            cache[version_id] = call.api("GET", f"{scripts(call, name)}/versions/{version_id}")
        return cache[version_id]

    out = call.out
    out("╭ Deploy Worker Versions by splitting traffic between multiple versions\n│")
    out("├ Fetching latest deployment\n│")
    try:
        listed = call.api("GET", scripts(call, name) + "/deployments")
        deployments = listed.get("deployments") if isinstance(listed, dict) else None
        if not deployments:
            raise Delegate
        current = deployments[0]["versions"]
        out(f"├ Your current deployment has {len(current)} version(s):\n│")
        blocks = []
        for item in current:
            v = version(item["version_id"])
            notes = v.get("annotations") or {}
            blocks.append(f"│ ({js_number(item['percentage'])}%) {v['id']}\n"
                          f"│       Created:  {v['metadata']['created_on']}\n"
                          f"│           Tag:  {notes.get('workers/tag') or '-'}\n"
                          f"│       Message:  {notes.get('workers/message') or '-'}")
        out("\n│\n".join(blocks) + "\n│")
        out("├ Fetching versions\n│")
        chosen = [version(v) for v, _ in traffic]
        out("├ Which version(s) do you want to deploy?")
        out(f"├ {len(chosen)} Worker Version(s) selected\n│")
        for number, v in enumerate(chosen, start=1):
            notes = v.get("annotations") or {}
            out(f"├     Worker Version {number}:  {v['id']}\n"
                f"│              Created:  {v['metadata']['created_on']}\n"
                f"│                  Tag:  {notes.get('workers/tag') or '-'}\n"
                f"│              Message:  {notes.get('workers/message') or '-'}\n│")
        for number, (_, percentage) in enumerate(traffic, start=1):
            out(f"├\u200aWhat percentage of traffic should Worker Version {number} receive?")
            out(f"├\u200a{js_number(percentage)}% of traffic\n├")
        out(f"├ Add a deployment message\n│ Deployment message {message}\n│" if message
            else "├ Add a deployment message (skipped)\n│")
        out(f"├ Deploying {len(traffic)} version(s)\n│")
        body = {"strategy": "percentage",
                "versions": [{"version_id": v, "percentage": js(p)} for v, p in traffic],
                "annotations": {"workers/message": message or ""}}  # the skipped prompt's answer: ""
        started = time.monotonic()
        created = call.api("POST", scripts(call, name) + "/deployments", content_type="application/json",
                           body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except ApiError as exc:
        return call.fail(exc)
    out("│ No non-versioned settings to sync. Skipping...\n│")
    seconds = time.monotonic() - started
    summary = " and ".join(f"version {v} at {js_number(p)}%" for v, p in traffic)
    out(f"╰\u200a SUCCESS \u200aDeployed {name} {summary} ({to_fixed(seconds, 2)} sec)")
    tag = None
    try:
        service = call.api("GET", f"/accounts/{call.account}/workers/services/{name}")
        tag = service["default_environment"]["script"]["tag"]
    except (ApiError, KeyError, TypeError):
        pass
    call.record({"type": "version-deploy", "version": 1, "worker_name": name, "worker_tag": tag,
                 "deployment_id": created.get("id") if isinstance(created, dict) else None, "version_traffic": {}})
    return 0


MIGRATIONS_TABLE_SQL = ("CREATE TABLE IF NOT EXISTS {table}(\n\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
                        "\t\tname       TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n);")
MIGRATIONS_READ_SQL = "SELECT *\n\t\tFROM {table}\n\t\tORDER BY id"
MIGRATION_RECORD_SQL = "\n\t\t\t\t\t\t\t\tINSERT INTO {table} (name)\n\t\t\t\t\t\t\t\tvalues ('{name}');\n\t\t\t\t\t\t"
# How wide wrangler's table counts each status (the clock carries a variation selector).
STATUS_WIDTH = {"\u2705": 2, "\u274c": 2, "\U0001f552\ufe0f": 3}
PENDING, APPLIED, FAILED = "\U0001f552\ufe0f", "\u2705", "\u274c"


def table(header: list[str], rows: list[list[str]]) -> str:
    """wrangler's logger.table: a box per cell, a rule between rows."""
    def width(cell: str) -> int:
        return STATUS_WIDTH.get(cell, len(cell))

    widths = [max(width(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "│" + "│".join(f" {c}{' ' * (w - width(c) - 1)}" for c, w in zip(cells, widths, strict=True)) + "│"

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * w for w in widths) + right

    parts = [rule("┌", "┬", "┐"), line(header)]
    for row in rows:
        parts += [rule("├", "┼", "┤"), line(row)]
    parts.append(rule("└", "┴", "┘"))
    return "\n".join(parts)


def d1_migrations(call: Call) -> int:
    """`d1 migrations list|apply DB --remote`: the ledger read, the pending files in wrangler's
    order, and (apply) one request per migration with its status table after each."""
    if len(call.words) != 4 or call.flags.get("--remote") is not True or set(call.flags) - {"--remote", "--config",
                                                                                                 "--env"}:
        raise Delegate
    applying = call.words[2] == "apply"
    arg = call.words[3]
    entry = call.database_entry(arg)
    database = call.database(arg)
    if entry.get("preview_database_id") or entry.get("migrations_dir") or entry.get("migrations_table"):
        raise Delegate
    folder = Path(call.string("--config") or "").parent / "migrations"
    try:
        files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    except OSError:
        raise Delegate from None
    if not all(re.fullmatch(r"\d+_[\x20-\x7e]*\.sql", f) and "'" not in f for f in files):
        raise Delegate
    if sorted(files, key=lambda f: int(f.split("_")[0])) != files:
        raise Delegate  # wrangler's list and apply orders differ then
    table_name = "d1_migrations"
    call.start()
    resource = f"/accounts/{call.account}/d1/database/{database}/query"

    def query(sql: str) -> Any:
        return call.api("POST", resource, content_type="application/json",
                        body=json.dumps({"sql": sql}, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    call.out("Resource location: remote \n")
    try:
        query(MIGRATIONS_TABLE_SQL.format(table=table_name))
        ledger = query(MIGRATIONS_READ_SQL.format(table=table_name))
    except ApiError as exc:
        return call.fail(exc, bare=True)
    try:
        applied = {row["name"] for row in ledger[0]["results"]}
    except (KeyError, IndexError, TypeError):
        raise Delegate from None
    pending = [f for f in files if f not in applied]
    if not pending:
        call.out("\u2705 No migrations to apply!")
        return 0
    call.out("Migrations to be applied:")
    if not applying:
        call.out(table(["Name"], [[f] for f in pending]))
        return 0
    call.out(table(["name"], [[f] for f in pending]))
    call.out(f"? About to apply {len(pending)} migration(s)\nYour database may not be available to serve requests "
             "during the migration, continue?\n🤖 Using fallback value in non-interactive context: yes")
    status = dict.fromkeys(pending, PENDING)
    for name in pending:
        try:
            sql = (folder / name).read_text("utf-8") + MIGRATION_RECORD_SQL.format(table=table_name, name=name)
        except (OSError, UnicodeDecodeError):
            raise Delegate from None
        call.out(f"🌀 Executing on remote database {arg} ({database}):")
        call.out("🌀 To execute on your local development database, remove the --remote flag from your wrangler "
                 "command.")
        notes: list[str] = []
        try:
            result = query(sql)
            total = sum(((r.get("meta") or {}).get("duration") or 0 for r in result), 0.0)
            count = f"{len(result)} commands" if len(result) != 1 else "1 command"
            call.out(f"🚣 Executed {count} in {to_fixed(total, 2)}ms")
            ok = all(r.get("success") for r in result)
        except ApiError as exc:
            ok = False
            notes = [f"{e.get('message')} [code: {e.get('code')}]" for e in exc.errors if isinstance(e, dict)]
        status[name] = APPLIED if ok else FAILED
        call.out(table(["name", "status"], [[f, status[f]] for f in pending]))
        if notes:
            call.err(f"{ERROR_PREFIX}Migration {name} failed with the following errors:\x1b[0m\n\n\n")
            return call.fail(UserError("\n".join(notes)))
    return 0


COMMANDS = {
    ("secret", "list"): secret_list,
    ("secret", "put"): secret_put,
    ("secret", "delete"): secret_delete,
    ("secret", "bulk"): secret_bulk,
    ("deployments", "status"): deployments,
    ("deployments", "list"): deployments,
    ("whoami",): whoami,
    ("d1", "execute"): d1_execute,
    ("d1", "time-travel", "info"): time_travel_info,
    ("versions", "deploy"): versions_deploy,
    ("d1", "migrations", "list"): d1_migrations,
    ("d1", "migrations", "apply"): d1_migrations,
}


class Unserved(Exception):
    """A path the double does not serve, found after stdin was read (``stdin``) but before any
    request that changed something: wrangler runs the whole call again, from the start."""

    def __init__(self, stdin: str) -> None:
        super().__init__("unserved")
        self.stdin = stdin


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas (wrangler.jsonc) to JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def main(argv: list[str]) -> int:
    if argv in (["--version"], ["-v"]):
        version = Call.__new__(Call)
        version.argv, version.environ, version.stdout, version.stderr, version.records = argv, os.environ, [], [], []
        version.start()
        version.out(VERSION)
        version.flush()
        return 0
    call: Call | None = None
    try:
        call = Call(argv)
        handler = next((h for words, h in COMMANDS.items() if tuple(call.words[:len(words)]) == words), None)
        if handler is None:
            raise Delegate
        code = handler(call)
    except Delegate:
        if call is not None:
            call.discard()
        real = os.environ[REAL_ENV]
        os.execv(real, [real, *argv])
    except Unserved as unserved:
        assert call is not None
        call.discard()
        fallback(call, unserved.stdin)
    call.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
