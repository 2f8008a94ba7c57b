"""The wrangler config (wrangler.json / .jsonc / .toml): environments, Worker names, D1 bindings.

skclaw calls wrangler's top-level configuration the environment ``default``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skclaw.errors import ConfigError, UsageError
from skclaw.jsonc import load_jsonc

DEFAULT_ENV = "default"
WRANGLER_CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
# Where build tools (the Cloudflare Vite plugin) leave a pointer to the config they built;
# `wrangler deploy` follows it when no --config is given.
DEPLOY_REDIRECT = Path(".wrangler") / "deploy" / "config.json"
# Env names end up in file names (.dev.vars.<env>, locks, envfile paths) and in wrangler's argv.
ENV_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
ENV_NAME_HINT = "Environment names use letters, digits, '-' and '_', and start with a letter or digit."


def validate_env_name(name: object, *, where: str) -> str:
    """An env name skclaw accepts, else exit 2 (before anything is read or written)."""
    if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60]) + "…"
        raise UsageError(f"Invalid environment name {shown} in {where}.", hint=ENV_NAME_HINT)
    return name


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
    #: the flattened config a build tool made for this env (deploy ships it), if any
    build_config: Path | None = None


@dataclass(frozen=True)
class RedirectedBuild:
    """`.wrangler/deploy/config.json` → a flattened config built for one env (wrangler's
    ``targetEnvironment``; none means the top level)."""

    deploy_config: Path
    config_path: Path
    data: dict[str, Any]

    @property
    def target_env(self) -> str:
        target = self.data.get("targetEnvironment")
        return target if isinstance(target, str) and target else DEFAULT_ENV

    @property
    def worker(self) -> str | None:
        name = self.data.get("name")
        return name if isinstance(name, str) and name else None


@dataclass(frozen=True)
class WranglerProject:
    config_path: Path
    data: dict[str, Any]
    redirect: RedirectedBuild | None = None
    #: `.skclaw.jsonc` `envs`: the project's envs for --all-envs, doctor, status (None: all)
    chosen_envs: tuple[str, ...] | None = None

    @property
    def directory(self) -> Path:
        """Where wrangler runs: the config's dir (for a build alone, the dir that holds .wrangler/)."""
        if self.redirect is not None and self.redirect_only:
            return self.redirect.deploy_config.parent.parent
        return self.config_path.parent

    @property
    def redirect_only(self) -> bool:
        """No wrangler config of the user's, only a build tool's redirect (wrangler deploys it)."""
        return self.redirect is not None and self.redirect.config_path == self.config_path

    @property
    def env_names(self) -> list[str]:
        if self.redirect is not None and self.redirect_only:
            # The flattened config is the env it was built for.
            target = self.redirect.target_env
            return [] if target == DEFAULT_ENV else [target]
        envs = self.data.get("env") or {}
        return sorted(envs) if isinstance(envs, dict) else []

    @property
    def has_env_blocks(self) -> bool:
        return bool(self.env_names)

    @property
    def top_level_is_env(self) -> bool:
        """With env blocks and no top-level name, the top level names no Worker: not an env."""
        if self.redirect_only:
            return not self.env_names
        return not self.has_env_blocks or bool(self.data.get("name"))

    @property
    def defined_envs(self) -> list[str]:
        """Every env block, plus ``default`` when the top level is an environment."""
        return [*self.env_names, *([DEFAULT_ENV] if self.top_level_is_env else [])]

    def _available(self) -> str:
        return ", ".join([*([DEFAULT_ENV] if self.top_level_is_env else []), *self.env_names])

    @property
    def all_envs(self) -> list[str]:
        """What --all-envs, doctor and status select: `envs` of .skclaw.jsonc, else every env."""
        return list(self.chosen_envs) if self.chosen_envs is not None else self.defined_envs

    def top_level_not_env_error(self, why: str) -> UsageError:
        if self.redirect is not None and self.redirect_only:
            target = self.redirect.target_env
            return UsageError(
                f"{why}: {self.config_path} (from {self.redirect.deploy_config}) is a build made for {target}.",
                hint=f"Choose it with --env {target}.",
            )
        return UsageError(
            f"{why}: the top level of {self.config_path.name} has no \"name\" and the config has env "
            "blocks, so the top level is not an environment.",
            hint=f"Choose one with --env: {', '.join(self.env_names)}.",
        )

    def _block(self, env: str) -> dict[str, Any]:
        if env == DEFAULT_ENV:
            if not self.top_level_is_env:
                raise self.top_level_not_env_error("--env default names no Worker")
            return self.data
        if env not in self.env_names:
            available = self._available()
            raise UsageError(
                f"Unknown environment {env!r} in {self.config_path.name}.",
                hint=f"Available environments: {available}.",
            )
        if self.redirect_only:
            return self.data
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
        build_config = None
        redirect = self.redirect
        if redirect is not None and redirect.target_env == env:
            # `wrangler deploy` ships the build, under the build's name and account.
            if redirect.worker is None:
                raise ConfigError(f"The built config {redirect.config_path} has no Worker name.")
            worker, build_config = redirect.worker, redirect.config_path
            account = redirect.data.get("account_id", account)
        if account is not None and not isinstance(account, str):
            raise ConfigError(f"{self.config_path.name}: account_id must be a string.")
        return EnvTarget(
            name=env,
            worker=worker,
            account_id=account,
            d1_databases=tuple(self._d1(block, env)),
            required_secrets=self._required_secrets(block, env),
            build_config=build_config,
        )

    def check_deployable(self, env: str) -> None:
        """A redirected build deploys only for the env it was built for (wrangler refuses too)."""
        redirect = self.redirect
        if redirect is None or redirect.target_env == env:
            return
        built = "the top level (no --env)" if redirect.target_env == DEFAULT_ENV else redirect.target_env
        asked = "the top level (no --env)" if env == DEFAULT_ENV else f"--env {env}"
        raise UsageError(
            f"The build in {redirect.config_path} (from {redirect.deploy_config}) was made for {built}, "
            f"not for {asked}; nothing was deployed.",
            hint=(
                "Rebuild for the top level (without CLOUDFLARE_ENV)" if env == DEFAULT_ENV
                else f"Rebuild for {env} (e.g. CLOUDFLARE_ENV={env} npm run build)"
            ) + ", or deploy "
            + ("without --env." if redirect.target_env == DEFAULT_ENV else f"with --env {redirect.target_env}."),
        )

    def wrangler_build(self, env: str) -> str | None:
        """wrangler's own custom build (`build.command`, inheritable): `wrangler deploy` runs it."""
        redirect = self.redirect
        if redirect is not None and redirect.target_env == env:
            build = redirect.data.get("build")
        else:
            block = self._block(env)
            build = block.get("build", self.data.get("build"))
        command = build.get("command") if isinstance(build, dict) else None
        return command if isinstance(command, str) and command.strip() else None

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
                    migrations_dir=(self.config_path.parent / str(migrations_dir)).resolve(),
                    migrations_table=str(item.get("migrations_table") or "d1_migrations"),
                )
            )
        return out


