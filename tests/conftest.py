"""Shared fixtures: the real wrangler, the Cloudflare API emulator, an isolated environment
and a sample wrangler project. The emulator itself lives in ``cfemu.py``."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from skclaw import process, retry
from tests.cfemu import CloudflareEmulator
from tests.wrangler_double import VERSION as DOUBLE_VERSION

# Real OpenBao, gnome-keyring Secret Service and wrangler's .dev.vars loader.
pytest_plugins = ["tests.backends"]


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """An in-process Ctrl-C test leaves skclaw's 'no new child' flag set; clear it per test."""
    process.reset_abort()
    yield
    process.reset_abort()


# Only the keyring tests get a Secret Service (their own, on a private bus: backends.py). Every
# other test gets a session bus address that leads nowhere, so a code path that reaches for the
# default keyring can neither touch the developer's keyring nor start one on a CI session bus.
NO_SESSION_BUS = "unix:path=/nonexistent/skclaw-tests-have-no-session-bus"


@pytest.fixture(autouse=True)
def _no_session_bus(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "secret_service" not in request.fixturenames:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", NO_SESSION_BUS)


# Retries keep their attempts and budget (so retry behaviour stays what is tested) but wait
# milliseconds instead of seconds: in-process through the module policy, in skclaw children
# through the documented test knob (which can only shorten delays).
FAST_RETRIES = retry.DEFAULT_POLICY.with_delays_scaled(0.01)


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "POLICY", FAST_RETRIES)
    monkeypatch.setenv(retry.DELAY_SCALE_ENV, "0.01")


# ----------------------------------------------------------------------------- markers
# A test is marked by the real components it starts, read from the fixtures it uses, so a new
# test is marked without anyone remembering to: `-m "not wrangler and not pty"` is the inner loop.
MARKER_FIXTURES = {
    "wrangler": ("wrangler_bin", "real_wrangler_bin", "run_wrangler", "cf_env", "wrangler_dev_vars"),
    "vault": ("openbao",),
    "keyring": ("secret_service",),
}


def _drives_a_pty(item: pytest.Function) -> bool:
    """The test (or its module) uses pexpect: it drives a real pseudo-terminal."""
    code = item.function.__code__
    if "pexpect" in code.co_names or "pexpect" in code.co_varnames:
        return True
    return getattr(item.module, "pexpect", None) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        fixtures = set(item.fixturenames)
        for marker, names in MARKER_FIXTURES.items():
            if fixtures.intersection(names) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if item.get_closest_marker("pty") is None and _drives_a_pty(item):
            item.add_marker("pty")
    if config.getoption("numprocesses", None):
        # In parallel runs the slow tests (they start wrangler) go first, so the end of the run
        # is many short tests spread over the workers rather than one worker still on a long one.
        items.sort(key=lambda item: item.get_closest_marker("wrangler") is None)


REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WRANGLER = REPO_ROOT / ".tools" / "wrangler-4.86.0" / "node_modules" / ".bin" / "wrangler"

# Environment variables that would make wrangler (or skclaw) talk to something other than the
# emulator or pick another target; removed from the test environment. CI detection variables
# are deliberately left alone.
_SCRUBBED_PREFIXES = ("CLOUDFLARE_", "CF_", "WRANGLER_")

# ----------------------------------------------------------------------------- sample project
SAMPLE_TOP_NAME = "demo-worker"
SAMPLE_COMPATIBILITY_DATE = "2025-01-01"
SAMPLE_ENVS = ("staging", "production")
SAMPLE_WORKERS = {"staging": "demo-worker-staging", "production": "demo-worker-prod"}
SAMPLE_D1_BINDING = "DB"
SAMPLE_D1_NAMES = {"staging": "demo-staging-db", "production": "demo-prod-db"}
SAMPLE_D1_IDS = {
    "staging": "5c1e7a52-0b1d-4c6e-9a3f-00000000a001",
    "production": "5c1e7a52-0b1d-4c6e-9a3f-00000000a002",
}
SAMPLE_MIGRATION = "0001_create_users.sql"

