"""`skclaw doctor`: is this machine and project ready to ship?"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import SkclawError
from skclaw.project import DEFAULT_ENV
from skclaw.results import Check, D1Ref, DoctorEnv, DoctorResult

if TYPE_CHECKING:
    from skclaw.wrangler import Wrangler

AUTH_VARIABLES = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_ACCOUNT_ID")


def fix_for(check: Check, app: AppContext) -> str | None:
    """The next step for a failed check (shown in doctor's closing list)."""
    if check.fix:
        return check.fix
    name, detail = check.name, check.detail
    if name == "wrangler":
        return "npm i -D wrangler   (or point skclaw at one: --wrangler PATH / SKCLAW_WRANGLER)"
    if name == "node":
        return "install Node.js 20 or newer"
    if name == "auth":
        if "could not be reached" in detail:
            return "check the network (and CLOUDFLARE_API_BASE_URL, HTTPS_PROXY), then re-run skclaw doctor"
        return "export CLOUDFLARE_API_TOKEN=<a token with Workers Scripts: Edit>   (or run: npx wrangler login)"
    if name.startswith("env:"):
        env = name.removeprefix("env:")
        flag = "" if env == DEFAULT_ENV else f" --env {env}"
        if "cannot be used here" in detail:
            return (f"pick a source that works here: set \"environments\": {{\"{env}\": {{\"source\": \"envfile\"}}}} "
                    "in .skclaw.jsonc (or vault / environ)")
        if "missing" in detail:
            return f"printf %s \"$VALUE\" | skclaw secrets set KEY{flag}   (for each missing KEY)"
    if name in ("config", "skclaw config"):
        return "fix .skclaw.jsonc (the message above names the line), or re-create it: skclaw init --yes"
    return None


def _check_tools(app: AppContext, checks: list[Check]) -> Wrangler | None:
    """Check wrangler and node; the usable wrangler facade, or None."""
    from skclaw import process

    wrangler: Wrangler | None = None
    try:
        found = app.wrangler
        version = found.require_minimum()
        checks.append(Check("wrangler", "ok", f"{version} at {found.executable}"))
        wrangler = found
    except SkclawError as exc:
        checks.append(Check("wrangler", "fail", str(exc)))
    try:
        done = process.run(["node", "--version"], env=app.environ, timeout=30)
        status = "ok" if done.returncode == 0 else "fail"
        checks.append(Check("node", status, done.stdout.strip() or done.stderr.strip()))
    except OSError:
        checks.append(Check("node", "fail", "node is not on PATH; install Node.js 20+"))
    return wrangler


def _account_label(app: AppContext, accounts: list[Any]) -> str:
    """The account wrangler will use, as "name (id)" when whoami lists it."""
    wanted = app.environ.get("CLOUDFLARE_ACCOUNT_ID") or None
    try:
        configured = app.project.data.get("account_id")
        wanted = configured if isinstance(configured, str) and configured else wanted
    except SkclawError:
        pass
    listed = [a for a in accounts if isinstance(a, dict)]
    labels = {str(a.get("id")): f"{a.get('name') or '?'} ({a.get('id')})" for a in listed}
    if wanted:
        return labels.get(wanted, f"{wanted} (not among the token's accounts)")
    if len(labels) == 1:
        return next(iter(labels.values()))
    return f"none chosen; the token sees {len(labels)}: {', '.join(labels.values())}"


def _verify_token(app: AppContext, wrangler: Wrangler, checks: list[Check], origin: str, present: list[str]) -> None:
    """Credentials that exist are not credentials that work: ask Cloudflare (a read)."""
    try:
        who = wrangler.whoami(timeout=60.0)
    except SkclawError as exc:
        offline = getattr(exc, "transient", False)
        why = "Cloudflare could not be reached (offline?)" if offline else "Cloudflare did not accept them"
        checks.append(Check("auth", "fail", f"{origin}: {why}: {exc.message}"))
        return
    if not who.get("loggedIn"):
        checks.append(Check("auth", "fail", f"{origin}: wrangler whoami says not logged in"))
        return
    detail = f"{origin}; verified with Cloudflare ({who.get('authType') or 'token'})"
    if present:
        detail += f"; set: {', '.join(present)}"
    checks.append(Check("auth", "ok", detail))
    checks.append(Check("account", "ok", _account_label(app, list(who.get("accounts") or []))))


def _check_auth(app: AppContext, checks: list[Check], wrangler: Wrangler | None) -> None:
    from skclaw.credentials import credentials_origin

    present = [name for name in AUTH_VARIABLES if app.environ.get(name)]
    origin = credentials_origin(app.environ, app.project_dir, DEFAULT_ENV)
    if origin and wrangler is not None:
        _verify_token(app, wrangler, checks, origin, present)
    elif origin:
        checks.append(Check("auth", "fail", f"{origin}: not verified (no usable wrangler or wrangler config)"))
    else:
        checks.append(Check(
            "auth", "fail", "no CLOUDFLARE_API_TOKEN and no `wrangler login` state; set the token (CI) or log in"
        ))
    for name, bad in (("CLOUDFLARE_ENV", None), ("WRANGLER_LOG_SANITIZE", "false")):
        value = app.environ.get(name)
        if value is not None and (bad is None or value.lower() == bad):
            checks.append(Check(f"env:{name}", "warn", f"{name} is set; skclaw removes it for wrangler"))
    dotenvs = sorted(p.name for p in app.project_dir.glob(".env*") if p.is_file())
    if dotenvs:
        checks.append(Check(
            "dotenv", "warn",
            f"{', '.join(dotenvs)} in the project feed wrangler's own environment (auth, account, base URL)",
        ))


def _check_env(app: AppContext, env: str) -> DoctorEnv:
    from skclaw.secrets.manifest import read_env_secrets

    target = app.target(env)
    report = DoctorEnv(
        worker=target.worker, protected=app.is_protected(env), protection=app.protection(env).reason,
        d1=tuple(D1Ref(d.binding, d.name, d.id) for d in target.d1_databases), source=app.config.source_for(env),
    )
    try:
        secrets = read_env_secrets(app, env, enumerate_extra=False)
    except SkclawError as exc:
        return replace(report, source_reachable=False, error=exc.message, fix=exc.hint)
    for warning in getattr(secrets.source, "warnings", []):
        app.output.warn(warning)
    return replace(report, source=secrets.source.describe(), source_reachable=True,
                   missing_required=tuple(secrets.missing_required))


def _check_protection(app: AppContext, checks: list[Check]) -> None:
    """Which envs are protected and why; a warning when none is (DESIGN: Safety policy)."""
    from skclaw import policy

    try:
        facts = app.policy_facts
    except SkclawError as exc:
        checks.append(Check("protection", "fail", exc.message))
        return
    envs = [*facts.env_blocks, DEFAULT_ENV]
    protected = [p for p in (policy.protection(env, facts) for env in envs) if p.protected]
    if not protected:
        checks.append(Check(
            "protection", "warn",
            "no environment is protected: every change runs without consent; list production's env in "
            "protectedEnvironments of .skclaw.jsonc",
        ))
        return
    how = "inferred" if facts.inferred else "protectedEnvironments"
    names = ", ".join(p.env + (f" (shares {p.resource} with {p.shared_with})" if p.shared_with else "")
                      for p in protected)
    checks.append(Check("protection", "ok", f"protected ({how}): {names}"))


@click.command("doctor")
@common_options(multiple_env=True, acts=False)
@run_command("doctor")
def doctor(app: AppContext, envs: tuple[str, ...]) -> DoctorResult:
    """Check wrangler, node, auth, config, sources and required secrets (every env by default)."""
    from skclaw.errors import UsageError
    from skclaw.project import NotWorkersProjectError

    checks: list[Check] = []
    environments: dict[str, DoctorEnv] = {}
    bad_project: UsageError | None = None  # a wrangler project skclaw cannot use: exit 2
    project = None
    try:
        cfg = app.config
        checks.append(Check("skclaw config", "ok", str(cfg.path) if cfg.path else "none (defaults)"))
    except SkclawError as exc:
        checks.append(Check("config", "fail", str(exc)))
    else:
        try:
            project = app.project
        except UsageError as exc:
            checks.append(Check("wrangler config", "fail", str(exc)))
            bad_project = exc
        else:
            where = str(project.config_path)
            if project.redirect is not None:
                where += (f"; deploy follows {project.redirect.deploy_config} to the build in "
                          f"{project.redirect.config_path} (for {project.redirect.target_env})")
            checks.append(Check("wrangler config", "ok", where))
    if not isinstance(bad_project, NotWorkersProjectError):
        wrangler = _check_tools(app, checks) if project is not None else None
        _check_auth(app, checks, wrangler)
    if project is not None:
        selected = app.select_envs(envs) if envs else project.all_envs
        for env in selected:
            report = _check_env(app, env)
            environments[env] = report
            if report.error:
                checks.append(Check(f"env:{env}", "fail", report.error, report.fix))
            elif report.missing_required:
                missing = report.missing_required
                flag = "" if env == DEFAULT_ENV else f" --env {env}"
                checks.append(Check(
                    f"env:{env}", "fail",
                    f"required secret(s) missing from {report.source}: {', '.join(missing)}",
                    "; ".join(f'printf %s "$VALUE" | skclaw secrets set {key}{flag}' for key in missing),
                ))
            else:
                checks.append(Check(f"env:{env}", "ok", f"{report.worker} · {report.source}"))

    if project is not None:
        _check_protection(app, checks)

    checks = [replace(c, fix=fix_for(c, app)) if c.status == "fail" else c for c in checks]
    return DoctorResult(tuple(checks), environments, bad_project.message if bad_project is not None else None)
