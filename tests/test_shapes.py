"""Real project shapes (tests/shapes.py) end to end: the real wrangler against the emulator.

Each test asserts what a user would notice: the exit code, the Worker that was reached (or that
nothing was reached), and what the emulator received.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skclaw.project import find_wrangler_config, load_project
from skclaw.wrangler import find_wrangler
from tests.cfemu import CloudflareEmulator
from tests.shapes import Shape, build_shape
from tests.skrun import Run, skclaw

# Project shapes are how wrangler reads a config: the real wrangler, never the double.
pytestmark = pytest.mark.real_wrangler


def shape(tmp_path: Path, name: str, wrangler: Path | None = None) -> Shape:
    return build_shape(name, tmp_path / name, wrangler=wrangler)


def envfile_config(shape: Shape, values: dict[str, dict[str, str]], **extra: object) -> None:
    """A .skclaw.jsonc reading API_KEY from .secrets/<env>.env, and those files."""
    config = {"secrets": {"required": ["API_KEY"], "source": "envfile"}, **extra}
    (shape.run_dir / ".skclaw.jsonc").write_text(json.dumps(config))
    (shape.run_dir / ".secrets").mkdir(exist_ok=True)
    for env, pairs in values.items():
        path = shape.run_dir / ".secrets" / f"{env}.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in pairs.items()))
        path.chmod(0o600)


def error_of(run: Run) -> str:
    return str(run.envelope["error"]["message"])


# ----------------------------------------------------------------------------- env names

BAD_NAMES = ["", "..", "../x", "/", " staging", "stag ing", "a\tb", "x\x1b[31m", "-rf", "_x"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_a_bad_env_name_is_exit_2_before_anything_is_read_or_written(
    tmp_path: Path, bad: str, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "single-toml")
    envfile_config(project, {"default": {"API_KEY": "v"}})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for args in (["secrets", "sync", "--local", "--env", bad, "--json"], ["deploy", "--env", bad, "--json"]):
        run = skclaw(args, project=project.run_dir, wrangler=wrangler_bin)
        assert run.code == 2, run.output
        assert "Invalid environment name" in error_of(run)
    env_run = skclaw(["secrets", "sync", "--local", "--json"], project=project.run_dir, wrangler=wrangler_bin,
                     env={"SKCLAW_ENV": bad})
    assert env_run.code == 2 and "SKCLAW_ENV" in error_of(env_run)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written
    assert emulator.requests == []


def test_a_bad_env_name_in_the_wrangler_config_never_reaches_the_top_level_worker(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "bad-env-name")
    emulator.seed_worker("bad-env", secrets={"KEEP": "1"})
    envfile_config(project, {"staging": {"API_KEY": "v"}})
    for args in (["secrets", "sync", "--all-envs", "--yes", "--json"], ["doctor", "--json"],
                 ["secrets", "list", "--env", "staging", "--json"]):
        run = skclaw(args, project=project.run_dir, wrangler=wrangler_bin)
        assert run.code == 2, run.output
        assert "Invalid environment name ''" in error_of(run)
    assert emulator.secrets("bad-env") == {"KEEP": "1"}
    assert emulator.mutating_requests() == []


# ----------------------------------------------------------------------------- unnamed top level


def test_unnamed_top_level_is_not_an_environment(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "unnamed-top")
    for env in ("staging", "production"):
        emulator.seed_worker(project.worker(env))
    envfile_config(project, {"staging": {"API_KEY": "s-1"}, "production": {"API_KEY": "p-1"}})

    synced = skclaw(["secrets", "sync", "--all-envs", "--yes", "--json"], project=project.run_dir,
                    wrangler=wrangler_bin)
    assert synced.code == 0, synced.output
    assert set(synced.envelope["result"]["environments"]) == {"staging", "production"}
    assert emulator.secrets("tenant-api-staging") == {"API_KEY": "s-1"}
    assert emulator.secrets("tenant-api") == {"API_KEY": "p-1"}

    for args in (["secrets", "list", "--json"], ["status", "--env", "default", "--json"],
                 ["deploy", "--dry-run", "--json"]):
        run = skclaw(args, project=project.run_dir, wrangler=wrangler_bin)
        assert run.code == 2, run.output
        assert "not an environment" in error_of(run) and "--env: production, staging" in error_of(run)

    doctor = skclaw(["doctor", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert doctor.code == 0, doctor.output
    assert set(doctor.envelope["result"]["environments"]) == {"staging", "production"}


def test_envs_of_skclaw_config_choose_the_projects_envs(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "d1-toml")
    envfile_config(project, {"staging": {"API_KEY": "s"}}, envs=["staging"])
    doctor = skclaw(["doctor", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert doctor.code == 0, doctor.output
    assert list(doctor.envelope["result"]["environments"]) == ["staging"]
    emulator.seed_worker("d1-app-staging")
    status = skclaw(["status", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert status.code == 0, status.output
    assert list(status.envelope["result"]["environments"]) == ["staging"]

    emulator.clear_requests()
    envfile_config(project, {}, envs=["staging", "qa"])
    typo = skclaw(["status", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert typo.code == 2 and "'qa'" in error_of(typo)
    assert emulator.requests == []


# ----------------------------------------------------------------------------- not Workers

NOT_WORKERS_COMMANDS = [
    ["secrets", "list"], ["secrets", "sync", "--all-envs", "--yes"], ["deploy", "--dry-run"], ["status"],
    ["rollback", "--yes"], ["migrate", "--list"], ["init", "--yes", "--source", "envfile"], ["doctor"],
]


@pytest.mark.parametrize(("name", "says"), [("pages", "Pages project"), ("legacy-env", "legacy_env = false")])
def test_pages_and_service_environments_are_exit_2_everywhere(
    tmp_path: Path, name: str, says: str, wrangler_bin: Path, cf_env: dict[str, str],
    emulator: CloudflareEmulator,
) -> None:
    project = shape(tmp_path, name)
    for args in NOT_WORKERS_COMMANDS:
        run = skclaw([*args, "--json"], project=project.run_dir, wrangler=wrangler_bin)
        assert run.code == 2, (args, run.output)
        assert says in error_of(run) and "Workers" in error_of(run), args
        assert "all checks passed" not in run.output
    assert not (project.run_dir / ".skclaw.jsonc").exists()
    assert emulator.requests == []  # no Worker name was invented and asked for


# ----------------------------------------------------------------------------- monorepos


def test_workspace_package_deploys_with_the_root_wrangler(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = shape(tmp_path, "workspace", wrangler=wrangler_bin)
    monkeypatch.delenv("SKCLAW_WRANGLER", raising=False)
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")  # node, but no wrangler on PATH
    found, origin = find_wrangler(None, {}, project.run_dir / "src")
    assert found == project.root / "node_modules" / ".bin" / "wrangler" and origin == "node_modules/.bin"

    # The package's .skclaw.jsonc holds even from a subdir: its protected env needs consent.
    (project.run_dir / ".skclaw.jsonc").write_text('{"protectedEnvironments": ["staging"]}')
    refused = skclaw(["deploy", "--env", "staging", "--json"], project=project.run_dir / "src")
    assert refused.code == 3, refused.output
    assert emulator.mutating_requests() == []

    # From the package dir and from a subdir of it (wrangler finds the config upwards too).
    for run_dir in (project.run_dir, project.run_dir / "src"):
        run = skclaw(["deploy", "--env", "staging", "--yes", "--json"], project=run_dir)
        assert run.code == 0, run.output
        assert run.envelope["result"]["worker"] == "mono-api-staging"
    audit = (project.run_dir / ".skclaw" / "audit.jsonl").read_text().splitlines()
    assert len(audit) == 2 and not (project.run_dir / "src" / ".skclaw").exists()
    assert b"mono-api" in emulator.uploaded_modules("mono-api-staging")["index.js"]
    assert len(emulator.deployments("mono-api-staging")) == 2
    assert not emulator.worker_exists("mono-api") and not emulator.worker_exists("mono-api-prod")
    status = skclaw(["status", "--env", "staging", "--json"], project=project.run_dir / "src")
    assert status.code == 0 and status.envelope["result"]["environments"]["staging"]["worker"] == "mono-api-staging"


def test_config_search_follows_wranglers_order(tmp_path: Path) -> None:
    # Each name is searched all the way up before the next: x/wrangler.json beats x/sub/wrangler.jsonc.
    (tmp_path / "x" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "x" / "wrangler.json").write_text('{"name": "outer"}')
    (tmp_path / "x" / "sub" / "wrangler.jsonc").write_text('{"name": "inner"}')
    (tmp_path / "x" / "sub" / "deeper" / "wrangler.toml").write_text('name = "deepest"')
    (tmp_path / "x" / "sub" / "deeper" / "wrangler.json").mkdir()  # a directory is passed over
    assert find_wrangler_config(tmp_path / "x" / "sub" / "deeper", None) == tmp_path / "x" / "wrangler.json"
    assert load_project(tmp_path / "x" / "sub", None).resolve("default").worker == "outer"


def test_config_search_agrees_with_the_real_wrangler(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], run_wrangler: object
) -> None:
    (tmp_path / "x" / "sub" / "src").mkdir(parents=True)
    (tmp_path / "x" / "wrangler.json").write_text(
        '{"name": "outer", "main": "sub/src/index.js", "compatibility_date": "2025-01-01"}')
    (tmp_path / "x" / "sub" / "wrangler.jsonc").write_text(
        '{"name": "inner", "main": "src/index.js", "compatibility_date": "2025-01-01"}')
    (tmp_path / "x" / "sub" / "src" / "index.js").write_text("export default { fetch() {} };\n")
    out = tmp_path / "out.ndjson"
    assert callable(run_wrangler)
    done = run_wrangler(["deploy", "--dry-run", "--outdir", str(tmp_path / "o")], cwd=tmp_path / "x" / "sub",
                        env={**cf_env, "WRANGLER_OUTPUT_FILE_PATH": str(out)})
    assert done.returncode == 0, done.stderr
    record = [json.loads(line) for line in out.read_text().splitlines() if '"deploy"' in line][-1]
    ours = skclaw(["deploy", "--dry-run", "--json"], project=tmp_path / "x" / "sub", wrangler=wrangler_bin)
    assert ours.code == 0, ours.output
    assert ours.envelope["result"]["worker"] == record["worker_name"] == "outer"


# ----------------------------------------------------------------------------- redirected builds


def test_redirected_build_deploys_the_built_module_under_the_builds_name(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "vite-redirect")
    emulator.seed_worker("vite-app-staging", secrets={"API_KEY": "old"})
    envfile_config(project, {"staging": {"API_KEY": "new"}})
    run = skclaw(["deploy", "--env", "staging", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert run.code == 0, run.output
    result = run.envelope["result"]
    assert result["worker"] == "vite-app-staging"
    assert result["config"] == str(project.root / "dist" / "vite_app" / "wrangler.json")
    modules = emulator.uploaded_modules("vite-app-staging")
    assert b"BUILT-BY-VITE" in b"".join(modules.values())
    assert b"SOURCE-NOT-BUILT" not in b"".join(modules.values())
    assert not emulator.worker_exists("vite-app-staging-staging")  # what --config + --env=staging would hit

    # Secrets, status and rollback address the same Worker as deploy.
    listed = skclaw(["secrets", "list", "--env", "staging", "--json"], project=project.run_dir,
                    wrangler=wrangler_bin)
    assert listed.code == 0, listed.output
    assert listed.envelope["result"]["environments"]["staging"]["worker"] == "vite-app-staging"
    assert listed.envelope["result"]["environments"]["staging"]["workerExists"] is True
    status = skclaw(["status", "--env", "staging", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert status.code == 0, status.output
    assert status.envelope["result"]["environments"]["staging"]["deployment"]["versions"][0]["versionId"] == \
        result["versionId"]
    back = skclaw(["rollback", "--env", "staging", "--yes", "--json"], project=project.run_dir,
                  wrangler=wrangler_bin)
    assert back.code == 0, back.output
    assert back.envelope["result"]["worker"] == "vite-app-staging"


@pytest.mark.parametrize("env_args", [["--env", "production"], []])
def test_redirected_build_refuses_another_env_before_any_request(
    tmp_path: Path, env_args: list[str], wrangler_bin: Path, cf_env: dict[str, str],
    emulator: CloudflareEmulator,
) -> None:
    project = shape(tmp_path, "vite-redirect")
    for dry in ([], ["--dry-run"]):
        run = skclaw(["deploy", *env_args, *dry, "--yes", "--json"], project=project.run_dir,
                     wrangler=wrangler_bin)
        assert run.code == 2, run.output
        assert "was made for staging" in error_of(run)
    assert emulator.requests == []


def test_redirect_is_found_from_a_subdir_and_a_stale_one_is_exit_2(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "vite-redirect")
    (project.root / "src" / "deep").mkdir()
    dry = skclaw(["deploy", "--env", "staging", "--dry-run", "--json"], project=project.root / "src" / "deep",
                 wrangler=wrangler_bin)
    assert dry.code == 0, dry.output
    assert dry.envelope["result"]["worker"] == "vite-app-staging"
    assert "index.js" in dry.envelope["result"]["bundle"]["files"]
    (project.root / "dist" / "vite_app" / "wrangler.json").unlink()
    stale = skclaw(["deploy", "--env", "staging", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert stale.code == 2 and "does not exist" in error_of(stale)
    assert emulator.requests == []


# ----------------------------------------------------------------------------- wrangler's build


def test_wranglers_own_build_command_is_reported_and_still_runs_with_skip_build(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    project = shape(tmp_path, "custom-build")
    run = skclaw(["deploy", "--dry-run", "--skip-build", "--json"], project=project.run_dir,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.output
    assert run.envelope["result"]["wranglerBuild"] == "node build.mjs"
    assert "node build.mjs" in run.stderr and "--skip-build" in run.stderr
    assert (project.run_dir / "build" / ".ran").exists()  # wrangler ran it, as skclaw said
    helped = skclaw(["deploy", "--help"])
    assert "build.command" in " ".join(helped.stdout.split())


# ----------------------------------------------------------------------------- plain shapes


def test_toml_shapes_sync_and_list(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    single = shape(tmp_path, "single-toml")
    emulator.seed_worker("hello-toml")
    envfile_config(single, {"default": {"API_KEY": "t-1"}})
    run = skclaw(["secrets", "sync", "--yes", "--json"], project=single.run_dir, wrangler=wrangler_bin)
    assert run.code == 0, run.output
    assert emulator.secrets("hello-toml") == {"API_KEY": "t-1"}

    d1 = shape(tmp_path, "d1-toml")
    emulator.seed_worker("d1-app-live")
    envfile_config(d1, {"production": {"API_KEY": "p"}})
    listed = skclaw(["secrets", "list", "--env", "production", "--json"], project=d1.run_dir,
                    wrangler=wrangler_bin)
    assert listed.code == 0, listed.output
    assert listed.envelope["result"]["environments"]["production"]["worker"] == "d1-app-live"
    target = load_project(d1.run_dir, None).resolve("staging")
    assert [db.binding for db in target.d1_databases] == ["DB", "AUDIT"]
    assert target.d1_databases[0].migrations_dir == d1.root / "db" / "migrations"


# ----------------------------------------------------------------------------- newcomer findings


def test_doctor_verifies_the_token_and_prints_its_report_on_stdout(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = shape(tmp_path, "single-toml")
    envfile_config(project, {"default": {"API_KEY": "v"}})
    good = skclaw(["doctor"], project=project.run_dir, wrangler=wrangler_bin)
    assert good.code == 0, good.output
    assert re.search(r"auth +API token \(environment\); verified with Cloudflare", good.stdout)  # stdout
    assert re.search(rf"account +Test Account \({emulator.account_id}\)", good.stdout)
    assert "FAIL" not in good.stdout and "error" not in good.stderr
    assert emulator.requests_to("GET", r"^/user/tokens/verify$")

    emulator.set_token_valid(False)  # a fake token
    fake = skclaw(["doctor", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert fake.code == 1 and "all checks passed" not in fake.output
    auth = {c["name"]: c for c in fake.envelope["result"]["checks"]}["auth"]
    assert auth["status"] == "fail" and "did not accept" in auth["detail"]

    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9/client/v4")  # offline
    offline = skclaw(["doctor", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert offline.code == 1 and "all checks passed" not in offline.output
    auth = {c["name"]: c for c in offline.envelope["result"]["checks"]}["auth"]
    assert auth["status"] == "fail" and "could not be reached" in auth["detail"]


def test_missing_credentials_say_what_did_not_happen(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = shape(tmp_path, "single-toml")
    envfile_config(project, {"default": {"API_KEY": "v"}})
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    dry = skclaw(["secrets", "sync", "--dry-run"], project=project.run_dir, wrangler=wrangler_bin)
    assert dry.code == 1 and "A dry run still reads Cloudflare" in dry.stderr
    back = skclaw(["rollback", "--yes"], project=project.run_dir, wrangler=wrangler_bin)
    assert back.code == 1 and "nothing was rolled back" in back.stderr
    assert "nothing was deployed" not in back.stderr and "--dry-run" not in back.stderr
    assert emulator.requests == []


def test_environ_source_hint_does_not_say_secrets_set(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    project = shape(tmp_path, "single-toml")
    (project.run_dir / ".skclaw.jsonc").write_text(
        '{"secrets": {"required": ["NOT_SET_ANYWHERE"], "source": "environ"}}')
    run = skclaw(["secrets", "sync", "--yes"], project=project.run_dir, wrangler=wrangler_bin)
    assert run.code == 1 and "read-only" in run.stderr and "secrets set" not in run.stderr


def test_init_ignores_wrangler_state_and_writes_the_chosen_envs(tmp_path: Path) -> None:
    project = shape(tmp_path, "d1-toml")
    run = skclaw(["init", "--env", "staging", "--source", "envfile", "--json"], project=project.run_dir)
    assert run.code == 0, run.output
    assert ".wrangler/" in (project.run_dir / ".gitignore").read_text().splitlines()
    assert load_project(project.run_dir, None, envs=["staging"]).all_envs == ["staging"]
    import pyjson5

    assert pyjson5.decode((project.run_dir / ".skclaw.jsonc").read_text())["envs"] == ["staging"]
    unnamed = shape(tmp_path, "unnamed-top")
    listed = skclaw(["init", "--source", "envfile", "--json"], project=unnamed.run_dir)
    assert listed.code == 0 and listed.envelope["result"]["environments"] == ["production", "staging"]
    assert "1 environment," in skclaw(["init", "--yes", "--env", "staging"], project=unnamed.run_dir).stderr


def test_deploy_plan_names_wranglers_build_and_the_redirected_build(tmp_path: Path) -> None:
    from skclaw.commands.deploy import consent_lines
    from skclaw.context import ActionOptions, AppContext, GlobalOptions

    def plan(project: Shape, env: str) -> str:
        app = AppContext(GlobalOptions(project_dir=project.run_dir), ActionOptions(), command="deploy",
                         environ={}, interactive=False)
        result = {"wranglerBuild": app.project.wrangler_build(env), "secrets": []}
        return "\n".join(consent_lines(app, app.target(env), result))

    custom = plan(shape(tmp_path, "custom-build"), "default")
    assert "wrangler build: node build.mjs (wrangler runs it during deploy, also with --skip-build)" in custom
    vite = shape(tmp_path, "vite-redirect")
    built = plan(vite, "staging")
    assert "Worker:   vite-app-staging" in built
    assert f"the build in {vite.root / 'dist' / 'vite_app' / 'wrangler.json'} (main: index.js" in built


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"dist/vite_app/wrangler.json": json.dumps({"name": "x", "env": {"staging": {}}})}, "must be flat"),
        ({"dist/vite_app/wrangler.json": json.dumps({"name": "x", "targetEnvironment": "qa"})},
         "Unknown environment 'qa'"),
        ({"dist/vite_app/wrangler.json": json.dumps({"name": "x", "targetEnvironment": "../x"})},
         "Invalid environment name"),
        ({".wrangler/deploy/config.json": "{}"}, 'no "configPath"'),
        ({".wrangler/deploy/config.json": "{broken"}, "deploy redirect"),
        ({"dist/vite_app/wrangler.json": json.dumps({"name": "x", "pages_build_output_dir": "d"})}, "Pages"),
    ],
)
def test_broken_redirects_are_exit_2(tmp_path: Path, change: dict[str, str], says: str) -> None:
    project = shape(tmp_path, "vite-redirect")
    for rel, text in change.items():
        (project.root / rel).write_text(text)
    run = skclaw(["deploy", "--env", "staging", "--dry-run", "--json"], project=project.run_dir)
    assert run.code == 2, run.output
    assert says in error_of(run)


def test_a_redirect_that_is_not_beside_the_config_is_exit_2(tmp_path: Path) -> None:
    # A package's wrangler config under a root that holds another build's redirect: wrangler
    # cannot tell which to deploy and refuses; so does skclaw.
    project = shape(tmp_path, "vite-redirect")
    package = project.root / "packages" / "api"
    package.mkdir(parents=True)
    (package / "wrangler.jsonc").write_text('{"name": "api", "main": "i.js", "compatibility_date": "2025-01-01"}')
    run = skclaw(["deploy", "--dry-run", "--json"], project=package)
    assert run.code == 2 and "do not share a base directory" in error_of(run)

    # wrangler's search order: a wrangler.jsonc higher up beats the package's wrangler.toml.
    (package / "wrangler.jsonc").rename(package / "wrangler.toml")
    assert find_wrangler_config(package, None) == project.root / "wrangler.jsonc"


def test_a_build_without_a_user_config_is_deployed_as_wrangler_deploys_it(
    tmp_path: Path, wrangler_bin: Path, cf_env: dict[str, str], emulator: CloudflareEmulator
) -> None:
    # Frameworks (Nitro, Astro, ...) may leave only the redirect and the built config.
    project = shape(tmp_path, "vite-redirect")
    (project.root / "wrangler.jsonc").unlink()
    run = skclaw(["deploy", "--env", "staging", "--json"], project=project.run_dir, wrangler=wrangler_bin)
    assert run.code == 0, run.output
    assert run.envelope["result"]["worker"] == "vite-app-staging"
    assert b"BUILT-BY-VITE" in b"".join(emulator.uploaded_modules("vite-app-staging").values())
    for args in (["deploy", "--env", "production"], ["deploy"], ["status"]):
        refused = skclaw([*args, "--json"], project=project.run_dir, wrangler=wrangler_bin)
        assert refused.code == 2 and "staging" in error_of(refused), refused.output
    assert [u.worker for u in emulator.uploads] == ["vite-app-staging"]