SAMPLE_WRANGLER_JSONC = f"""\
// Sample project for skclaw's tests: two environments, one D1 database each.
// staging's Worker name is derived by wrangler (<name>-staging); production's is explicit.
{{
  "name": "{SAMPLE_TOP_NAME}",
  "main": "src/index.js",
  "compatibility_date": "{SAMPLE_COMPATIBILITY_DATE}",
  "env": {{
    "staging": {{
      "d1_databases": [
        {{
          "binding": "{SAMPLE_D1_BINDING}",
          "database_name": "{SAMPLE_D1_NAMES["staging"]}",
          "database_id": "{SAMPLE_D1_IDS["staging"]}",
        }},
      ],
    }},
    "production": {{
      "name": "{SAMPLE_WORKERS["production"]}",
      "d1_databases": [
        {{
          "binding": "{SAMPLE_D1_BINDING}",
          "database_name": "{SAMPLE_D1_NAMES["production"]}",
          "database_id": "{SAMPLE_D1_IDS["production"]}",
        }},
      ],
    }},
  }},
}}
"""

SAMPLE_MIGRATION_SQL = """\
-- Migration number: 0001
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_users_email ON users (email);
"""

SAMPLE_INDEX_JS = """\
export default {
  async fetch(request, env) {
    return new Response("hello from demo-worker");
  },
};
"""


@dataclass(frozen=True)
class D1Info:
    binding: str
    name: str
    id: str


@dataclass(frozen=True)
class SampleProject:
    path: Path
    config_path: Path
    migrations_dir: Path
    workers: dict[str, str]  # env -> Worker name
    d1: dict[str, D1Info]  # env -> its D1 binding

    @property
    def envs(self) -> tuple[str, ...]:
        return tuple(self.workers)

    def worker(self, env: str) -> str:
        return self.workers[env]

    def create_databases(self, emulator: CloudflareEmulator) -> None:
        """Create every environment's D1 database in the emulator."""
        for info in self.d1.values():
            emulator.create_d1(info.id, info.name)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def real_wrangler_bin() -> Path:
    """The real wrangler: $SKCLAW_TEST_WRANGLER or the pinned copy under .tools/."""
    configured = os.environ.get("SKCLAW_TEST_WRANGLER")
    path = Path(configured) if configured else DEFAULT_WRANGLER
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"wrangler not found at {path}: run scripts/test to install wrangler")
    return path


