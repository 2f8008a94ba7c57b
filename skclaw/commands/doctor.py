"""`skclaw doctor`: is this machine and project ready to ship?"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import click

from skclaw.cli import Outcome, common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import SkclawError
from skclaw.project import DEFAULT_ENV

AUTH_VARIABLES = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_ACCOUNT_ID")


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str


def _check_tools(app: AppContext, checks: list[Check]) -> None:
    from skclaw import process

    try:
        wrangler = app.wrangler
        version = wrangler.require_minimum()
        checks.append(Check("wrangler", "ok", f"{version} at {wrangler.executable}"))
    except SkclawError as exc:
        checks.append(Check("wrangler", "fail", str(exc)))
    try:
        done = process.run(["node", "--version"], env=app.environ, timeout=30)
        status = "ok" if done.returncode == 0 else "fail"
        checks.append(Check("node", status, done.stdout.strip() or done.stderr.strip()))
    except OSError:
        checks.append(Check("node", "fail", "node is not on PATH; install Node.js 20+"))


def _check_auth(app: AppContext, checks: list[Check]) -> None:
    from skclaw.credentials import credentials_origin

    present = [name for name in AUTH_VARIABLES if app.environ.get(name)]
    origin = credentials_origin(app.environ, app.project_dir, DEFAULT_ENV)
    if origin:
        detail = origin + (f"; set: {', '.join(present)}" if present else "")
        checks.append(Check("auth", "ok", detail))
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


def _check_env(app: AppContext, env: str) -> dict[str, Any]:
    from skclaw.envsecrets import read_env_secrets

    target = app.target(env)
    report: dict[str, Any] = {
        "worker": target.worker,
        "protected": app.is_protected(env),
        "protection": app.protection(env).reason,
        "d1": [{"binding": d.binding, "name": d.name, "id": d.id} for d in target.d1_databases],
        "source": app.config.source_for(env),
        "sourceReachable": None,
        "missingRequired": [],
        "error": None,
    }
    try:
        secrets = read_env_secrets(app, env, enumerate_extra=False)
        report["source"] = secrets.source.describe()
        report["sourceReachable"] = True
        report["missingRequired"] = secrets.missing_required
        for warning in getattr(secrets.source, "warnings", []):
            app.output.warn(warning)
    except SkclawError as exc:
        report["sourceReachable"] = False
        report["error"] = exc.message
    return report


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
def doctor(app: AppContext, envs: tuple[str, ...]) -> Outcome:
    """Check wrangler, node, auth, config, sources and required secrets (every env by default)."""
    checks: list[Check] = []
    environments: dict[str, Any] = {}
    try:
        cfg = app.config
        checks.append(Check("skclaw config", "ok", str(cfg.path) if cfg.path else "none (defaults)"))
        project = app.project
        checks.append(Check("wrangler config", "ok", str(project.config_path)))
    except SkclawError as exc:
        checks.append(Check("config", "fail", str(exc)))
        project = None
    _check_tools(app, checks)
    _check_auth(app, checks)
    if project is not None:
        selected = app.select_envs(envs) if envs else project.all_envs
        for env in selected:
            report = _check_env(app, env)
            environments[env] = report
            if report["error"]:
                checks.append(Check(f"env:{env}", "fail", report["error"]))
            elif report["missingRequired"]:
                checks.append(Check(
                    f"env:{env}", "fail",
                    f"{report['source']} lacks required: {', '.join(report['missingRequired'])}",
                ))
            else:
                checks.append(Check(f"env:{env}", "ok", f"{report['worker']} · {report['source']}"))

    if project is not None:
        _check_protection(app, checks)

    out = app.output
    marks = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}
    from rich.markup import escape

    for check in checks:
        out.console.print(f"{marks[check.status]:>20}  {escape(check.name)}: {escape(check.detail)}")
    failed = [c.name for c in checks if c.status == "fail"]
    result = {"checks": [asdict(c) for c in checks], "environments": environments}
    if failed:
        return Outcome(result, 1, f"{len(failed)} check(s) failed: {', '.join(failed)}")
    out.success("all checks passed")
    return Outcome(result)
