"""`.skclaw.jsonc`: skclaw's own settings, parsed into typed, frozen dataclasses.

Every key is optional. Broken JSONC, wrong types and unknown source names are exit 2 naming the
file (and line); unknown keys are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skclaw.errors import ConfigError, UsageError
from skclaw.jsonc import load_jsonc

CONFIG_NAMES = (".skclaw.jsonc", ".skclaw.json")
DEFAULT_SOURCE = "keyring"
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOP_KEYS = {
    "$schema", "wranglerConfig", "envs", "protectedEnvironments", "build", "secrets", "sources", "environments",
}
_SECRETS_KEYS = {"required", "optional", "source"}
_ENV_KEYS = {"source", "protected"}
_MAX_UNKNOWN_LISTED = 10
_MAX_WARNINGS = 20


def validate_secret_name(name: str, *, where: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
        raise UsageError(
            f"Invalid secret name {name!r} in {where}.",
            hint="Secret names use letters, digits and underscores, and do not start with a digit.",
        )
    return name


@dataclass(frozen=True)
class EnvSettings:
    source: str | None = None


@dataclass(frozen=True)
class SkclawConfig:
    path: Path | None = None
    wrangler_config: str | None = None
    #: the project's envs (``default`` = the top level); None: every env of the wrangler config
    envs: tuple[str, ...] | None = None
    #: protectedEnvironments as written; None when absent (the policy infers them then)
    protected_environments: tuple[str, ...] | None = None
    build: str | None = None
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    default_source: str = DEFAULT_SOURCE
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    environments: Mapping[str, EnvSettings] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def source_for(self, env: str) -> str:
        settings = self.environments.get(env)
        return (settings.source if settings and settings.source else None) or self.default_source

    def source_settings(self, name: str) -> Mapping[str, Any]:
        return self.sources.get(name, {})


def find_config(project_dir: Path, explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        _check_regular_file(path)
        return path
    from skclaw.project import DEPLOY_REDIRECT, WRANGLER_CONFIG_NAMES

    # Up from the start dir to the Worker project's root (the first dir with a wrangler config),
    # so a run from a subdirectory still gets the project's settings (protected envs above all).
    for directory in (project_dir, *project_dir.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.exists() or candidate.is_symlink():
                _check_regular_file(candidate)
                return candidate
        if any((directory / name).is_file() for name in (*WRANGLER_CONFIG_NAMES, DEPLOY_REDIRECT)):
            return None
    return None


def _check_regular_file(path: Path) -> None:
    """A directory, pipe or device where the config should be is bad input, not "no config"
    (and a named pipe must never be opened: reading it would block)."""
    if path.is_file():
        return
    if path.is_dir():
        raise ConfigError(f"Config file {path} is a directory, not a file.")
    if path.exists():
        raise ConfigError(f"Config file {path} is not a regular file.")
    raise ConfigError(f"Config file {path} does not exist.")


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.path.name}: {key} must be {expected}, not {type(value).__name__}.",
            hint=f"Fix {key} in {self.path}.",
        )

    def str_list(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}{key}", "a list of strings", value)
        return tuple(value)

    def opt_str(self, data: Mapping[str, Any], key: str, where: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}{key}", "a string", value)
        return value

    def obj(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "an object", value)
        return value

    def unknown(self, data: Mapping[str, Any], known: set[str], where: str) -> None:
        extra = [f"{where}{key}"[:80] for key in data if key not in known]
        if len(extra) > _MAX_UNKNOWN_LISTED:  # a hostile file must not flood the terminal
            names = ", ".join(extra[:_MAX_UNKNOWN_LISTED])
            more = len(extra) - _MAX_UNKNOWN_LISTED
            self.warnings.append(f"{self.path.name}: unknown keys {names} and {more} more (ignored)")
            return
        for key in extra:
            self.warnings.append(f"{self.path.name}: unknown key {key} (ignored)")


def parse_config(data: Any, path: Path) -> SkclawConfig:
    from skclaw.sources import BUILTIN_SOURCES, known_source_names

    def is_known(name: str) -> bool:
        # Built-in names first: reading the installed entry points (importlib.metadata) costs a
        # noticeable share of start-up, and a config that names only built-ins never needs them.
        return name in BUILTIN_SOURCES or name in known_source_names()

    reader = _Reader(path)
    if not isinstance(data, dict):
        raise reader.fail("the top level", "an object", data)
    reader.unknown(data, _TOP_KEYS, "")

    wrangler_config = reader.opt_str(data, "wranglerConfig", "")
    build = reader.opt_str(data, "build", "")
    envs: tuple[str, ...] | None = None
    if "envs" in data:
        from skclaw.project import validate_env_name

        envs = reader.str_list(data, "envs", "")
        if not envs:
            raise ConfigError(f"{path.name}: envs is empty.", hint="List at least one env, or remove the key.")
        envs = tuple(dict.fromkeys(validate_env_name(e, where=f"{path.name} envs") for e in envs))
    protected = reader.str_list(data, "protectedEnvironments", "") if "protectedEnvironments" in data else None

    secrets = reader.obj(data, "secrets", "")
    reader.unknown(secrets, _SECRETS_KEYS, "secrets.")
    required = reader.str_list(secrets, "required", "secrets.")
    optional = reader.str_list(secrets, "optional", "secrets.")
    for name in (*required, *optional):
        validate_secret_name(name, where=f"{path.name} secrets")
    default_source = reader.opt_str(secrets, "source", "secrets.") or DEFAULT_SOURCE

    sources_raw = reader.obj(data, "sources", "")
    sources: dict[str, Mapping[str, Any]] = {}
    for name, settings in sources_raw.items():
        if not is_known(name):
            raise ConfigError(
                f"{path.name}: unknown source {name!r} in sources.",
                hint=f"Known sources: {', '.join(known_source_names())}.",
            )
        if not isinstance(settings, dict):
            raise reader.fail(f"sources.{name}", "an object", settings)
        sources[name] = dict(settings)

    envs_raw = reader.obj(data, "environments", "")
    environments: dict[str, EnvSettings] = {}
    for env_name, settings in envs_raw.items():
        if not isinstance(settings, dict):
            raise reader.fail(f"environments.{env_name}", "an object", settings)
        reader.unknown(settings, _ENV_KEYS, f"environments.{env_name}.")
        environments[env_name] = EnvSettings(source=reader.opt_str(settings, "source", f"environments.{env_name}."))

    for where, name in [("secrets.source", default_source)] + [
        (f"environments.{e}.source", s.source) for e, s in environments.items() if s.source
    ]:
        if not is_known(name):
            raise ConfigError(
                f"{path.name}: unknown source {name!r} in {where}.",
                hint=f"Known sources: {', '.join(known_source_names())}.",
            )

    warnings = reader.warnings[:_MAX_WARNINGS]
    if len(reader.warnings) > _MAX_WARNINGS:
        warnings.append(f"{path.name}: {len(reader.warnings) - _MAX_WARNINGS} more warnings (not shown)")
    return SkclawConfig(
        path=path,
        wrangler_config=wrangler_config,
        envs=envs,
        protected_environments=protected,
        build=build,
        required=required,
        optional=optional,
        default_source=default_source,
        sources=sources,
        environments=environments,
        warnings=tuple(warnings),
    )


def load_config(project_dir: Path, explicit: str | None) -> SkclawConfig:
    path = find_config(project_dir, explicit)
    if path is None:
        return SkclawConfig()
    return parse_config(load_jsonc(path, what="skclaw config", unique_keys=True), path)