@pytest.fixture(scope="session")
def wrangler_double_bin(real_wrangler_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The wrangler double in front of the real wrangler, when the real one is the version it
    copies (not for scripts/compat-newest) and SKCLAW_TEST_DOUBLE is not 0."""
    if os.environ.get("SKCLAW_TEST_DOUBLE") == "0" or wrangler_version(real_wrangler_bin) != DOUBLE_VERSION:
        return None
    return make_wrangler_double(tmp_path_factory.mktemp("wrangler-double"), real_wrangler_bin)


@pytest.fixture
def wrangler_bin(request: pytest.FixtureRequest, real_wrangler_bin: Path, wrangler_double_bin: Path | None) -> Path:
    """The wrangler a test's skclaw runs: the double (tests/wrangler_double.py), which answers the
    common calls as wrangler 4.86 does (tests/test_wrangler_double.py holds it to that) and hands
    every other call to the real wrangler; the real wrangler itself for tests marked
    ``real_wrangler`` (the wrangler contract, project shapes, hostile input, leaks, end to end)."""
    if wrangler_double_bin is None or request.node.get_closest_marker("real_wrangler") is not None:
        return real_wrangler_bin
    return wrangler_double_bin


def wrangler_version(real: Path) -> str | None:
    """The version in the package.json of the wrangler install ``real`` (its bin) belongs to."""
    try:
        return str(json.loads((real.resolve().parent.parent / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def python_wrangler(package: Path, script: Path, real: Path, env: dict[str, str] | None = None) -> Path:
    """``script`` as `bin/wrangler` of a package that says which wrangler it stands in for, so
    skclaw reads the version from package.json (as for the real one) instead of probing it. It
    runs on this Python without site or PYTHON* variables: no pyenv shim, no coverage start-up."""
    version = wrangler_version(real)
    assert version is not None, f"no wrangler package.json for {real}"
    (package / "bin").mkdir(parents=True, exist_ok=True)
    (package / "package.json").write_text(json.dumps({"name": "wrangler", "version": version}))
    launcher = package / "bin" / "wrangler"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
    run = f"exec {shlex.quote(sys.executable)} -S -E {shlex.quote(str(script))} \"$@\"\n"
    launcher.write_text(f"#!/bin/sh\n{exports}{run}")
    launcher.chmod(0o755)
    return launcher


def make_wrangler_double(directory: Path, real: Path) -> Path:
    """A wrangler for tests (tests/wrangler_double.py) that answers the common calls itself and
    hands every other call to ``real``, laid out as an npm install."""
    python_wrangler(directory / "node_modules" / "wrangler", Path(__file__).with_name("wrangler_double.py"), real,
                    {"SKCLAW_DOUBLE_REAL_WRANGLER": str(real)})
    link = directory / "node_modules" / ".bin" / "wrangler"  # as npm links a package's bin
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(Path("..") / "wrangler" / "bin" / "wrangler")
    return link


@pytest.fixture(scope="session")
def node_code_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment that gives wrangler's bundle a V8 code cache (tests/node_code_cache.js), shared
    by the xdist workers of this run. The same wrangler code runs; it starts with less CPU.
    SKCLAW_TEST_NO_CODE_CACHE=1 turns it off."""
    if os.environ.get("SKCLAW_TEST_NO_CODE_CACHE") == "1":
        return {}
    base = tmp_path_factory.getbasetemp()
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "node-code-cache"
    directory.mkdir(exist_ok=True)
    preload = Path(__file__).with_name("node_code_cache.js")
    options = " ".join(filter(None, [os.environ.get("NODE_OPTIONS"), f'--require "{preload}"']))
    return {"NODE_OPTIONS": options, "SKCLAW_TEST_NODE_CODE_CACHE": str(directory)}


@pytest.fixture
def emulator() -> Iterator[CloudflareEmulator]:
    """A running Cloudflare API emulator. The test fails if wrangler called an endpoint the
    emulator does not know (set ``emulator.fail_on_unknown = False`` when that is expected) or
    if the emulator crashed."""
    with CloudflareEmulator() as cf:
        yield cf
        problems = list(cf.crashes)
        if cf.fail_on_unknown:
            problems += [f"unknown endpoint {r.method} {r.path}" for r in cf.unknown_requests]
        if problems:
            pytest.fail("Cloudflare emulator: " + "; ".join(problems))


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME and XDG_CONFIG_HOME (wrangler keeps its logs and OAuth state there)."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


@pytest.fixture
def cf_env(
    emulator: CloudflareEmulator,
    isolated_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    node_code_cache: dict[str, str],
) -> dict[str, str]:
    """Environment for running wrangler/skclaw against the emulator, also applied to
    os.environ (monkeypatch) so in-process CliRunner calls see it."""
    for key in list(os.environ):
        if key.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(key)
    cache = tmp_path / "wrangler-cache"
    cache.mkdir()
    settings = {
        "CLOUDFLARE_API_BASE_URL": emulator.base_url,
        "CLOUDFLARE_API_TOKEN": emulator.token,
        "CLOUDFLARE_ACCOUNT_ID": emulator.account_id,
        "WRANGLER_SEND_METRICS": "false",
        "WRANGLER_SEND_ERROR_REPORTS": "false",
        "WRANGLER_HIDE_BANNER": "true",
        "WRANGLER_CACHE_DIR": str(cache),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HOME": str(isolated_home),
        "XDG_CONFIG_HOME": str(isolated_home / ".config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **node_code_cache,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


@pytest.fixture
def sample_project(tmp_path: Path) -> SampleProject:
    """A wrangler project with `staging` and `production` environments (see SAMPLE_*)."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "migrations").mkdir()
    config = root / "wrangler.jsonc"
    config.write_text(SAMPLE_WRANGLER_JSONC)
    (root / "src" / "index.js").write_text(SAMPLE_INDEX_JS)
    (root / "migrations" / SAMPLE_MIGRATION).write_text(SAMPLE_MIGRATION_SQL)
    return SampleProject(
        path=root,
        config_path=config,
        migrations_dir=root / "migrations",
        workers=dict(SAMPLE_WORKERS),
        d1={
            env: D1Info(binding=SAMPLE_D1_BINDING, name=SAMPLE_D1_NAMES[env], id=SAMPLE_D1_IDS[env])
            for env in SAMPLE_ENVS
        },
    )


RunWrangler = Callable[..., "subprocess.CompletedProcess[str]"]


def run_wrangler_binary(
    wrangler: Path,
    args: Sequence[str],
    *,
    cwd: Path | str,
    env: dict[str, str],
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run wrangler with piped stdio (non-interactive); stdin is empty unless ``input`` is
    given. On timeout the whole process group is killed and TimeoutExpired propagates."""
    proc = subprocess.Popen(
        [str(wrangler), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture
def run_wrangler(real_wrangler_bin: Path) -> RunWrangler:
    """``run_wrangler(args, *, cwd, env, input=None, timeout=60) -> CompletedProcess[str]``."""

    def run(
        args: Sequence[str],
        *,
        cwd: Path | str,
        env: dict[str, str],
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return run_wrangler_binary(real_wrangler_bin, args, cwd=cwd, env=env, input=input, timeout=timeout)

    return run
