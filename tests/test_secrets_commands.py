"""`secrets set`, `secrets rotate`, `secrets list` end to end (real wrangler + emulator)."""

from __future__ import annotations

import json
from pathlib import Path

from skclaw import process
from skclaw.secrets.dotenv import parse_dotenv
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.skrun import skclaw


def use_envfile(project: SampleProject, required: list[str], optional: list[str] | None = None) -> None:
    config = {"secrets": {"required": required, "optional": optional or [], "source": "envfile"}}
    (project.path / ".skclaw.jsonc").write_text(json.dumps(config))


def envfile(project: SampleProject, env: str) -> dict[str, str]:
    path = project.path / ".secrets" / f"{env}.env"
    return parse_dotenv(path.read_text(), filename=path.name).values


def test_set_from_stdin_stores_and_pushes(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"))
    use_envfile(sample_project, ["API_TOKEN"])
    value = "s3cret with spaces = and \"quotes\""
    run = skclaw(["secrets", "set", "API_TOKEN", "-e", "staging", "--push", "--json"],
                 project=sample_project.path, wrangler=wrangler_bin, input=value + "\n")
    assert run.code == 0, run.stderr
    assert envfile(sample_project, "staging")["API_TOKEN"] == value  # one trailing newline stripped
    assert emulator.secrets(sample_project.worker("staging"))["API_TOKEN"] == value
    result = run.envelope["result"]
    assert result["stored"] and result["pushed"] and result["key"] == "API_TOKEN"
    assert value not in run.stdout + run.stderr
    audit = [json.loads(x) for x in (sample_project.path / ".skclaw/audit.jsonl").read_text().splitlines()]
    assert audit[-1]["command"] == "secrets set" and audit[-1]["outcome"] == "pushed"
    assert audit[-1]["keys"] == ["API_TOKEN"] and value not in json.dumps(audit)


def test_set_rejects_bad_names_empty_and_oversized_values(
    sample_project: SampleProject, cf_env: dict[str, str]
) -> None:
    use_envfile(sample_project, ["API_TOKEN"])
    bad = skclaw(["secrets", "set", "1BAD-NAME", "-e", "staging"], project=sample_project.path, input="v")
    assert bad.code == 2 and "Invalid secret name" in bad.stderr
    empty = skclaw(["secrets", "set", "API_TOKEN", "-e", "staging"], project=sample_project.path, input="\n")
    assert empty.code == 2 and "empty" in empty.stderr
    huge = skclaw(["secrets", "set", "API_TOKEN", "-e", "staging"], project=sample_project.path,
                  input="x" * 6000)
    assert huge.code == 2 and "larger than" in huge.stderr
    unknown = skclaw(["secrets", "set", "API_TOKEN", "-e", "prod"], project=sample_project.path, input="v")
    assert unknown.code == 2 and "production, staging" in unknown.stderr
    assert not (sample_project.path / ".secrets" / "staging.env").exists()


def test_set_push_on_production_needs_consent(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("production"))
    use_envfile(sample_project, ["API_TOKEN"])
    run = skclaw(["secrets", "set", "API_TOKEN", "-e", "production", "--push"],
                 project=sample_project.path, wrangler=wrangler_bin, input="value-1234")
    assert run.code == 3
    assert not (sample_project.path / ".secrets" / "production.env").exists()  # nothing stored either
    assert emulator.mutating_requests() == []


def test_rotate_gives_each_env_its_own_value_and_keeps_the_previous(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"GATEWAY_TOKEN": f"old-{env}"})
    use_envfile(sample_project, ["GATEWAY_TOKEN"])
    secrets_dir = sample_project.path / ".secrets"
    secrets_dir.mkdir()
    for env in sample_project.envs:
        (secrets_dir / f"{env}.env").write_text(f"GATEWAY_TOKEN=old-{env}\n")
    run = skclaw(["secrets", "rotate", "GATEWAY_TOKEN", "-e", "staging", "-e", "production", "--yes",
                  "--json", "--print-value", "--bytes", "24"],
                 project=sample_project.path, wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    envs = run.envelope["result"]["environments"]
    values = {env: envs[env]["value"] for env in sample_project.envs}
    assert values["staging"] != values["production"]
    for env in sample_project.envs:
        assert len(values[env]) == 48  # 24 bytes, hex
        assert emulator.secrets(sample_project.worker(env))["GATEWAY_TOKEN"] == values[env]
        assert envfile(sample_project, env)["GATEWAY_TOKEN"] == values[env]
        assert envfile(sample_project, env)["GATEWAY_TOKEN__PREVIOUS"] == f"old-{env}"
    # the value is printed only where asked: in the envelope, not in stderr
    assert values["staging"] not in run.stderr


def test_rotate_push_failure_leaves_the_source_with_the_new_value(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"), secrets={"GATEWAY_TOKEN": "old"})
    use_envfile(sample_project, ["GATEWAY_TOKEN"])
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text("GATEWAY_TOKEN=old\n")
    emulator.inject_fault("PATCH", r"/(settings|secrets-bulk)$", status=500, code=10013, times=-1)
    run = skclaw(["secrets", "rotate", "GATEWAY_TOKEN", "-e", "staging", "--json"],
                 project=sample_project.path, wrangler=wrangler_bin)
    assert run.code == 1
    error = run.envelope["result"]["environments"]["staging"]["error"]
    assert "source holds the new value" in error
    assert "skclaw secrets sync --env staging --only GATEWAY_TOKEN" in error
    stored = envfile(sample_project, "staging")
    assert stored["GATEWAY_TOKEN"] != "old" and stored["GATEWAY_TOKEN__PREVIOUS"] == "old"
    assert emulator.secrets(sample_project.worker("staging"))["GATEWAY_TOKEN"] == "old"
    assert stored["GATEWAY_TOKEN"] not in run.output

    emulator.clear_faults()
    done = skclaw(["secrets", "sync", "-e", "staging", "--only", "GATEWAY_TOKEN"],
                  project=sample_project.path, wrangler=wrangler_bin)
    assert done.code == 0, done.stderr
    assert emulator.secrets(sample_project.worker("staging"))["GATEWAY_TOKEN"] == stored["GATEWAY_TOKEN"]


def test_rotate_refuses_production_without_yes(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("production"), secrets={"GATEWAY_TOKEN": "old"})
    use_envfile(sample_project, ["GATEWAY_TOKEN"])
    emulator.clear_requests()
    run = skclaw(["secrets", "rotate", "GATEWAY_TOKEN", "-e", "production"], project=sample_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 3
    assert emulator.mutating_requests() == []
    assert not (sample_project.path / ".secrets" / "production.env").exists()


def test_list_shows_names_roles_and_presence(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    emulator.seed_worker(sample_project.worker("staging"), secrets={"A_REQ": "v1", "UNMANAGED": "v2"})
    use_envfile(sample_project, ["A_REQ", "B_REQ"], ["C_OPT"])
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text("A_REQ=value-a\nC_OPT=value-c\nEXTRA=x1\n")
    run = skclaw(["secrets", "list", "-e", "staging", "--json"], project=sample_project.path,
                 wrangler=wrangler_bin)
    assert run.code == 0, run.stderr
    keys = {k["name"]: k for k in run.envelope["result"]["environments"]["staging"]["keys"]}
    assert keys["A_REQ"] == {"name": "A_REQ", "role": "required", "inSource": True, "onWorker": True}
    assert keys["B_REQ"]["inSource"] is False and keys["B_REQ"]["onWorker"] is False
    assert keys["C_OPT"]["role"] == "optional" and keys["C_OPT"]["inSource"] is True
    assert keys["EXTRA"]["role"] == "extra"
    assert keys["UNMANAGED"] == {"name": "UNMANAGED", "role": "unmanaged", "inSource": False, "onWorker": True}
    for value in ("value-a", "value-c", "x1", "v1", "v2"):
        assert value not in run.output
    human = skclaw(["secrets", "list", "-e", "staging"], project=sample_project.path, wrangler=wrangler_bin)
    # The table is the result: on stdout, so `skclaw secrets list > names.txt` keeps it.
    assert human.code == 0 and "A_REQ" in human.stdout and "required" in human.stdout
    assert not any("value-a" in " ".join(a) for a in process.started_argv())


def test_rotate_undo_puts_back_the_previous_value_everywhere(
    sample_project: SampleProject, emulator: CloudflareEmulator, wrangler_bin: Path, cf_env: dict[str, str]
) -> None:
    from tests.hardening import use_envfile

    emulator.seed_worker("demo-worker-staging", secrets={"API_TOKEN": "before-rotation-0001"})
    use_envfile(sample_project, {"staging": {"API_TOKEN": "before-rotation-0001"}}, required=["API_TOKEN"])
    rotated = skclaw(["secrets", "rotate", "API_TOKEN", "--env", "staging", "--yes"], project=sample_project.path,
                     wrangler=wrangler_bin)
    assert rotated.code == 0, rotated.output
    assert emulator.secrets("demo-worker-staging")["API_TOKEN"] != "before-rotation-0001"

    undone = skclaw(["secrets", "rotate", "API_TOKEN", "--env", "staging", "--undo", "--yes"],
                    project=sample_project.path, wrangler=wrangler_bin)

    assert undone.code == 0, undone.output
    assert emulator.secrets("demo-worker-staging")["API_TOKEN"] == "before-rotation-0001"
    assert "before-rotation-0001" not in undone.output
    never = skclaw(["secrets", "rotate", "OTHER_KEY", "--env", "staging", "--undo", "--yes"],
                   project=sample_project.path, wrangler=wrangler_bin)
    assert never.code == 2 and "keeps no previous value of OTHER_KEY" in never.output
