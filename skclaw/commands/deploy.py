"""`skclaw deploy`: preflight (skclaw.preflight), build, consent, one `wrangler deploy`, the new
version id. In a non-interactive run the consent gate is answered before any read, so a refused CI
run never reaches the API."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from skclaw import audit
from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import FailedError, UsageError, WranglerError
from skclaw.preflight import (
    MigrationCheck,
    check_pending_migrations,
    check_worker_secrets,
    enforce_migrations,
    require_credentials,
    run_build,
)
from skclaw.project import DEFAULT_ENV, EnvTarget
from skclaw.results import DeployPreflight, DeployResult
from skclaw.secrets.file import secrets_file
from skclaw.secrets.value import SecretValue
from skclaw.wrangler.core import WranglerVersion
from skclaw.wrangler.deployments import (
    BUILD_FAILED_RE,
    REQUIRED_SECRETS_RE,
    STRICT_ABORT_RE,
    TOTAL_UPLOAD_RE,
    version_id_from,
)


def bundle_report(outdir: Path, stdout: str) -> dict[str, Any]:
    files = {
        str(p.relative_to(outdir)): p.stat().st_size
        for p in sorted(outdir.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }
    match = TOTAL_UPLOAD_RE.search(stdout)
    return {
        "files": files,
        "totalBytes": sum(size for name, size in files.items() if not name.endswith(".map")),
        "upload": match[1] if match else None,
        "gzip": match[2] if match else None,
    }


# ----------------------------------------------------------------------------- deploy


@click.command("deploy")
@click.option("--dry-run", is_flag=True, help="Build and bundle offline; deploy nothing.")
@click.option(
    "--skip-build",
    is_flag=True,
    help="Do not run the build of .skclaw.jsonc. wrangler's own build.command (wrangler config) "
    "still runs: `wrangler deploy` runs it itself.",
)
@click.option(
    "--with-secrets",
    is_flag=True,
    help="Upload the env's manifest secrets from its source in the same version as the code.",
)
@click.option("-m", "--message", metavar="TEXT", help="Message of the new version and deployment.")
@click.option(
    "--check-migrations",
    is_flag=True,
    help="Refuse on protected envs when remote D1 migrations are pending (default: warn).",
)
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the plan (the bundle's SHA-256, the version deployed now, secret fingerprints) and "
              "deploy nothing; `skclaw apply FILE` deploys exactly that later, or refuses if anything moved.")
@common_options()
@run_command("deploy")
def deploy(
    app: AppContext,
    env: str | None,
    dry_run: bool,
    skip_build: bool,
    with_secrets: bool,
    message: str | None,
    check_migrations: bool,
    plan_out: Path | None,
) -> DeployResult:
    """Build and deploy an environment's Worker with `wrangler deploy`.

    Before anything is built: the env resolves, wrangler and credentials are present, and the
    Worker has every required secret (or --with-secrets brings them along). When the env's
    wrangler `secrets.required` lists them all, `wrangler deploy` checks them itself, within the
    upload: a Worker that lacks one gets no new version.
    """
    if plan_out is not None and dry_run:
        raise UsageError("--plan-out writes a plan and deploys nothing: not with --dry-run.")
    return run_deploy(app, env=env, dry_run=dry_run, skip_build=skip_build, with_secrets=with_secrets,
                      message=message, check_migrations=check_migrations, plan_out=plan_out)


def bundle_digest(app: AppContext, env: str) -> str:
    """SHA-256 over the files `wrangler deploy` would upload (bundled offline, source maps aside)."""
    import hashlib

    with tempfile.TemporaryDirectory(prefix="skclaw-plan-") as tmp:
        outdir = Path(tmp) / "out"
        app.wrangler.deploy_dry_run(env, outdir)
        digest = hashlib.sha256()
        for path in sorted(outdir.rglob("*")):
            if path.is_file() and path.name != "README.md" and not path.name.endswith(".map"):
                digest.update(str(path.relative_to(outdir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def deployed_version(app: AppContext, env: str) -> str | None:
    """The version the env's Worker serves now (None: a first deploy), for a saved plan."""
    from skclaw.secrets.sync import current_version
    from skclaw.wrangler import is_worker_not_found

    try:
        return current_version(app, env)
    except WranglerError as exc:
        if not is_worker_not_found(exc):
            raise
        return None  # a first deploy