def find_wrangler_config(project_dir: Path, configured: str | None) -> Path:
    """wranglerConfig if set; else wrangler's own search: each name in the project dir and every
    ancestor before the next name (wrangler.json, then wrangler.jsonc, then wrangler.toml)."""
    if configured:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise ConfigError(f"wranglerConfig {path} does not exist.")
        return path
    for name in WRANGLER_CONFIG_NAMES:
        for directory in (project_dir, *project_dir.parents):
            candidate = directory / name
            if candidate.is_file():  # like wrangler: a directory or pipe of that name is passed over
                return candidate
    raise ConfigError(
        f"No wrangler config (wrangler.json, wrangler.jsonc, wrangler.toml) in {project_dir} or above it.",
        hint="Run skclaw in the Worker project (-C DIR), or set wranglerConfig in .skclaw.jsonc.",
    )


def _read_config(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        import tomllib  # only for wrangler.toml

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
    return data


class NotWorkersProjectError(ConfigError):
    """A Pages project or service environments: nothing skclaw can address (exit 2)."""


def check_workers_project(path: Path, data: dict[str, Any]) -> None:
    """Pages projects and service environments are not Workers skclaw can address: exit 2."""
    if "pages_build_output_dir" in data:
        raise NotWorkersProjectError(
            f"{path} is a Cloudflare Pages project (pages_build_output_dir); skclaw works on Workers only, "
            "and wrangler refuses Workers commands (secrets, deployments) there too. Nothing was done.",
            hint="Deploy Pages with `wrangler pages deploy` and manage its secrets with "
            "`wrangler pages secret`; or point skclaw at a Worker's config (-C DIR).",
        )
    if data.get("legacy_env") is False:
        raise NotWorkersProjectError(
            f"{path} sets legacy_env = false (service environments), which wrangler removed in 4.111; "
            "skclaw works on Workers with one Worker per environment (<name>-<env>). Nothing was done.",
            hint="Remove legacy_env (each env then deploys as its own Worker, <name>-<env>).",
        )


def find_redirect(project_dir: Path, user_config: Path | None) -> RedirectedBuild | None:
    """`.wrangler/deploy/config.json`, looked up as wrangler looks for it: in the project dir and
    its ancestors; it must sit beside the user's config; its configPath is relative to its dir."""
    found = next(
        (d / DEPLOY_REDIRECT for d in (project_dir, *project_dir.parents) if (d / DEPLOY_REDIRECT).is_file()),
        None,
    )
    if found is None:
        return None
    if user_config is not None and found != user_config.parent / DEPLOY_REDIRECT:
        raise ConfigError(
            f"Found both the wrangler config {user_config} and a deploy redirect {found}, and they do not "
            "share a base directory, so it is not clear which to deploy (wrangler refuses this too).",
            hint="Remove the stale .wrangler/deploy/config.json, or run skclaw where the build wrote it.",
        )
    pointer = load_jsonc(found, what="deploy redirect")
    target = pointer.get("configPath") if isinstance(pointer, dict) else None
    if not isinstance(target, str) or not target:
        raise ConfigError(f"The deploy redirect {found} has no \"configPath\".")
    config_path = (found.parent / target).resolve()
    if not config_path.is_file():
        raise ConfigError(
            f"The deploy redirect {found} points to {config_path}, which does not exist.",
            hint="Run the build again (it writes both), or remove the stale redirect.",
        )
    data = _read_config(config_path)
    check_workers_project(config_path, data)
    if data.get("env"):
        raise ConfigError(f"The built config {config_path} has env blocks; a redirected config must be flat.")
    target_env = data.get("targetEnvironment")
    if target_env is not None:
        validate_env_name(target_env, where=f"{config_path.name} targetEnvironment")
    return RedirectedBuild(deploy_config=found, config_path=config_path, data=data)


def load_project(
    project_dir: Path, configured: str | None, *, envs: Sequence[str] | None = None
) -> WranglerProject:
    try:
        path = find_wrangler_config(project_dir, configured)
    except ConfigError:
        # No config of the user's, but a build tool's redirect (Nitro, Astro, ...): wrangler
        # deploys the built config alone, and so does skclaw.
        built = None if configured else find_redirect(project_dir, None)
        if built is None:
            raise
        return _checked_envs(WranglerProject(
            config_path=built.config_path, data=built.data, redirect=built,
            chosen_envs=tuple(envs) if envs is not None else None,
        ))
    data = _read_config(path)
    check_workers_project(path, data)
    env_blocks = data.get("env")
    if env_blocks is not None and not isinstance(env_blocks, dict):
        raise ConfigError(f"wrangler config {path}: env must be an object.")
    for name in env_blocks or {}:
        validate_env_name(name, where=f"{path.name} (env.{name!r})")
    if DEFAULT_ENV in (env_blocks or {}):
        raise ConfigError(
            f"{path.name} has an env block named {DEFAULT_ENV!r}, which is skclaw's name for the top level.",
            hint="Rename that env block.",
        )
    project = WranglerProject(
        config_path=path.resolve(), data=data, redirect=find_redirect(project_dir, path.resolve()),
        chosen_envs=tuple(envs) if envs is not None else None,
    )
    if project.redirect is not None and project.redirect.target_env != DEFAULT_ENV:
        project.check_env(project.redirect.target_env)
    return _checked_envs(project)


def _checked_envs(project: WranglerProject) -> WranglerProject:
    """`envs` of .skclaw.jsonc must name envs the wrangler config has."""
    path = project.config_path
    for env in project.chosen_envs or ():
        if env == DEFAULT_ENV and not project.top_level_is_env:
            raise project.top_level_not_env_error(f"envs in .skclaw.jsonc lists {DEFAULT_ENV!r}")
        if env != DEFAULT_ENV and env not in project.env_names:
            raise ConfigError(
                f"envs in .skclaw.jsonc lists {env!r}, which {path.name} does not define.",
                hint=f"Environments in {path.name}: {', '.join(project.defined_envs)}.",
            )
    return project
