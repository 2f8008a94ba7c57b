"""`skclaw apply PLAN_FILE`: do exactly what a saved plan says, or refuse if the world moved."""

from __future__ import annotations

from pathlib import Path

import click

from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import UsageError
from skclaw.results import DeployResult, MigrateResult, ReleaseResult, SyncResult


@click.command("apply")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path), metavar="PLAN_FILE")
@common_options(env=False)
@run_command("apply")
def apply(app: AppContext, plan_file: Path) -> DeployResult | MigrateResult | ReleaseResult | SyncResult:
    """Apply a plan written with --plan-out. It re-reads the sources and Cloudflare first and refuses
    (exit 3, nothing changed, saying what moved) if anything differs; the consent gate still applies."""
    from skclaw import saved_plan
    from skclaw.commands.secrets import run_sync
    from skclaw.secrets import fingerprints

    document = saved_plan.read(plan_file, fingerprints.load_key(app.environ))
    command = document.get("command")
    options = document.get("options") or {}
    if command == "migrate":
        from skclaw.commands.migrate import run_migrate

        return run_migrate(
            app, env=options.get("env"), database=options.get("database"), remote=bool(options.get("remote")),
            local=bool(options.get("local")), list_only=False, dry_run=False,
            allow_no_bookmark=bool(options.get("allowNoBookmark")), expected=document,
        )
    if command == "deploy":
        from skclaw.commands.deploy import run_deploy

        return run_deploy(
            app, env=options.get("env"), dry_run=False, skip_build=bool(options.get("skipBuild")),
            with_secrets=bool(options.get("withSecrets")), message=options.get("message"),
            check_migrations=bool(options.get("checkMigrations")), expected=document,
        )
    if command == "release":
        from skclaw.commands.release import ReleaseOptions, run_release

        return run_release(app, env=options.get("env"), options=ReleaseOptions.from_json(options), expected=document)
    if command != "secrets sync":
        raise UsageError(f"{plan_file} is a plan of {command!r}; skclaw apply runs plans of `secrets sync`, "
                         "`migrate`, `deploy` and `release`.")
    envs = options.get("envs") or []
    if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
        raise UsageError(f"{plan_file} names no environments.")
    return run_sync(
        app, envs=tuple(envs), all_envs=False, source=options.get("source"), only=tuple(options.get("only") or ()),
        prune=bool(options.get("prune")), local=False, dry_run=False, method=str(options.get("method") or "bulk"),
        expected=document,
    )