def deploy_plan(app: AppContext, env: str, target: EnvTarget, values: Mapping[str, SecretValue],
                options: dict[str, Any], *, deployed: Future[str | None] | None = None) -> dict[str, Any]:
    """The plan document; ``deployed`` is the read of the deployed version when already started."""
    deployed_now = deployed.result() if deployed is not None else deployed_version(app, env)
    return {"command": "deploy", "options": options,
            "environments": {env: code_plan_entry(app, env, target, deployed_now, values)}}


def code_plan_entry(app: AppContext, env: str, target: EnvTarget, deployed: str | None,
                    values: Mapping[str, SecretValue]) -> dict[str, Any]:
    """What a saved plan of new code holds per env (deploy, release): the account, the Worker, the
    version deployed now, the bundle's SHA-256 and the secrets' keyed fingerprints."""
    from skclaw.secrets import fingerprints

    key = fingerprints.load_key(app.environ)
    return {
        "account": target.account_id or app.environ.get("CLOUDFLARE_ACCOUNT_ID") or None,
        "worker": target.worker,
        "deployedVersion": deployed,
        "bundle": bundle_digest(app, env),
        "secrets": {k: fingerprints.fingerprint(key, target.worker, k, v) for k, v in sorted(values.items())},
    }


def run_deploy(
    app: AppContext, *, env: str | None, dry_run: bool, skip_build: bool, with_secrets: bool, message: str | None,
    check_migrations: bool, plan_out: Path | None = None, expected: dict[str, Any] | None = None,
) -> DeployResult:
    """The deploy pipeline: preflight, build, (save the plan | compare with a saved one), consent, deploy."""
    from skclaw.safety import request_consent

    planning = plan_out is not None

    out = app.output
    env = app.select_env(env)
    app.project.check_deployable(env)  # a build made for another env: exit 2, nothing read
    target = app.target(env)
    wrangler = app.wrangler
    version = wrangler.require_minimum()
    done = DeployResult(
        environment=env, worker=target.worker, message=message, dry_run=dry_run,
        config=str(target.build_config or app.project.config_path),
        wrangler_build=app.project.wrangler_build(env),
    )

    if with_secrets and not version.secrets_file:
        raise FailedError(
            f"--with-secrets needs wrangler 4.74 or newer (`deploy --secrets-file`); found {version}.",
            hint=f"Upgrade with `npm i -D wrangler@4`, or push secrets first with "
            f"`skclaw secrets sync --env {env}` and deploy without --with-secrets.",
        )
    if not dry_run:
        require_credentials(app, env)
    if not (dry_run or planning):
        app.lock_env(env)  # before the preflight reads: what is checked is what gets deployed

    def gate() -> None:
        request_consent(app, env=env, action="deploy", target_lines=consent_lines(app, target, done.to_json()))

    # Non-interactive: answer the gate before reading any remote state (a refused run touches
    # nothing). Interactive: ask last, after the checks and the build, with the plan in view.
    if not (dry_run or planning) and not app.interactive:
        gate()

    values: dict[str, SecretValue] = {}
    if with_secrets:
        from skclaw.secrets.manifest import read_env_secrets, require_complete

        secrets = read_env_secrets(app, env, enumerate_extra=False)
        require_complete(secrets)
        values = {k: v for k, v in secrets.values.items() if k in secrets.manifest}
        done = replace(done, secrets=tuple(sorted(values)), secrets_source=secrets.source.describe())
        for key in secrets.missing_optional:
            out.warn(
                f"optional secret {key} is not in {secrets.source.describe()}; "
                "the Worker keeps its current value, if any"
            )

    deployed: Future[str | None] | None = None
    # When the config wrangler deploys declares every manifest secret in `secrets.required` (and
    # there are no optional ones to warn about), wrangler checks them itself, atomically with the
    # upload: the `secret list` start before it would repeat that check.
    wrangler_checks = not with_secrets and wrangler_checks_secrets(app, target, version)
    # The pending-migrations check can refuse only with --check-migrations on a protected env; at a
    # terminal its warning belongs before the question, and a saved plan reviews it. Otherwise it
    # can only warn, so it runs beside the deploy (its warning follows the deploy's line), not
    # before it: a wrangler start less on the deploy's critical path.
    migrations_beside = not (dry_run or planning or expected is not None or app.interactive
                             or (check_migrations and app.protection(env).protected))
    if not dry_run:
        # The preflight reads are independent: one round trip of wall time, not two. A saved plan's
        # deployed version, and at a terminal the account's name (`wrangler whoami`, for the
        # consent), are read in the same round.
        with ThreadPoolExecutor(max_workers=4) as pool:
            secrets_check = None if with_secrets or wrangler_checks else pool.submit(check_worker_secrets, app, target)
            migrations_check = None if migrations_beside else pool.submit(check_pending_migrations, app, target)
            if planning or expected is not None:
                deployed = pool.submit(deployed_version, app, env)
            if app.interactive:
                pool.submit(lambda: app.account_names)
            if not planning:
                pool.submit(audit.actor)  # the audit's `git config` start, off the critical path
        # Leaving the pool waited for both: no read outlives the run, whichever one failed.
        first_deploy: bool | None = None
        if secrets_check is not None:
            check = secrets_check.result()
            first_deploy = None if check.worker_exists is None else not check.worker_exists
            if check.missing_required:
                raise missing_secrets_error(env, target.worker, ", ".join(check.missing_required),
                                            first_deploy=first_deploy)
            for key in check.missing_optional:
                out.warn(f"optional secret {key} is not set on {target.worker}")
        done = replace(done, preflight=DeployPreflight(
            {}, secrets_checked=secrets_check is not None, first_deploy=first_deploy))
        if migrations_check is not None:
            done = with_migrations(app, env, done, migrations_check.result(), refuse_pending=check_migrations)

    done = replace(done, build=None if skip_build else run_build(app))
    if done.wrangler_build:
        out.info(f"wrangler will run its build.command during deploy: {done.wrangler_build}"
                 + (" (--skip-build skips only the build of .skclaw.jsonc)" if skip_build else ""))

    if dry_run:
        return _dry_run(app, target, done)

    if planning or expected is not None:
        from skclaw import saved_plan

        options = {"env": env, "skipBuild": skip_build, "withSecrets": with_secrets, "message": message,
                   "checkMigrations": check_migrations}
        document = deploy_plan(app, env, target, values, options, deployed=deployed)
        if expected is not None:
            saved_plan.refuse_if_moved(expected, document, outcome="nothing was deployed")
        else:
            from skclaw.secrets import fingerprints

            assert plan_out is not None
            saved_plan.write(plan_out, saved_plan.seal(document, fingerprints.load_key(app.environ)))
            return replace(done, status="dry-run", dry_run=True, plan_file=str(plan_out))

    if app.interactive:
        gate()

    out.step(f"deploying {target.worker} ({env})")
    beside: Future[list[MigrationCheck]] | None = None
    try:
        with ExitStack() as stack:
            if migrations_beside:
                pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))  # waited for on leaving
                beside = pool.submit(check_pending_migrations, app, target)
            file = stack.enter_context(secrets_file(values)) if with_secrets else None
            shipped = wrangler.deploy(env, message=message, secrets_file=file)
    except WranglerError as exc:
        if beside is not None:  # finished when its pool was left: a failed deploy reports it too
            done = with_migrations(app, env, done, beside.result(), refuse_pending=check_migrations)
        failed = replace(done, status="failed", error=exc.message)
        lacking = REQUIRED_SECRETS_RE.search(exc.message + "\n" + exc.detail)
        if wrangler_checks and lacking:
            raise missing_secrets_error(env, target.worker, lacking[1].strip(), first_deploy=None) from None
        if STRICT_ABORT_RE.search(exc.message + exc.detail):
            refused = FailedError(
                f"wrangler refused to overwrite changes to {target.worker} made outside wrangler "
                "(dashboard or API edits, or a config var that would shadow a secret); "
                "nothing was deployed.",
                hint="skclaw deploys with wrangler's --strict so such changes are never "
                "overwritten silently. Review them in the dashboard; to overwrite them "
                f"deliberately, run `wrangler deploy --env {env}` yourself (it shows the diff).",
            )
            refused.partial_result = failed
            raise refused from None
        if not BUILD_FAILED_RE.search(exc.detail or exc.message):  # a build error uploads nothing
            exc.hint = exc.hint or (
                f"If it failed after the upload, a new version may exist: check `skclaw status --env {env}`."
            )
        else:
            exc.message = f"{exc.message}; nothing was deployed"
        exc.partial_result = failed
        raise
    if beside is not None:
        done = with_migrations(app, env, done, beside.result(), refuse_pending=check_migrations)
    record = shipped.record("deploy") or {}
    version_id = version_id_from(record.get("version_id"), shipped.stdout)
    out.detail(shipped.stdout)
    done = replace(done, version_id=version_id, targets=tuple(str(t) for t in record.get("targets") or []))
    return replace(done, status="failed" if version_id is None else "ok")


