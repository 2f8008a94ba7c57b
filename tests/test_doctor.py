"""`skclaw doctor` in the sample project."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SampleProject
from tests.skrun import skclaw


def checks_by_name(envelope: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: c for c in envelope["result"]["checks"]}


def test_doctor_json_passes_in_a_ready_project(
    sample_project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text(
        '{"secrets": {"required": ["API_TOKEN"], "source": "envfile"}}'
    )
    (sample_project.path / ".secrets").mkdir()
    for env in ("staging", "production", "default"):
        path = sample_project.path / ".secrets" / f"{env}.env"
        path.write_text("API_TOKEN=doctor-canary-123\n")
        path.chmod(0o600)
    run = skclaw(["doctor", "--json"], project=sample_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    checks = checks_by_name(run.envelope)
    assert checks["wrangler"]["status"] == "ok" and "4.86.0" in checks["wrangler"]["detail"]
    assert checks["node"]["status"] == "ok" and checks["node"]["detail"].startswith("v")
    assert checks["auth"]["status"] == "ok"
    assert "CLOUDFLARE_API_TOKEN" in checks["auth"]["detail"]
    assert cf_env["CLOUDFLARE_API_TOKEN"] not in run.output  # names only, never values
    assert "doctor-canary-123" not in run.output
    envs = run.envelope["result"]["environments"]
    assert envs["staging"]["worker"] == sample_project.worker("staging")
    assert envs["production"]["protected"] is True and envs["staging"]["protected"] is False
    assert envs["staging"]["d1"] == [{"binding": "DB", "name": sample_project.d1["staging"].name,
                                      "id": sample_project.d1["staging"].id}]
    assert envs["staging"]["sourceReachable"] is True and envs["staging"]["missingRequired"] == []


def test_doctor_fails_and_names_what_is_missing(
    sample_project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str], monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("CLOUDFLARE_ENV", "production")
    (sample_project.path / ".skclaw.jsonc").write_text(
        '{"secrets": {"required": ["API_TOKEN"], "source": "envfile"}}'
    )
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text("OTHER=1\n")
    (sample_project.path / ".env").write_text("CLOUDFLARE_ACCOUNT_ID=x\n")
    run = skclaw(["doctor", "-e", "staging", "-e", "production", "--json"], project=sample_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 1
    checks = checks_by_name(run.envelope)
    assert checks["auth"]["status"] == "fail"
    assert checks["env:CLOUDFLARE_ENV"]["status"] == "warn"
    assert checks["dotenv"]["status"] == "warn" and ".env" in checks["dotenv"]["detail"]
    assert checks["env:staging"]["status"] == "fail" and "API_TOKEN" in checks["env:staging"]["detail"]
    assert checks["env:production"]["status"] == "fail"  # no secrets file at all
    assert set(run.envelope["result"]["environments"]) == {"staging", "production"}


def test_doctor_reports_a_missing_wrangler_and_broken_config(tmp_path: Path) -> None:
    (tmp_path / "wrangler.jsonc").write_text('{"name": "x"}')
    run = skclaw(["doctor", "--json"], project=tmp_path, wrangler=tmp_path / "nope")
    assert run.code == 1
    assert checks_by_name(run.envelope)["wrangler"]["status"] == "fail"
    (tmp_path / ".skclaw.jsonc").write_text("{broken")
    broken = skclaw(["doctor", "--json"], project=tmp_path)
    assert broken.code == 1
    assert checks_by_name(broken.envelope)["config"]["status"] == "fail"


def test_doctor_report_lines_up_and_ends_with_the_problems_and_their_fixes(
    sample_project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str], emulator: object
) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text(
        '{"secrets": {"required": ["API_TOKEN"], "source": "envfile"}, "envs": ["staging", "production"]}'
    )
    (sample_project.path / ".secrets").mkdir()
    path = sample_project.path / ".secrets" / "staging.env"
    path.write_text("API_TOKEN=ok-value-1234\n")
    path.chmod(0o600)
    (sample_project.path / ".secrets" / "production.env").write_text("")
    (sample_project.path / ".secrets" / "production.env").chmod(0o600)
    run = skclaw(["doctor"], project=sample_project.path, wrangler=wrangler_bin)
    assert run.code == 1, run.output
    lines = run.stdout.splitlines()
    config = next(line for line in lines if " wrangler config " in line)
    node = next(line for line in lines if " node " in line)
    failing = next(line for line in lines if " env:production " in line)
    assert config[2:6] == "ok  " and failing[2:6] == "FAIL"
    # The detail column lines up, whatever the name's length.
    assert config.index(str(sample_project.path)) == node.index("v2") == failing.index("required secret")
    assert "1 problem:" in run.stdout
    assert 'env:production: printf %s "$VALUE" | skclaw secrets set API_TOKEN --env production' in run.stdout


def test_doctor_right_after_init_names_exactly_what_to_create(
    sample_project: SampleProject, wrangler_bin: Path, cf_env: dict[str, str], emulator: object
) -> None:
    init = skclaw(["init", "--env", "staging", "--source", "envfile", "--required", "API_TOKEN", "--yes"],
                  project=sample_project.path)
    assert init.code == 0, init.output
    assert "printf %s \"$VALUE\" | skclaw secrets set API_TOKEN --env staging" in init.output  # the next step
    run = skclaw(["doctor"], project=sample_project.path, wrangler=wrangler_bin)
    assert run.code == 1
    assert "1 problem:" in run.stdout
    assert "env:staging: Create it with: skclaw secrets set KEY --env staging" in run.stdout
    assert "env:production" not in run.stdout and "env:default" not in run.stdout  # only the chosen envs
    (sample_project.path / ".secrets").mkdir(exist_ok=True)
    stored = skclaw(["secrets", "set", "API_TOKEN", "--env", "staging"], project=sample_project.path,
                    input="doctor-after-init-value")
    assert stored.code == 0, stored.output
    again = skclaw(["doctor"], project=sample_project.path, wrangler=wrangler_bin)
    assert again.code == 0, again.output
