"""One AppContext per run: paths, config, output mode, interactivity, the wrangler facade."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skclaw.config import SkclawConfig, load_config
from skclaw.errors import UsageError
from skclaw.options import ActionOptions, GlobalOptions
from skclaw.output import Output
from skclaw.project import DEFAULT_ENV, EnvTarget, WranglerProject, load_project, validate_env_name

if TYPE_CHECKING:
    from skclaw.policy import ProjectFacts, Protection
    from skclaw.wrangler import Wrangler


def check_env_options(envs: tuple[str, ...] | list[str], environ: Mapping[str, str]) -> None:
    """--env values (or SKCLAW_ENV when no --env is given) must be valid env names: exit 2."""
    for env in envs:
        validate_env_name(env, where="--env")
    if not envs and "SKCLAW_ENV" in environ:
        # Set but empty is bad input too: a CI template's empty variable must not mean "top level".
        validate_env_name(environ["SKCLAW_ENV"], where="SKCLAW_ENV")


def ci_detected(environ: Mapping[str, str]) -> bool:
    value = environ.get("CI")
    return value is not None and value.strip().lower() != "false"


def noninteractive_reason(
    action: ActionOptions, environ: Mapping[str, str], stdin_tty: bool, stderr_tty: bool
) -> str | None:
    """Why this run cannot ask (None: it can). DESIGN.md: --non-interactive, --json, CI set (not
    false), or stdin or stderr not a terminal. Prompts and plans render on stderr, so stdout may be
    piped (`skclaw ... | tee log`) and the run still asks."""
    if action.non_interactive:
        return "--non-interactive was given"
    if action.json:
        return "--json was given"
    if ci_detected(environ):
        return f"CI is set (CI={environ.get('CI')})"
    if not stdin_tty:
        return "stdin is not a terminal"
    if not stderr_tty:
        return "stderr is not a terminal"
    return None


def decide_interactive(
    action: ActionOptions, environ: Mapping[str, str], stdin_tty: bool, stderr_tty: bool
) -> bool:
    return noninteractive_reason(action, environ, stdin_tty, stderr_tty) is None


class AppContext:
    def __init__(
        self,
        globals_: GlobalOptions,
        action: ActionOptions,
        *,
        command: str,
        environ: Mapping[str, str] | None = None,
        output: Output | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.globals = globals_
        self.action = action
        self.command = command
        self.environ = dict(os.environ if environ is None else environ)
        self.output = output or Output(
            json_mode=action.json,
            color=globals_.color and "NO_COLOR" not in self.environ,
            verbosity=globals_.verbosity,
        )
        reason = noninteractive_reason(action, self.environ, sys.stdin.isatty(), sys.stderr.isatty())
        if interactive is None:
            interactive = reason is None
        self.interactive = interactive
        #: why the run is non-interactive, for refusals ("stdin is not a terminal")
        self.noninteractive_reason = None if interactive else (reason or "non-interactive")
        self._locks: Any = None

    def lock_env(self, env: str) -> None:
        """Hold the (project, env) lock until this run ends; idempotent."""
        if self._locks is None:
            from skclaw.lock import EnvLocks

            self._locks = EnvLocks(self.project_dir, self.command, self.action.lock_timeout)
        self._locks.acquire(env)

    def close(self) -> None:
        if self._locks is not None:
            self._locks.release_all()

    @property
    def start_dir(self) -> Path:
        """Where skclaw was started (-C DIR or the cwd): config and wrangler are searched from here."""
        return self.globals.project_dir

    @cached_property
    def project_dir(self) -> Path:
        """The Worker project's root: the directory of .skclaw.jsonc, else of the wrangler config,
        else where skclaw started. .skclaw/ (audit, locks), relative source paths, the build and
        init's files live here, whichever subdirectory skclaw runs from."""
        from skclaw.errors import SkclawError

        try:
            config = self.config
            if config.path is not None and not self._explicit_config:
                return config.path.parent
            return self.project.directory
        except SkclawError:
            return self.start_dir

    @property
    def _explicit_config(self) -> str | None:
        return self.globals.config or self.environ.get("SKCLAW_CONFIG") or None

    @cached_property
    def config(self) -> SkclawConfig:
        explicit = self._explicit_config
        config = load_config(self.start_dir, explicit)
        for warning in config.warnings:
            self.output.warn(warning)
        return config

    @cached_property
    def project(self) -> WranglerProject:
        # wranglerConfig is relative to the skclaw config's dir; the search starts where skclaw did.
        config = self.config
        found = config.path is not None and not self._explicit_config
        base = config.path.parent if found and config.wrangler_config and config.path else self.start_dir
        return load_project(base, config.wrangler_config, envs=config.envs)

    @cached_property
    def wrangler(self) -> Wrangler:
        from skclaw.wrangler import Wrangler, find_wrangler

        executable, origin = find_wrangler(self.globals.wrangler, self.environ, self.start_dir)
        self.output.detail(f"wrangler: {executable} (from {origin})")
        timeout = 300.0
        raw = self.environ.get("SKCLAW_WRANGLER_TIMEOUT")
        if raw:
            try:
                timeout = float(raw)
            except ValueError:
                raise UsageError(f"SKCLAW_WRANGLER_TIMEOUT must be a number of seconds, not {raw!r}.") from None
            if not 1 <= timeout <= 86400:
                raise UsageError("SKCLAW_WRANGLER_TIMEOUT must be between 1 and 86400 seconds.")
        project = self.project
        redirect = project.redirect
        return Wrangler(
            executable, config_path=project.config_path, cwd=project.directory, environ=self.environ,
            timeout=timeout,
            redirects={redirect.target_env: redirect.config_path} if redirect is not None else None,
            progress=self.output.activity,
        )

    # -- environments ---------------------------------------------------------------------
    def select_envs(self, envs: tuple[str, ...] | list[str], all_envs: bool = False) -> list[str]:
        if all_envs and envs:
            raise UsageError("Use either --env or --all-envs, not both.")
        check_env_options(envs, self.environ)  # before anything is read
        if all_envs:
            selected = self.project.all_envs
        elif envs:
            selected = list(dict.fromkeys(envs))
        elif "SKCLAW_ENV" in self.environ:
            selected = [self.environ["SKCLAW_ENV"]]
        else:
            if not self.project.top_level_is_env:
                raise self.project.top_level_not_env_error("No --env given")
            selected = [DEFAULT_ENV]
        for env in selected:
            self.project.check_env(env)
        self.policy_facts  # noqa: B018 - a protectedEnvironments typo is exit 2 for every command
        from skclaw import policy

        refusal = policy.confirm_env_outside_run(self.action.confirm_env, selected)
        if refusal:
            from skclaw.errors import RefusedError

            raise RefusedError(refusal)
        return selected

    def select_env(self, env: str | None) -> str:
        return self.select_envs([env] if env is not None else [])[0]

    def target(self, env: str) -> EnvTarget:
        return self.project.resolve(env)

    @cached_property
    def policy_facts(self) -> ProjectFacts:
        """What the safety policy needs to know about this project (exit 2 for a
        protectedEnvironments entry that names no env: a typo must not unprotect production)."""
        from skclaw import policy
        from skclaw.errors import SkclawError

        project = self.project
        resources: dict[str, policy.EnvResources] = {}
        for env in [*project.env_names, DEFAULT_ENV]:
            try:
                target = project.resolve(env)
            except SkclawError:  # e.g. a top level without a name: it addresses no Worker
                resources[env] = policy.EnvResources(None)
                continue
            ids = tuple(db.id for db in target.d1_databases if db.id)
            resources[env] = policy.EnvResources(target.worker, ids)
        facts = policy.ProjectFacts(
            env_blocks=tuple(project.env_names), resources=resources,
            configured=self.config.protected_environments,
        )
        unknown = policy.unknown_protected_envs(facts)
        if unknown:
            raise UsageError(
                f"protectedEnvironments names {', '.join(unknown)}, which {project.config_path.name} does not "
                "define; a typo there would leave production unprotected.",
                hint=f"Environments: {', '.join([*project.env_names, DEFAULT_ENV])}. Fix protectedEnvironments "
                f"in {self.config.path.name if self.config.path else '.skclaw.jsonc'}.",
            )
        return facts

    def protection(self, env: str) -> Protection:
        from skclaw import policy

        return policy.protection(env, self.policy_facts)

    def is_protected(self, env: str) -> bool:
        return self.protection(env).protected

    @cached_property
    def account_names(self) -> dict[str, str]:
        """id -> name of the accounts the credentials see. At a terminal (a person reads the plan)
        from `wrangler whoami`, once per run; elsewhere nothing: CI does not pay a wrangler start for
        a label, and a failure here never stops a run."""
        if not self.interactive:
            return {}
        from skclaw.errors import SkclawError

        try:
            who = self.wrangler.whoami(timeout=10.0)  # a label is not worth a long wait
        except SkclawError:
            return {}
        accounts = who.get("accounts") or []
        return {str(a["id"]): str(a.get("name") or "") for a in accounts if isinstance(a, dict) and a.get("id")}

    def account_label(self, target: EnvTarget) -> str:
        """The account as `gh auth status` / `wrangler whoami` show it: "name (id)", and where the
        id comes from."""
        if target.account_id:
            account, origin = target.account_id, "wrangler config"
        elif self.environ.get("CLOUDFLARE_ACCOUNT_ID"):
            account, origin = self.environ["CLOUDFLARE_ACCOUNT_ID"], "CLOUDFLARE_ACCOUNT_ID"
        else:
            names = self.account_names
            if len(names) == 1:
                account, name = next(iter(names.items()))
                return f"{name} ({account}), the token's only account"
            return "wrangler's default account"
        known = self.account_names.get(account)
        return f"{known} ({account}) from {origin}" if known else f"{account} (from {origin})"

    def manifest(self, target: EnvTarget) -> tuple[list[str], list[str]]:
        """(required, optional) secret names for an env: config + the env's wrangler secrets.required."""
        from skclaw.config import validate_secret_name

        required = list(dict.fromkeys([*self.config.required, *target.required_secrets]))
        optional = [k for k in dict.fromkeys(self.config.optional) if k not in required]
        for name in required + optional:
            validate_secret_name(name, where=f"the manifest of {target.name}")
        return required, optional
