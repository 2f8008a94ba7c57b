"""`.skclaw.jsonc` and wrangler config resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skclaw.config import load_config
from skclaw.errors import ConfigError, UsageError
from skclaw.project import DEFAULT_ENV, load_project


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, None)
    assert cfg.path is None
    assert cfg.protected_environments is None  # absent: the policy infers them
    assert cfg.default_source == "keyring"
    assert cfg.source_for("staging") == "keyring"


def test_jsonc_with_comments_and_trailing_commas(tmp_path: Path) -> None:
    write(tmp_path / ".skclaw.jsonc", """{
      // who may not be touched lightly
      "protectedEnvironments": ["production", "eu",],
      "secrets": {"required": ["A_TOKEN"], "optional": ["B"], "source": "envfile"},
      "sources": {"vault": {"url": "http://127.0.0.1:8200"}},
      "environments": {"production": {"source": "vault"}},
    }""")
    cfg = load_config(tmp_path, None)
    assert cfg.protected_environments == ("production", "eu")
    assert cfg.required == ("A_TOKEN",) and cfg.optional == ("B",)
    assert cfg.source_for("production") == "vault"
    assert cfg.source_for("staging") == "envfile"
    assert cfg.warnings == ()


def test_dot_json_is_read_too(tmp_path: Path) -> None:
    write(tmp_path / ".skclaw.json", json.dumps({"build": "npm run build"}))
    assert load_config(tmp_path, None).build == "npm run build"


def test_broken_jsonc_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / ".skclaw.jsonc", '{\n  "build": "x",\n  "secrets": }\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, None)
    assert ".skclaw.jsonc" in info.value.message
    assert "line 3" in info.value.message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"protectedEnvironments": "production"}', "protectedEnvironments must be a list"),
        ('{"secrets": {"required": [1]}}', "secrets.required must be a list"),
        ('{"secrets": {"source": "floppy"}}', "unknown source 'floppy'"),
        ('{"sources": {"floppy": {}}}', "unknown source 'floppy'"),
        ('{"environments": {"production": {"source": "nope"}}}', "unknown source 'nope'"),
        ('{"secrets": {"required": ["1BAD"]}}', "Invalid secret name"),
        ('[1, 2]', "must be an object"),
    ],
)
def test_wrong_types_and_unknown_sources_are_exit_2(tmp_path: Path, text: str, fragment: str) -> None:
    write(tmp_path / ".skclaw.jsonc", text)
    with pytest.raises(UsageError) as info:
        load_config(tmp_path, None)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_keys_warn(tmp_path: Path) -> None:
    write(tmp_path / ".skclaw.jsonc", '{"protectedEnvironment": [], "secrets": {"requird": []}}')
    cfg = load_config(tmp_path, None)
    assert any("protectedEnvironment" in w for w in cfg.warnings)
    assert any("secrets.requird" in w for w in cfg.warnings)


def test_explicit_missing_config_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path, str(tmp_path / "nope.jsonc"))


# -- wrangler config ---------------------------------------------------------------------------

WRANGLER_JSONC = """{
  // sample
  "name": "demo",
  "account_id": "acc-top",
  "d1_databases": [{"binding": "DB", "database_name": "top-db", "database_id": "top-id"}],
  "env": {
    "staging": {
      "d1_databases": [{"binding": "DB", "database_name": "stg-db", "database_id": "stg-id",
                        "migrations_dir": "db/migrations", "migrations_table": "mig"}],
      "secrets": {"required": ["STG_ONLY"]},
    },
    "production": {"name": "demo-prod", "account_id": "acc-prod"},
  },
}"""


def test_env_resolution_follows_wrangler(tmp_path: Path) -> None:
    write(tmp_path / "wrangler.jsonc", WRANGLER_JSONC)
    project = load_project(tmp_path, None)
    assert project.all_envs == ["production", "staging", DEFAULT_ENV]
    staging = project.resolve("staging")
    assert staging.worker == "demo-staging"  # <name>-<env>
    assert staging.account_id == "acc-top"  # inherited
    assert [d.name for d in staging.d1_databases] == ["stg-db"]
    assert staging.d1_databases[0].migrations_dir == (tmp_path / "db/migrations").resolve()
    assert staging.d1_databases[0].migrations_table == "mig"
    assert staging.required_secrets == ("STG_ONLY",)
    production = project.resolve("production")
    assert production.worker == "demo-prod"
    assert production.account_id == "acc-prod"
    assert production.d1_databases == ()  # d1_databases is not inheritable
    assert production.required_secrets == ()
    default = project.resolve(DEFAULT_ENV)
    assert default.worker == "demo" and default.d1_databases[0].id == "top-id"
    assert default.d1_databases[0].migrations_table == "d1_migrations"


def test_unknown_env_names_the_available_ones(tmp_path: Path) -> None:
    write(tmp_path / "wrangler.jsonc", WRANGLER_JSONC)
    with pytest.raises(UsageError) as info:
        load_project(tmp_path, None).resolve("prod")
    assert "default, production, staging" in str(info.value)


def test_toml_and_discovery_order(tmp_path: Path) -> None:
    write(tmp_path / "wrangler.toml", 'name = "t"\n[env.staging]\nname = "t-stg"\n')
    assert load_project(tmp_path, None).resolve("staging").worker == "t-stg"
    write(tmp_path / "wrangler.json", '{"name": "j"}')
    assert load_project(tmp_path, None).config_path.name == "wrangler.json"


def test_missing_wrangler_config_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No wrangler config"):
        load_project(tmp_path, None)
    write(tmp_path / "wrangler.yaml", "name: x")
    with pytest.raises(ConfigError, match="must end in"):
        load_project(tmp_path, "wrangler.yaml")


def test_worker_without_name_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "wrangler.jsonc", '{"env": {"staging": {}}}')
    with pytest.raises(ConfigError, match="no Worker name"):
        load_project(tmp_path, None).resolve("staging")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.from_regex(r'\{"[a-zA-Z]{1,12}": ?(\[|\{|"|1|null).{0,30}', fullmatch=True),
    )
)
def test_config_loading_never_crashes(tmp_path: Path, text: str) -> None:
    """Any .skclaw.jsonc gives a config or a UsageError (exit 2), never another exception."""
    write(tmp_path / ".skclaw.jsonc", text)
    try:
        load_config(tmp_path, None)
    except UsageError as exc:
        assert exc.exit_code == 2


@pytest.mark.parametrize(
    ("text", "repeated"),
    [
        ('{"a": 1, "a": 2}', [("a", 1)]),
        ('{\n"a": 1,\n// "a": 2\n"b": {"a": [1, {"a": 1}]},\n a: 3}', [("a", 5)]),  # unquoted JSON5 key
        ('{"a": "x:y", "b": "\\"a\\":", /* "b": */ "c": 1}', []),  # colons in strings and comments
        ('{"protectedEnvironments": ["prod"],\n "protectedEnvironments": []}', [("protectedEnvironments", 2)]),
        ('[{"a": 1}, {"a": 2}]', []),  # the same key in sibling objects
        ('{"b": {"a": 1,\n "a": 2}, "c": [1, 2]}', [("a", 2)]),  # plain JSON: the C parser finds it first
    ],
)
def test_duplicate_keys_are_found_where_they_repeat(text: str, repeated: list[tuple[str, int]]) -> None:
    from skclaw.jsonc import duplicate_keys

    assert duplicate_keys(text) == repeated


def test_a_repeated_key_in_the_skclaw_config_is_bad_input(tmp_path: Path) -> None:
    write(tmp_path / ".skclaw.jsonc", '{"protectedEnvironments": ["production"],\n "protectedEnvironments": []}')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, None)
    assert "protectedEnvironments" in info.value.message and "line 2" in info.value.message