def wrangler_checks_secrets(app: AppContext, target: EnvTarget, version: WranglerVersion) -> bool:
    """Whether `wrangler deploy` itself refuses a Worker that lacks a manifest secret: wrangler 4.77+,
    the env's own config (not a build's flattened one) declares every required secret in
    `secrets.required`, and no optional secret asks for a warning (only a list can give it)."""
    required, optional = app.manifest(target)
    return (bool(required) and not optional and target.build_config is None
            and version.deploy_checks_required_secrets and set(required) <= set(target.required_secrets))


def missing_secrets_error(env: str, worker: str, missing: str, *, first_deploy: bool | None) -> FailedError:
    why = (
        f"{worker} does not exist yet (first deploy), so it has none of its required secrets: {missing}"
        if first_deploy
        else f"{worker} lacks required secret(s): {missing}"
    )
    return FailedError(
        f"{env}: {why}; nothing was deployed.",
        hint=f"Push them with `skclaw secrets sync --env {env}`, or deploy them with the "
        f"code in one version: `skclaw deploy --env {env} --with-secrets`.",
    )


def with_migrations(app: AppContext, env: str, done: DeployResult, checks: list[MigrationCheck], *,
                    refuse_pending: bool) -> DeployResult:
    """The pending-migrations check in the result, and its warning (or refusal)."""
    enforce_migrations(app, env, checks, refuse_pending=refuse_pending)
    pending = {c.binding: None if c.pending is None else tuple(c.pending) for c in checks}
    assert done.preflight is not None
    return replace(done, preflight=replace(done.preflight, pending_migrations=pending))


