"""At home in CI: the env matrix, GitHub Actions summaries/annotations/masks, the composite action,
the documented command lines, and a real wheel install."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from skclaw.cli import cli
from tests.cfemu import CloudflareEmulator
from tests.conftest import REPO_ROOT, SampleProject
from tests.hardening import use_envfile
from tests.skrun import Run, skclaw

STAGING = "demo-worker-staging"


def run(project: SampleProject, wrangler: Path | None, *args: str, env: dict[str, str | None] | None = None) -> Run:
    return skclaw(list(args), project=project.path, wrangler=wrangler, env={"CI": None, **(env or {})})


# ----------------------------------------------------------------------------- ci matrix


def test_matrix_lists_every_env_with_its_worker_and_protection(sample_project: SampleProject) -> None:
    done = run(sample_project, None, "ci", "matrix")
    assert done.code == 0, done.output
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1  # one line, for `echo "matrix=$(skclaw ci matrix)" >> $GITHUB_OUTPUT`
    matrix = json.loads(lines[0])
    assert matrix == {"include": [
        {"env": "production", "worker": "demo-worker-prod", "protected": True},
        {"env": "staging", "worker": "demo-worker-staging", "protected": False},
        {"env": "default", "worker": "demo-worker", "protected": False},
    ]}


def test_matrix_of_chosen_envs_and_as_an_envelope(sample_project: SampleProject) -> None:
    done = run(sample_project, None, "ci", "matrix", "--env", "staging", "--json")
    assert done.code == 0
    assert done.envelope["result"] == {"include": [{"env": "staging", "worker": STAGING, "protected": False}]}
    bad = run(sample_project, None, "ci", "matrix", "--env", "nope")
    assert bad.code == 2


def test_matrix_follows_protected_environments(sample_project: SampleProject) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text('{"protectedEnvironments": ["staging", "production"]}')
    matrix = json.loads(run(sample_project, None, "ci", "matrix").stdout)
    assert {e["env"]: e["protected"] for e in matrix["include"]} == {
        "production": True, "staging": True, "default": False}


# ----------------------------------------------------------------------------- GitHub Actions


@pytest.fixture
def actions(tmp_path: Path) -> dict[str, str | None]:
    summary = tmp_path / "summary.md"
    summary.write_text("")
    return {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}


def test_a_sync_under_actions_writes_a_summary_without_values(
    actions: dict[str, str | None], sample_project: SampleProject, emulator: CloudflareEmulator,
    wrangler_bin: Path, cf_env: dict[str, str],
) -> None:
    secret = "ci-summary-value-7781"
    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {"staging": {"API_TOKEN": secret}}, required=["API_TOKEN"])
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--yes", "--json", env=actions)
    assert done.code == 0, done.output
    summary = Path(str(actions["GITHUB_STEP_SUMMARY"])).read_text()
    assert "### skclaw secrets sync: ✅ done" in summary
    assert re.search(rf"\| staging \| ✅ ok \| {STAGING} \| 1 \| 0 \|", summary), summary
    assert secret not in summary and "::error" not in done.stderr
    json.loads(done.stdout)  # stdout still holds exactly the envelope


def test_a_failure_under_actions_is_annotated(
    actions: dict[str, str | None], sample_project: SampleProject, emulator: CloudflareEmulator,
    wrangler_bin: Path, cf_env: dict[str, str],
) -> None:
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {env: {"API_TOKEN": f"v-{env}-0001"} for env in sample_project.envs},
                required=["API_TOKEN"])
    emulator.inject_fault("GET", rf"/scripts/{STAGING}/secrets$", status=403, code=10000,
                          message="Authentication error", times=-1)
    done = run(sample_project, wrangler_bin, "secrets", "sync", "--env", "staging", "--env", "production", "--yes",
               env=actions)
    assert done.code == 4, done.output
    assert "::error title=skclaw secrets sync::secrets sync failed for staging." in done.stderr
    assert "::error title=skclaw secrets sync%3A staging::planning failed" in done.stderr
    summary = Path(str(actions["GITHUB_STEP_SUMMARY"])).read_text()
    assert "❌ exit 4 (partial)" in summary and "| staging | ❌ failed |" in summary
    assert "| production | ✅ ok |" in summary


def test_nothing_of_this_outside_actions(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    summary = tmp_path / "summary.md"
    done = run(sample_project, None, "ci", "matrix", env={"GITHUB_ACTIONS": None,
                                                          "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.code == 0 and not summary.exists() and "::" not in done.stderr
    refused = run(sample_project, wrangler_bin, "rollback", "--env", "production", "--json",
                  env={"GITHUB_ACTIONS": None})
    assert refused.code != 0 and "::error" not in refused.output


def test_a_printed_value_is_masked_first(
    actions: dict[str, str | None], sample_project: SampleProject, emulator: CloudflareEmulator,
    wrangler_bin: Path, cf_env: dict[str, str],
) -> None:
    emulator.seed_worker(STAGING, secrets={"API_TOKEN": "old"})
    use_envfile(sample_project, {"staging": {"API_TOKEN": "old"}}, required=["API_TOKEN"])
    done = run(sample_project, wrangler_bin, "secrets", "rotate", "API_TOKEN", "--env", "staging", "--yes",
               "--print-value", env=actions)
    assert done.code == 0, done.output
    lines = done.stdout.splitlines()
    value = lines[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert lines.index(f"::add-mask::{value}") < len(lines) - 1
    as_json = run(sample_project, wrangler_bin, "secrets", "rotate", "API_TOKEN", "--env", "staging", "--yes",
                  "--print-value", "--json", env=actions)
    new_value = as_json.envelope["result"]["environments"]["staging"]["value"]
    assert f"::add-mask::{new_value}" in as_json.stderr
    summary = Path(str(actions["GITHUB_STEP_SUMMARY"])).read_text()
    assert value not in summary and new_value not in summary


# ----------------------------------------------------------------------------- the composite action


def test_action_yml_declares_the_contract() -> None:
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["outputs"]) == {"result", "exit-code"}
    assert action["inputs"]["command"]["required"] is True
    steps = {step.get("name"): step for step in action["runs"]["steps"]}
    assert any("GITHUB_ACTION_PATH" in str(step.get("run", "")) for step in steps.values())  # pinned to its ref
    for step in action["runs"]["steps"]:
        run_text = str(step.get("run", ""))
        assert "${{ inputs." not in run_text  # inputs reach scripts through env, never interpolated


def test_the_actions_steps_run_locally(sample_project: SampleProject, wrangler_bin: Path, tmp_path: Path) -> None:
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    steps = {step["name"]: step for step in action["runs"]["steps"] if "run" in step}
    bin_dir = sample_project.path / "node_modules" / ".bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "wrangler").symlink_to(wrangler_bin)
    output = tmp_path / "github_output"
    base = {**os.environ, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    base.pop("CI", None)
    install = steps["Install wrangler unless the project has one"]
    done = subprocess.run(["bash", "-e", "-c", install["run"]], cwd=sample_project.path, capture_output=True,
                          text=True, env={**base, "WRANGLER_SPEC": "4"}, timeout=60)
    assert done.returncode == 0 and "npm" not in done.stdout + done.stderr  # the project's own is used
    step = steps["Run skclaw"]
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=sample_project.path, capture_output=True,
                          text=True, env={**base, "SKCLAW_COMMAND": "ci matrix --env 'staging'"}, timeout=60)
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert "exit-code=0" in text
    envelope = json.loads(text.split("result<<SKCLAW_ENVELOPE_EOF\n", 1)[1].split("SKCLAW_ENVELOPE_EOF")[0])
    assert envelope["ok"] is True and envelope["result"]["include"][0]["env"] == "staging"
    failing = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=sample_project.path, capture_output=True,
                             text=True, env={**base, "SKCLAW_COMMAND": "ci matrix --env nope"}, timeout=60)
    assert failing.returncode == 2 and "exit-code=2" in output.read_text()


# ----------------------------------------------------------------------------- documented command lines

PLACEHOLDERS = {r"\$\{\{[^}]*\}\}": "staging", r'"\$SKCLAW_ENV"': "staging", r"\$SKCLAW_ENV": "staging"}


def documented_command_lines() -> list[tuple[str, str]]:
    found = []
    for doc in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        fence: str | None = None
        for line in doc.read_text().splitlines():
            if line.strip().startswith("```"):
                fence = None if fence is not None else (line.strip()[3:] or "plain")
                continue
            if fence not in ("bash", "yaml", "sh", "console"):
                continue
            text = line.strip().removeprefix("- ").removeprefix("run: ").removeprefix("$ ")
            for pattern, value in PLACEHOLDERS.items():
                text = re.sub(pattern, value, text)
            inner = re.findall(r"\$\((skclaw [^)]*)\)", text)
            if inner:
                found += [(doc.name, command) for command in inner]
            elif text.startswith("skclaw "):
                found.append((doc.name, text.split(" #", 1)[0].split(" >", 1)[0].split(" |", 1)[0]))
            elif text.startswith("command: "):
                found.append((doc.name, "skclaw " + text.removeprefix("command: ")))
    return found


def parse_command_line(words: list[str]) -> click.Command:
    ctx = cli.make_context("skclaw", words)
    command: Any = cli
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, [*ctx.protected_args, *ctx.args])
        assert sub is not None, words
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command  # type: ignore[no-any-return]


def test_docs_have_command_lines_to_check() -> None:
    docs = {doc for doc, _ in documented_command_lines()}
    assert {"README.md", "ci-github-actions.md", "ci-gitlab.md"} <= docs


@pytest.mark.parametrize(("doc", "line"), documented_command_lines())
def test_every_documented_command_line_parses(doc: str, line: str) -> None:
    words = shlex.split(line)[1:]
    if "..." in words or any(w.startswith("<") for w in words):
        pytest.skip("a template line, not a command")  # pragma: no cover - none today
    try:
        parse_command_line(words)
    except click.UsageError as exc:
        raise AssertionError(f"{doc}: {line!r}: {exc.format_message()}") from None


# ----------------------------------------------------------------------------- a real install


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".tools", "node_modules", "build", "dist", "*.egg-info", "__pycache__", ".skclaw"))
    dist = tmp_path / "dist"
    clean_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no PYTHONPATH: only what is installed
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
                            str(source)], capture_output=True, text=True, timeout=300, env=clean_env)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("skclaw-*.whl"))
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300,
                               env=clean_env)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # The dependencies come from this venv (no network); skclaw itself only from the wheel. Added
    # after the install, so pip never sees (or touches) this venv's own skclaw.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "skclaw-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    version = subprocess.run([str(target / "bin" / "skclaw"), "--version"], capture_output=True, text=True,
                             env=clean_env, cwd=tmp_path, timeout=60)
    assert version.returncode == 0 and re.match(r"skclaw, version \d", version.stdout), version.stderr
    module = subprocess.run([str(python), "-m", "skclaw", "--help"], capture_output=True, text=True,
                            env=clean_env, cwd=tmp_path, timeout=60)
    assert module.returncode == 0 and "secrets" in module.stdout
    where = subprocess.run([str(python), "-c", "import skclaw, sys; print(skclaw.__file__)"], capture_output=True,
                           text=True, env=clean_env, cwd=tmp_path, timeout=60)
    assert str(target) in where.stdout  # the wheel's copy, not the checkout


def test_shell_completion_as_documented(tmp_path: Path) -> None:
    skclaw_bin = Path(sys.executable).parent / "skclaw"
    env = {**os.environ, "_SKCLAW_COMPLETE": "bash_source"}
    script = subprocess.run([str(skclaw_bin)], capture_output=True, text=True, env=env, timeout=60)
    assert script.returncode == 0 and "complete -o nosort -F" in script.stdout
    words = {**os.environ, "_SKCLAW_COMPLETE": "bash_complete", "COMP_WORDS": "skclaw secrets sy", "COMP_CWORD": "2"}
    done = subprocess.run([str(skclaw_bin)], capture_output=True, text=True, env=words, timeout=60)
    assert "plain,sync" in done.stdout.split()
