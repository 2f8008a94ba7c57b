"""The wrangler facade: discovery, versions, argv, failure classification, retries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from skclaw import process
from skclaw.errors import WranglerError, WranglerNotFoundError
from skclaw.retry import DEFAULT_POLICY, RetryPolicy, policy_for, with_retries
from skclaw.secrets.value import SecretValue
from skclaw.wrangler import (
    Wrangler,
    WranglerVersion,
    classify_failure,
    error_summary,
    find_wrangler,
    is_worker_not_found,
)
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject

# The wrangler contract itself: every call goes to the real wrangler, never the double.
pytestmark = pytest.mark.real_wrangler


def facade(project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str]) -> Wrangler:
    return Wrangler(wrangler_bin, config_path=project.config_path, cwd=project.path, environ=cf_env)


def test_secret_list_through_the_real_wrangler(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"), secrets={"B_KEY": "2", "A_KEY": "1"})
    w = facade(sample_project, wrangler_bin, cf_env | {"CLOUDFLARE_ENV": "production"})
    assert w.version == WranglerVersion(4, 86, 0)
    # CLOUDFLARE_ENV is scrubbed and --env is explicit, so staging is what is listed
    assert w.secret_names("staging") == ["A_KEY", "B_KEY"]
    argv = process.started_argv()[-1]
    assert argv[1:4] == ["secret", "list", "--format=json"]
    assert f"--config={sample_project.config_path}" in argv and "--env=staging" in argv


def test_429_is_transient_and_403_permanent(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"))
    w = facade(sample_project, wrangler_bin, cf_env)
    emulator.inject_fault("GET", r"/secrets$", status=429, code=971, message="Please slow down", times=-1)
    with pytest.raises(WranglerError) as rate:
        w.call(["secret", "list"], env="staging", what="list", retry=False)
    assert rate.value.code == 971 and rate.value.transient
    emulator.clear_faults()
    emulator.inject_fault("GET", r"/secrets$", status=403, code=10000, message="Authentication error", times=-1)
    with pytest.raises(WranglerError) as auth:
        w.call(["secret", "list"], env="staging", what="list", retry=False)
    assert auth.value.code == 10000 and not auth.value.transient
    assert auth.value.hint and "CLOUDFLARE_API_TOKEN" in auth.value.hint


def test_retry_recovers_from_two_429s(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.seed_worker(sample_project.worker("staging"), secrets={"K": "v"})
    fault = emulator.inject_fault("GET", r"/secrets$", status=429, code=971, times=2)
    w = facade(sample_project, wrangler_bin, cf_env)
    assert w.secret_names("staging") == ["K"]
    assert fault.hits == 2


def test_connection_refused_is_transient(
    sample_project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    env = cf_env | {"CLOUDFLARE_API_BASE_URL": "http://127.0.0.1:9/client/v4"}
    w = facade(sample_project, wrangler_bin, env)
    with pytest.raises(WranglerError) as info:
        w.call(["secret", "list"], env="staging", what="list", retry=False)
    assert info.value.transient


def test_missing_worker_is_recognised(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    with pytest.raises(WranglerError) as info:
        facade(sample_project, wrangler_bin, cf_env).secret_names("production")
    assert is_worker_not_found(info.value)


def test_classification_from_text() -> None:
    stderr = ("\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mA request to the Cloudflare API "
              "(/accounts/a/workers/scripts/w/secrets) failed.\x1b[0m\n\n  Too many requests [code: 971]\n\n"
              "  If you think this is a bug, please open an issue at: https://example\n\n🪵  Logs were written to x\n")
    assert "Too many requests [code: 971]" in error_summary(stderr)
    err = classify_failure("wrangler secret put K", 1, stderr, "", [])
    assert err.code == 971 and err.transient and "Too many requests [code: 971]" in err.message
    nd = classify_failure("x", 1, "✘ [ERROR] boom", "", [{"type": "command-failed", "code": 10013}])
    assert nd.code == 10013 and nd.transient
    perm = classify_failure("x", 1, "✘ [ERROR] Worker not found [code: 10007]", "", [])
    assert not perm.transient and is_worker_not_found(perm)
    net = classify_failure("x", 1, "✘ [ERROR] fetch failed", "", [])
    assert net.transient and net.code is None


def test_retry_helper_is_bounded() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def always_transient() -> None:
        calls.append(1)
        raise WranglerError("flaky", transient=True)

    with pytest.raises(WranglerError):
        with_retries(always_transient, what="x", policy=DEFAULT_POLICY, sleep=sleeps.append)
    assert len(calls) == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # the real backoff, not slept
    calls.clear()

    def permanent() -> None:
        calls.append(1)
        raise WranglerError("denied", transient=False)

    with pytest.raises(WranglerError):
        with_retries(permanent, what="x", sleep=sleeps.append)
    assert len(calls) == 1
    # a budget smaller than the next delay stops early
    calls.clear()
    with pytest.raises(WranglerError):
        with_retries(always_transient, what="x", policy=RetryPolicy(budget=0.0), sleep=lambda s: None)
    assert len(calls) == 1
    assert 0.5 <= DEFAULT_POLICY.delay(1) <= 1.0 and 2.0 <= DEFAULT_POLICY.delay(3) <= 4.0
    assert DEFAULT_POLICY.delay(10) <= 8.0  # capped


def test_retry_delay_knob_only_shortens_delays() -> None:
    """$SKCLAW_RETRY_DELAY_SCALE (a test knob) scales delays by a factor in [0, 1]; attempts and
    the budget never change, and any other value leaves the policy alone."""
    scaled = DEFAULT_POLICY.with_delays_scaled(0.01)
    assert (scaled.attempts, scaled.budget) == (DEFAULT_POLICY.attempts, DEFAULT_POLICY.budget)
    assert scaled.base_delay == pytest.approx(0.01) and scaled.max_delay == pytest.approx(0.08)
    assert DEFAULT_POLICY.with_delays_scaled(50) == DEFAULT_POLICY
    zero = DEFAULT_POLICY.with_delays_scaled(-1)
    assert zero.delay(1) == 0 and zero.attempts == 3
    base = policy_for({})
    for ignored in ("", "fast", "2", "-0.5", "nan"):
        assert policy_for({"SKCLAW_RETRY_DELAY_SCALE": ignored}) == base, ignored
    assert policy_for({"SKCLAW_RETRY_DELAY_SCALE": "0.5"}) == base.with_delays_scaled(0.5)

    calls: list[int] = []
    sleeps: list[float] = []

    def always_transient() -> None:
        calls.append(1)
        raise WranglerError("flaky", transient=True)

    with pytest.raises(WranglerError):
        with_retries(always_transient, what="x", policy=DEFAULT_POLICY.with_delays_scaled(0), sleep=sleeps.append)
    assert len(calls) == 3 and sleeps == [0.0, 0.0]  # still bounded, still three attempts


def test_versions_and_features() -> None:
    assert WranglerVersion.parse(" ⛅️ wrangler 4.86.0") == WranglerVersion(4, 86, 0)
    old, mid, new = WranglerVersion(3, 50, 0), WranglerVersion(4, 86, 0), WranglerVersion(4, 164, 0)
    assert not old.bulk_stdin_json and mid.bulk_stdin_json
    assert mid.secrets_file and not WranglerVersion(4, 73, 9).secrets_file
    assert not mid.bulk_null_deletes and new.bulk_null_deletes


def fake_wrangler(path: Path, version: str) -> Path:
    path.write_text(f"#!/bin/sh\necho '{version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_discovery_order(tmp_path: Path) -> None:
    explicit = fake_wrangler(tmp_path / "w-explicit", "4.90.0")
    env_one = fake_wrangler(tmp_path / "w-env", "4.90.0")
    local = tmp_path / "proj" / "node_modules" / ".bin"
    local.mkdir(parents=True)
    fake_wrangler(local / "wrangler", "4.90.0")
    on_path = tmp_path / "bin"
    on_path.mkdir()
    fake_wrangler(on_path / "wrangler", "4.90.0")
    environ = {"SKCLAW_WRANGLER": str(env_one), "PATH": str(on_path)}
    assert find_wrangler(str(explicit), environ, tmp_path / "proj") == (explicit, "--wrangler")
    assert find_wrangler(None, environ, tmp_path / "proj") == (env_one, "SKCLAW_WRANGLER")
    environ.pop("SKCLAW_WRANGLER")
    assert find_wrangler(None, environ, tmp_path / "proj")[1] == "node_modules/.bin"
    assert find_wrangler(None, environ, tmp_path / "other") == (on_path / "wrangler", "PATH")
    with pytest.raises(WranglerNotFoundError, match="not found") as info:
        find_wrangler(None, {"PATH": str(tmp_path / "empty")}, tmp_path / "other")
    assert "npm i -D wrangler" in str(info.value)
    with pytest.raises(WranglerNotFoundError, match="not an executable"):
        find_wrangler(str(tmp_path / "missing"), {}, tmp_path)


def test_ancient_wrangler_is_refused(tmp_path: Path) -> None:
    old = fake_wrangler(tmp_path / "wrangler", "3.10.0")
    config = tmp_path / "wrangler.jsonc"
    config.write_text('{"name": "x"}')
    w = Wrangler(old, config_path=config, cwd=tmp_path, environ=dict(os.environ))
    with pytest.raises(WranglerNotFoundError, match="too old") as info:
        w.call(["secret", "list"], env="default", what="list")
    assert "npm i -D wrangler@4" in str(info.value)


def test_hanging_wrangler_times_out(tmp_path: Path) -> None:
    hang = tmp_path / "wrangler"
    hang.write_text("#!/bin/sh\ncase \"$1\" in --version) echo 4.86.0;; *) sleep 60;; esac\n")
    hang.chmod(0o755)
    config = tmp_path / "wrangler.jsonc"
    config.write_text('{"name": "x"}')
    w = Wrangler(hang, config_path=config, cwd=tmp_path, environ=dict(os.environ), timeout=1.5)
    with pytest.raises(WranglerError, match="timed out") as info:
        w.call(["secret", "list"], env="default", what="wrangler secret list", retry=False)
    assert info.value.transient


def scripted_wrangler(tmp_path: Path, commands: str) -> Wrangler:
    """A facade over a shell script that answers `--version` as 4.86.0 and runs ``commands``
    (after reading stdin) for everything else."""
    script = tmp_path / "wrangler"
    script.write_text(f"#!/bin/sh\ncase \"$1\" in --version) echo 4.86.0; exit 0;; esac\ncat >/dev/null\n{commands}\n")
    script.chmod(0o755)
    config = tmp_path / "wrangler.jsonc"
    config.write_text('{"name": "x"}')
    return Wrangler(script, config_path=config, cwd=tmp_path, environ=dict(os.environ))


@pytest.mark.parametrize("says", ["", "🌀 Creating the secrets for the Worker \"x\"\n"])
def test_a_secret_write_that_exits_0_without_its_success_line_is_an_error(tmp_path: Path, says: str) -> None:
    """What wrangler's launcher reports when the node process doing the write is killed: exit 0,
    output cut short. Each write needs its own success line (the same from 4.86 to the newest)."""
    w = scripted_wrangler(tmp_path, f"printf '{says}'")
    writes = {
        "wrangler secret bulk": lambda: w.secret_bulk("staging", {"K": SecretValue("v")}),
        "wrangler secret put K": lambda: w.secret_put("staging", "K", SecretValue("v")),
        "wrangler secret delete K": lambda: w.secret_delete("staging", "K"),
    }
    for what, write in writes.items():
        with pytest.raises(WranglerError) as info:
            write()
        assert info.value.message.startswith(f"{what} exited 0 without reporting success")
        assert "whether the change reached staging is unknown. Run it again" in info.value.message
        assert not info.value.transient


def test_a_secret_write_that_prints_its_success_line_is_taken(tmp_path: Path) -> None:
    lines = {"bulk": "Finished processing secrets file:", "put": "✨ Success! Uploaded secret K",
             "delete": "✨ Success! Deleted secret K"}
    w = scripted_wrangler(tmp_path, "case \"$2\" in\n" + "".join(f"  {word}) echo '{line}';;\n"
                                                               for word, line in lines.items()) + "esac")
    assert "Finished processing" in w.secret_bulk("staging", {"K": SecretValue("v")}).stdout
    assert "Uploaded secret K" in w.secret_put("staging", "K", SecretValue("v")).stdout
    assert "Deleted secret K" in w.secret_delete("staging", "K").stdout
    (tmp_path / "3x").mkdir()  # wrangler before 3.101
    older = scripted_wrangler(tmp_path / "3x", "echo 'Finished processing secrets JSON file:'")
    assert "JSON file" in older.secret_bulk("staging", {"K": SecretValue("v")}).stdout


def test_a_traffic_change_that_exits_0_without_reporting_the_deployment_is_an_error(tmp_path: Path) -> None:
    w = scripted_wrangler(tmp_path, "echo '├ Deploying 1 version(s)'")
    version = "0b1d5c1e-7a52-4c6e-9a3f-00000000b001"
    with pytest.raises(WranglerError, match="without reporting the deployment") as info:
        w.versions_deploy("production", [(version, 100.0)])
    assert "whether traffic moved on production is unknown" in info.value.message
    assert "skclaw status --env production" in (info.value.hint or "")


def test_a_d1_write_that_exits_0_without_its_result_is_an_error(tmp_path: Path) -> None:
    w = scripted_wrangler(tmp_path, "echo '🌀 Executing'")
    with pytest.raises(WranglerError, match="whether the write happened is unknown") as info:
        w.d1_execute("production", "DB", "DELETE FROM t WHERE id = 1;", remote=True, what="recording checksums")
    assert info.value.message.startswith("recording checksums: wrangler d1 execute exited 0 without")


def test_retry_delay_knob_reaches_wrangler_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the real policy (waits of 0.5-1 s, then 1-2 s) with SKCLAW_RETRY_DELAY_SCALE=0, a
    wrangler that keeps failing transiently is still run three times, only without the waits."""
    import time

    from skclaw import retry

    monkeypatch.setattr(retry, "POLICY", DEFAULT_POLICY)
    runs = tmp_path / "runs"
    flaky = tmp_path / "wrangler"
    flaky.write_text(
        "#!/bin/sh\n"
        'case "$1" in --version) echo 4.86.0; exit 0;; esac\n'
        f'echo run >> "{runs}"\n'
        'echo "✘ [ERROR] A request to the Cloudflare API failed. [code: 10013]" >&2\n'
        "exit 1\n"
    )
    flaky.chmod(0o755)
    config = tmp_path / "wrangler.jsonc"
    config.write_text('{"name": "x"}')
    environ = {"PATH": os.environ["PATH"], "SKCLAW_RETRY_DELAY_SCALE": "0"}
    w = Wrangler(flaky, config_path=config, cwd=tmp_path, environ=environ)
    started = time.monotonic()
    with pytest.raises(WranglerError) as info:
        w.call(["secret", "list"], env="default", what="wrangler secret list")
    assert info.value.transient and info.value.code == 10013
    assert runs.read_text().splitlines() == ["run"] * 3
    assert time.monotonic() - started < 1.4  # the real waits alone add up to at least 1.5 s