def consent_lines(app: AppContext, target: EnvTarget, result: Mapping[str, Any]) -> list[str]:
    lines = [
        f"account:  {app.account_label(target)}",
        f"Worker:   {target.worker}",
    ]
    redirect = app.project.redirect
    if target.build_config is not None and redirect is not None:
        main = redirect.data.get("main") or "?"
        lines.append(f"code:     the build in {target.build_config} (main: {main}; "
                     f"redirected by {redirect.deploy_config})")
    else:
        lines.append(f"code:     {app.project.config_path.name} (main: {_main_module(app, target.name)})")
    if result.get("build"):
        lines.append(f"built by: {result['build']}")
    if result.get("wranglerBuild"):
        lines.append(f"wrangler build: {result['wranglerBuild']} (wrangler runs it during deploy, "
                     "also with --skip-build)")
    if result.get("secrets"):
        lines.append(
            f"secrets:  {', '.join(result['secrets'])} in the same version (from {result.get('secretsSource')})"
        )
    else:
        lines.append("secrets:  unchanged (the Worker keeps its current secrets)")
    if result.get("firstDeploy"):
        lines.append("first deploy: the Worker does not exist yet")
    if result.get("message"):
        lines.append(f"message:  {result['message']}")
    return lines


def _main_module(app: AppContext, env: str) -> str:
    data = app.project.data
    block = (data.get("env") or {}).get(env) if env != DEFAULT_ENV else None
    main = (block or {}).get("main") or data.get("main")
    return str(main) if main else "?"


def _dry_run(app: AppContext, target: EnvTarget, done: DeployResult) -> DeployResult:
    with tempfile.TemporaryDirectory(prefix="skclaw-dry-run-") as tmp:
        outdir = Path(tmp) / "out"
        built = app.wrangler.deploy_dry_run(target.name, outdir)
        bundle = bundle_report(outdir, built.stdout)
    app.output.detail(built.stdout)
    return replace(done, status="dry-run", version_id=None, bundle=bundle)
