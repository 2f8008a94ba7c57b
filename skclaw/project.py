"""The wrangler config (wrangler.json / .jsonc / .toml): environments, Worker names, D1 bindings.

skclaw calls wrangler's top-level configuration the environment ``default``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skclaw.errors import ConfigError, UsageError
from skclaw.jsonc import load_jsonc

DEFAULT_ENV = "default"
WRANGLER_CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


@dataclass(frozen=True)
class D1Database:
    binding: str
    name: str
    id: str | None
    migrations_dir: Path
    migrations_table: str

    def matches(self, wanted: str) -> bool:
        return wanted in (self.binding, self.name)


@dataclass(frozen=True)
class EnvTarget:
    """One environment, resolved the way wrangler resolves it."""

    name: str
    worker: str
    account_id: str | None
    d1_databases: tuple[D1Database, ...]
    required_secrets: tuple[str, ...]


@dataclass(frozen=True)
class WranglerProject:
    config_path: Path
    data: dict[str, Any]

    @property
    def directory(self) -> Path:
        return self.config_path.parent

    @property
    def env_names(self) -> list[str]:
        envs = self.data.get("env") or {}
        return sorted(envs) if isinstance(envs, dict) else []

    @property
    def has_env_blocks(self) -> bool:
        return bool(self.env_names)

    @property
    def all_envs(self) -> list[str]:
        """Every env block plus ``default`` (what --all-envs selects)."""
        return [*self.env_names, DEFAULT_ENV]

    def _block(self, env: str) -> dict[str, Any]:
        if env == DEFAULT_ENV:
            return self.data
        if env not in self.env_names:
            available = ", ".join([DEFAULT_ENV, *self.env_names])
            raise UsageError(
                f"Unknown environment {env!r} in {self.config_path.name}.",
                hint=f"Available environments: {available}.",
            )
        block = self.data["env"][env]
        if not isinstance(block, dict):
            raise ConfigError(f"{self.config_path.name}: env.{env} must be an object.")
        return block

    def check_env(self, env: str) -> None:
        self._block(env)

    def resolve(self, env: str) -> EnvTarget:
        block = self._block(env)
        top_name = self.data.get("name")
        if top_name is not None and not isinstance(top_name, str):
            raise ConfigError(f"{self.config_path.name}: name must be a string.")
        if env == DEFAULT_ENV:
            worker = top_name
        else:
            worker = block.get("name") or (f"{top_name}-{env}" if top_name else None)
        if not isinstance(worker, str) or not worker:
            raise ConfigError(
                f"{self.config_path.name} gives no Worker name for environment {env!r}.",
                hint='Add a top-level "name" (or env.<E>.name).',
            )
        account = block.get("account_id", self.data.get("account_id"))
        if account is not None and not isinstance(account, str):
            raise ConfigError(f"{self.config_path.name}: account_id must be a string.")
        return EnvTarget(
            name=env,
            worker=worker,
            account_id=account,
            d1_databases=tuple(self._d1(block, env)),
            required_secrets=self._required_secrets(block, env),
        )

    def _required_secrets(self, block: dict[str, Any], env: str) -> tuple[str, ...]:
        secrets = block.get("secrets")  # not inheritable in wrangler
        if secrets is None:
            return ()
        required = secrets.get("required", []) if isinstance(secrets, dict) else None
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            raise ConfigError(f"{self.config_path.name}: secrets.required of {env!r} must be a list of names.")
        return tuple(required)

    def _d1(self, block: dict[str, Any], env: str) -> list[D1Database]:
        raw = block.get("d1_databases", [])  # not inheritable: only the env's own block
        if not isinstance(raw, list):
            raise ConfigError(f"{self.config_path.name}: d1_databases of {env!r} must be a list.")
        out = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("binding"), str):
                raise ConfigError(f"{self.config_path.name}: every d1_databases entry of {env!r} needs a binding.")
            migrations_dir = item.get("migrations_dir") or "migrations"
            out.append(
                D1Database(
                    binding=item["binding"],
                    name=str(item.get("database_name") or item["binding"]),
                    id=item.get("database_id"),
                    migrations_dir=(self.directory / str(migrations_dir)).resolve(),
                    migrations_table=str(item.get("migrations_table") or "d1_migrations"),
                )
            )
        return out


def find_wrangler_config(project_dir: Path, configured: str | None) -> Path:
    if configured:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise ConfigError(f"wranglerConfig {path} does not exist.")
        return path
    for name in WRANGLER_CONFIG_NAMES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
        if candidate.exists():  # a directory or a named pipe (never opened: it would block)
            raise ConfigError(f"wrangler config {candidate} is not a regular file.")
    raise ConfigError(
        f"No wrangler config (wrangler.json, wrangler.jsonc, wrangler.toml) in {project_dir}.",
        hint="Run skclaw in the Worker project (-C DIR), or set wranglerConfig in .skclaw.jsonc.",
    )


def load_project(project_dir: Path, configured: str | None) -> WranglerProject:
    path = find_wrangler_config(project_dir, configured)
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read wrangler config {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"wrangler config {path} is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"wrangler config {path} is nested too deeply to be read.") from None
    elif path.suffix in (".json", ".jsonc"):
        data = load_jsonc(path, what="wrangler config")
    else:
        # wrangler silently reads an unknown extension as an empty config; refuse instead.
        raise ConfigError(f"wrangler config {path} must end in .json, .jsonc or .toml.")
    if not isinstance(data, dict):
        raise ConfigError(f"wrangler config {path} must be an object at the top level.")
    env_blocks = data.get("env")
    if env_blocks is not None and not isinstance(env_blocks, dict):
        raise ConfigError(f"wrangler config {path}: env must be an object.")
    return WranglerProject(config_path=path.resolve(), data=data)