def test_the_version_of_a_shell_script_shim_comes_from_the_sibling_package(tmp_path: Path) -> None:
    """pnpm's node_modules/.bin/wrangler is a shell script, not a symlink: no `--version` start."""
    from skclaw.wrangler.core import _version_from_package

    modules = tmp_path / "node_modules"
    (modules / ".bin").mkdir(parents=True)
    (modules / "wrangler").mkdir()
    (modules / "wrangler" / "package.json").write_text('{"name": "wrangler", "version": "4.86.0"}')
    shim = modules / ".bin" / "wrangler"
    shim.write_text('#!/bin/sh\nexec node "$(dirname "$0")/../wrangler/bin/wrangler.js" "$@"\n')
    shim.chmod(0o755)
    assert _version_from_package(shim) == WranglerVersion(4, 86, 0)
    elsewhere = tmp_path / "bin" / "wrangler"  # a wrapper outside node_modules: probed with --version
    elsewhere.parent.mkdir()
    elsewhere.write_text("#!/bin/sh\n")
    assert _version_from_package(elsewhere) is None


def test_the_ledger_read_starts_with_wranglers_own_bootstrap() -> None:
    """skclaw's one `d1 execute` of state sends what `d1 migrations list` sends first, then reads."""
    from skclaw.wrangler.d1 import ledger_bootstrap_sql, ledger_select_sql
    from tests.hardening import MIGRATIONS_BOOTSTRAP

    assert ledger_bootstrap_sql("d1_migrations").replace('"', "").startswith(MIGRATIONS_BOOTSTRAP)
    assert ledger_select_sql('odd"name') == 'SELECT name FROM "odd""name" ORDER BY id;'
