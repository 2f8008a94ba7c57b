"""Small units that the end-to-end suites reach only on rare paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skclaw import audit
from skclaw.errors import ConfigError, UsageError
from skclaw.jsonc import load_jsonc
from skclaw.project import DEFAULT_ENV, load_project
from skclaw.secrets.devvars import dev_vars_path, write_dev_vars
from skclaw.secrets.value import SecretValue
from skclaw.wrangler import classify_failure
from tests.conftest import SampleProject
from tests.skrun import skclaw


def test_d1_execute_json_errors_on_stdout_are_kept() -> None:
    stdout = 'noise\n{"error": {"text": "D1_ERROR: no such table: x", "notes": [{"text": "SQLITE_ERROR"}]}}'
    err = classify_failure("wrangler d1 execute", 1, "", stdout, [])
    assert "no such table" in err.message and "SQLITE_ERROR" in err.detail
    assert classify_failure("x", 1, "", "not json {", []).message.startswith("x failed")
    assert classify_failure("x", 1, "", '{"error": "flat"}', []).detail


def test_jsonc_reports_unreadable_and_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonc"
    with pytest.raises(ConfigError, match="Cannot read"):
        load_jsonc(path, what="config")
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_jsonc(path, what="config")
    path.write_bytes(b"\xef\xbb\xbf{\"a\": 1}")  # a BOM is fine
    assert load_jsonc(path, what="config") == {"a": 1}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"name": "w", "env": {"staging": 3}}', "env.staging must be an object"),
        ('{"name": "w", "account_id": 7, "env": {"staging": {}}}', "account_id must be a string"),
        ('{"name": "w", "env": {"staging": {"secrets": {"required": "A"}}}}', "secrets.required"),
        ('{"name": "w", "env": {"staging": {"d1_databases": {}}}}', "d1_databases of 'staging' must be a list"),
        ('{"name": "w", "env": {"staging": {"d1_databases": [{"x": 1}]}}}', "needs a binding"),
    ],
)
def test_wrangler_config_shapes_are_checked(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "wrangler.jsonc").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, None).resolve("staging")
    assert fragment in str(info.value)


def test_wrangler_config_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path, "elsewhere/wrangler.toml")
    (tmp_path / "wrangler.json").write_text("[1]")
    with pytest.raises(ConfigError, match="object at the top level"):
        load_project(tmp_path, None)
    (tmp_path / "wrangler.json").write_text('{"name": "w", "env": []}')
    with pytest.raises(ConfigError, match="env must be an object"):
        load_project(tmp_path, None)
    (tmp_path / "wrangler.json").unlink()
    (tmp_path / "wrangler.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_project(tmp_path, None)
    (tmp_path / "wrangler.toml").write_bytes(b'name = "\xff"')
    with pytest.raises(ConfigError, match="Cannot read"):
        load_project(tmp_path, None)


def test_d1_database_matches_binding_or_name(tmp_path: Path) -> None:
    (tmp_path / "wrangler.jsonc").write_text(
        '{"name": "w", "d1_databases": [{"binding": "DB", "database_name": "main-db", "database_id": "i"}]}'
    )
    db = load_project(tmp_path, None).resolve(DEFAULT_ENV).d1_databases[0]
    assert db.matches("DB") and db.matches("main-db") and not db.matches("other")


def test_audit_actor_and_unwritable_trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audit.actor.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH: fall back to the OS user
    try:
        assert audit.actor()
    finally:
        audit.actor.cache_clear()
    blocked = tmp_path / "proj"
    blocked.mkdir()
    (blocked / ".skclaw").write_text("a file where the directory should be")
    audit.record(blocked, command="x", env="e", worker="w", outcome="ok")  # must not raise
    ok = tmp_path / "ok"
    ok.mkdir()
    audit.record(ok, command="x", env="e", worker="w", outcome="ok", keys=["B", "A"])
    entry = json.loads((ok / ".skclaw" / "audit.jsonl").read_text())
    assert entry["keys"] == ["A", "B"] and entry["outcome"] == "ok"
    assert oct((ok / ".skclaw" / "audit.jsonl").stat().st_mode & 0o777) == "0o600"


def test_dev_vars_paths_and_failed_write_leaves_nothing(tmp_path: Path) -> None:
    assert dev_vars_path(tmp_path, DEFAULT_ENV).name == ".dev.vars"
    assert dev_vars_path(tmp_path, "staging").name == ".dev.vars.staging"
    target = tmp_path / "sub" / ".dev.vars.staging"
    with pytest.raises(FileNotFoundError):
        write_dev_vars(target, {"A": SecretValue("value-1")})
    assert not target.exists()
    write_dev_vars(tmp_path / ".dev.vars.staging", {"A": SecretValue("value-1")})
    assert os.stat(tmp_path / ".dev.vars.staging").st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [".dev.vars.staging"]


def test_unrepresentable_dev_vars_value_writes_no_file(sample_project: SampleProject) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text('{"secrets": {"required": ["A_KEY"], "source": "envfile"}}')
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text('A_KEY="it\'s \\"all\\" `three`\\nkinds"\n')
    run = skclaw(["secrets", "sync", "-e", "staging", "--local"], project=sample_project.path)
    assert run.code == 2 and "A_KEY" in run.stderr
    assert not (sample_project.path / ".dev.vars.staging").exists()


def test_put_method_refuses_trailing_whitespace_up_front(sample_project: SampleProject) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text('{"secrets": {"required": ["A_KEY"], "source": "envfile"}}')
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text('A_KEY="padded   "\n')
    run = skclaw(["secrets", "sync", "-e", "staging", "--method", "put"], project=sample_project.path,
                 wrangler=sample_project.path / "no-wrangler-needed")
    assert run.code == 2 and "trims" in run.stderr


def test_secret_value_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        SecretValue(b"bytes")  # type: ignore[arg-type]
    assert SecretValue("abc") != "abc"
    assert not SecretValue("") and hash(SecretValue("x1234")) == hash(SecretValue("x1234"))
    # bad input, a broken config included, exits 2 with kind "usage" in the JSON envelope
    assert int(UsageError("x").exit_code) == 2 and UsageError("x").kind == "usage"
    assert int(ConfigError("y").exit_code) == 2 and ConfigError("y").kind == "usage"
