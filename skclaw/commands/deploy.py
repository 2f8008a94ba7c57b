"""`skclaw deploy`, `skclaw status` and `skclaw rollback`: ship an env's Worker, see what is live,
go back to an earlier version.

Every remote effect is one wrangler call (`deploy`, `rollback`); everything before it only reads
(`secret list`, `d1 migrations list`, `deployments status|list`). In a non-interactive run the
consent gate is answered before any of those reads, so a refused CI run never reaches the API.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from skclaw.cli import Outcome, common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import FailedError, RefusedError, SkclawError, WranglerError
from skclaw.project import DEFAULT_ENV, D1Database, EnvTarget
from skclaw.secrets.value import SecretValue
from skclaw.timefmt import ago
from skclaw.wrangler.deployments import BUILD_FAILED_RE, STRICT_ABORT_RE, TOTAL_UPLOAD_RE, version_id_from

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# ----------------------------------------------------------------------------- preflight pieces


def require_credentials(app: AppContext, env: str, *, rollback: bool = False) -> str:
    from skclaw.credentials import require_credentials as require

    if rollback:
        return require(app.environ, app.project.directory, env, outcome="nothing was rolled back")
    return require(app.environ, app.project.directory, env, outcome="nothing was deployed",
                   hint="`skclaw deploy --dry-run` works offline.")


@dataclass
class SecretCheck:
    worker_exists: bool | None = None  # None: not asked (no manifest, or --with-secrets)
    missing_required: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)


def check_worker_secrets(app: AppContext, target: EnvTarget) -> SecretCheck:
    """Which manifest secrets the Worker lacks. A Worker that does not exist yet lacks all."""
    from skclaw.wrangler import is_worker_not_found

    required, optional = app.manifest(target)
    if not required and not optional:
        return SecretCheck()
    try:
        present = set(app.wrangler.secret_names(target.name))
        exists = True
    except WranglerError as exc:
        if not is_worker_not_found(exc):
            raise
        present, exists = set(), False
    return SecretCheck(
        worker_exists=exists,
        missing_required=[k for k in required if k not in present],
        missing_optional=[k for k in optional if k not in present],
    )


def _has_local_migrations(db: D1Database) -> bool:
    return db.migrations_dir.is_dir() and any(db.migrations_dir.glob("*.sql"))


@dataclass
class MigrationCheck:
    binding: str
    name: str
    pending: list[str] | None  # None: could not be checked
    error: str | None = None


def check_pending_migrations(app: AppContext, target: EnvTarget) -> list[MigrationCheck]:
    """Pending remote migrations of each D1 binding that has local migration files (in parallel)."""

    def check(db: D1Database) -> MigrationCheck:
        try:
            pending = app.wrangler.d1_pending(target.name, db.binding, remote=True)
        except SkclawError as exc:  # the API, or output skclaw does not recognise
            return MigrationCheck(db.binding, db.name, None, exc.message)
        return MigrationCheck(db.binding, db.name, pending)

    databases = [db for db in target.d1_databases if db.id is not None and _has_local_migrations(db)]
    if len(databases) <= 1:
        return [check(db) for db in databases]
    with ThreadPoolExecutor(max_workers=min(4, len(databases))) as pool:
        return list(pool.map(check, databases))


def enforce_migrations(app: AppContext, env: str, checks: Sequence[MigrationCheck], *, refuse_pending: bool) -> None:
    """Warn about pending migrations; with --check-migrations on a protected env, refuse."""
    from skclaw import policy

    protection = app.protection(env)
    enforce = refuse_pending and protection.protected
    out = app.output
    for check in checks:
        label = f"{check.binding} ({check.name})"
        if check.pending is None:
            if enforce:
                raise FailedError(
                    f"Could not check the pending migrations of {label}: {check.error}; nothing was deployed.",
                    hint=f"Check them with `skclaw migrate --env {env} --remote --list`.",
                )
            out.warn(f"could not check pending migrations of {label}: {check.error}")
        elif check.pending:
            names = ", ".join(check.pending)
            refusal = policy.pending_migrations_refusal(protection, enforce=refuse_pending,
                                                        pending=check.pending, label=label)
            if refusal:
                raise RefusedError(refusal, hint=f"Apply them first with `skclaw migrate --env {env} --remote`.")
            plural = "s" if len(check.pending) != 1 else ""
            out.warn(
                f"{label} has {len(check.pending)} pending remote migration{plural}: {names}. "
                f"Apply them with `skclaw migrate --env {env} --remote` if this code needs them."
            )


def run_build(app: AppContext) -> str | None:
    """Run the configured build command in the project directory; its output goes to stderr."""
    from skclaw import process

    command = app.config.build
    if not command:
        return None
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise FailedError(f"The build command {command!r} cannot be parsed: {exc}.") from None
    if not argv:
        return None
    app.output.step(f"build: {command}")
    try:
        code = process.run_streaming(argv, cwd=app.project_dir, env=app.environ)
    except OSError as exc:
        raise FailedError(
            f"The build command could not start: {exc}; nothing was deployed.",
            hint="Fix `build` in .skclaw.jsonc (it runs without a shell: use `sh -c '…'` for one), "
            "or pass --skip-build.",
        ) from None
    if code != 0:
        raise FailedError(
            f"The build failed (`{command}` exited {code}); nothing was deployed.",
            hint="Fix the build (its output is above), or pass --skip-build to deploy what is there.",
        )
    return command


@contextmanager
def secrets_file(values: Mapping[str, SecretValue]) -> Iterator[Path]:
    """A file of the values as JSON, for `wrangler deploy --secrets-file`, gone afterwards however
    the deploy ends (signals included).

    On Linux it is a memfd handed over as ``/proc/<pid>/fd/<n>``: the values never touch a disk
    (``/dev/fd/<n>`` would not do: wrangler re-executes itself, and the child's fd table differs).
    Elsewhere a 0600 file in a 0700 temporary directory, removed on every exit path.
    """
    data = json.dumps({key: value.reveal() for key, value in values.items()}, ensure_ascii=False).encode("utf-8")
    if sys.platform.startswith("linux") and hasattr(os, "memfd_create"):
        fd = os.memfd_create("skclaw-secrets", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            yield Path(f"/proc/{os.getpid()}/fd/{fd}")
        finally:
            os.close(fd)
        return
    directory = Path(tempfile.mkdtemp(prefix="skclaw-deploy-"))
    path = directory / "secrets.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


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
) -> Outcome:
    """Build and deploy an environment's Worker with `wrangler deploy`.

    Before anything is built: the env resolves, wrangler and credentials are present, and the
    Worker has every required secret (or --with-secrets brings them along).
    """
    from skclaw import audit
    from skclaw.safety import request_consent

    out = app.output
    env = app.select_env(env)
    app.project.check_deployable(env)  # a build made for another env: exit 2, nothing read
    target = app.target(env)
    wrangler = app.wrangler
    version = wrangler.require_minimum()
    result: dict[str, Any] = {
        "environment": env,
        "worker": target.worker,
        "versionId": None,
        "dryRun": dry_run,
        "status": None,
        "targets": [],
        "url": None,
        "message": message,
        "secrets": [],
        "config": str(target.build_config or app.project.config_path),
        # wrangler runs its own build.command during `wrangler deploy`, --skip-build or not
        "wranglerBuild": app.project.wrangler_build(env),
    }

    if with_secrets and not version.secrets_file:
        raise FailedError(
            f"--with-secrets needs wrangler 4.74 or newer (`deploy --secrets-file`); found {version}.",
            hint=f"Upgrade with `npm i -D wrangler@4`, or push secrets first with "
            f"`skclaw secrets sync --env {env}` and deploy without --with-secrets.",
        )
    if not dry_run:
        require_credentials(app, env)
        app.lock_env(env)  # before the preflight reads: what is checked is what gets deployed

    def gate() -> None:
        request_consent(app, env=env, action="deploy", target_lines=consent_lines(app, target, result))

    # Non-interactive: answer the gate before reading any remote state (a refused run touches
    # nothing). Interactive: ask last, after the checks and the build, with the plan in view.
    if not dry_run and not app.interactive:
        gate()

    values: dict[str, SecretValue] = {}
    if with_secrets:
        from skclaw.secrets.manifest import read_env_secrets, require_complete

        secrets = read_env_secrets(app, env, enumerate_extra=False)
        require_complete(secrets)
        values = {k: v for k, v in secrets.values.items() if k in secrets.manifest}
        result["secrets"] = sorted(values)
        result["secretsSource"] = secrets.source.describe()
        for key in secrets.missing_optional:
            out.warn(
                f"optional secret {key} is not in {secrets.source.describe()}; "
                "the Worker keeps its current value, if any"
            )

    if not dry_run:
        # The preflight reads are independent: one round trip of wall time, not two.
        with ThreadPoolExecutor(max_workers=2) as pool:
            secrets_check = None if with_secrets else pool.submit(check_worker_secrets, app, target)
            migrations_check = pool.submit(check_pending_migrations, app, target)
        # Leaving the pool waited for both: no read outlives the run, whichever one failed.
        if secrets_check is not None:
            check = secrets_check.result()
            result["firstDeploy"] = None if check.worker_exists is None else not check.worker_exists
            if check.missing_required:
                missing = ", ".join(check.missing_required)
                why = (
                    f"{target.worker} does not exist yet (first deploy), so it has none of its "
                    f"required secrets: {missing}"
                    if check.worker_exists is False
                    else f"{target.worker} lacks required secret(s): {missing}"
                )
                raise FailedError(
                    f"{env}: {why}; nothing was deployed.",
                    hint=f"Push them with `skclaw secrets sync --env {env}`, "
                    "or deploy them with the "
                    f"code in one version: `skclaw deploy --env {env} --with-secrets`.",
                )
            for key in check.missing_optional:
                out.warn(f"optional secret {key} is not set on {target.worker}")
        migrations = migrations_check.result()
        result["pendingMigrations"] = {c.binding: c.pending for c in migrations}
        enforce_migrations(app, env, migrations, refuse_pending=check_migrations)

    result["build"] = None if skip_build else run_build(app)
    if result["wranglerBuild"]:
        out.info(f"wrangler will run its build.command during deploy: {result['wranglerBuild']}"
                 + (" (--skip-build skips only the build of .skclaw.jsonc)" if skip_build else ""))

    if dry_run:
        return _dry_run(app, target, result)

    if app.interactive:
        gate()

    out.step(f"deploying {target.worker} ({env})")
    try:
        with ExitStack() as stack:
            file = stack.enter_context(secrets_file(values)) if with_secrets else None
            done = wrangler.deploy(env, message=message, secrets_file=file)
    except WranglerError as exc:
        audit.record(
            app.project_dir,
            command="deploy",
            env=env,
            worker=target.worker,
            outcome="failed",
            keys=result["secrets"],
            error=exc.message,
        )
        if STRICT_ABORT_RE.search(exc.message + exc.detail):
            raise FailedError(
                f"wrangler refused to overwrite changes to {target.worker} made outside wrangler "
                "(dashboard or API edits, or a config var that would shadow a secret); "
                "nothing was deployed.",
                hint="skclaw deploys with wrangler's --strict so such changes are never "
                "overwritten silently. Review them in the dashboard; to overwrite them "
                f"deliberately, run `wrangler deploy --env {env}` yourself (it shows the diff).",
            ) from None
        if not BUILD_FAILED_RE.search(exc.detail or exc.message):  # a build error uploads nothing
            exc.hint = exc.hint or (
                f"If it failed after the upload, a new version may exist: check `skclaw status --env {env}`."
            )
        else:
            exc.message = f"{exc.message}; nothing was deployed"
        raise
    record = done.record("deploy") or {}
    version_id = version_id_from(record.get("version_id"), done.stdout)
    targets = [str(t) for t in record.get("targets") or []]
    result.update(
        versionId=version_id,
        targets=targets,
        url=next((t for t in targets if t.startswith("https://")), None),
    )
    out.detail(done.stdout)
    if version_id is None:
        result["status"] = "failed"
        audit.record(
            app.project_dir,
            command="deploy",
            env=env,
            worker=target.worker,
            outcome="failed",
            keys=result["secrets"],
            error="no version id",
        )
        message = f"wrangler deploy finished without reporting a new version; check `skclaw status --env {env}`"
        out.error(message)
        return Outcome(result, 1, message)
    result["status"] = "ok"
    audit.record(
        app.project_dir,
        command="deploy",
        env=env,
        worker=target.worker,
        outcome="ok",
        keys=result["secrets"],
        versionId=version_id,
        message=message,
    )
    out.success(f"deployed {target.worker} ({env}): version {version_id}")
    for item in targets:
        out.info(f"  {item}")
    return Outcome(result)


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


def _dry_run(app: AppContext, target: EnvTarget, result: dict[str, Any]) -> Outcome:
    out = app.output
    with tempfile.TemporaryDirectory(prefix="skclaw-dry-run-") as tmp:
        outdir = Path(tmp) / "out"
        done = app.wrangler.deploy_dry_run(target.name, outdir)
        bundle = bundle_report(outdir, done.stdout)
    out.detail(done.stdout)
    result.update(status="dry-run", versionId=None, bundle=bundle)
    size = f"{bundle['totalBytes']} bytes"
    if bundle["upload"]:
        size += f"; wrangler: {bundle['upload']} / gzip {bundle['gzip']}"
    out.success(f"dry run of {target.worker} ({target.name}): bundle {size}; nothing was deployed")
    return Outcome(result)


# ----------------------------------------------------------------------------- status


def deployment_summary(raw: Mapping[str, Any]) -> dict[str, Any]:
    annotations = raw.get("annotations") or {}
    return {
        "id": raw.get("id"),
        "created": raw.get("created_on"),
        "author": raw.get("author_email"),
        "message": annotations.get("workers/message"),
        "source": annotations.get("workers/triggered_by") or raw.get("source"),
        "versions": [
            {"versionId": v.get("version_id"), "percentage": v.get("percentage")} for v in raw.get("versions") or []
        ],
    }


def live_deployment(app: AppContext, env: str) -> dict[str, Any]:
    """`wrangler deployments status --json`, summarised."""
    return deployment_summary(app.wrangler.deployments_status(env))


def main_version(deployment: Mapping[str, Any]) -> str | None:
    """The version at 100 %, or None during a split (gradual) deployment."""
    for item in deployment.get("versions") or []:
        if float(item.get("percentage") or 0) >= 100:
            return str(item.get("versionId"))
    return None


def _describe_traffic(deployment: Mapping[str, Any]) -> str:
    return ", ".join(f"{v['versionId']} ({float(v['percentage'] or 0):g}%)" for v in deployment["versions"]) or "none"


def _status_of(app: AppContext, env: str) -> dict[str, Any]:
    from skclaw.wrangler import is_worker_not_found

    target = app.target(env)
    report: dict[str, Any] = {
        "worker": target.worker,
        "status": "ok",
        "deployment": None,
        "error": None,
    }
    try:
        report["deployment"] = live_deployment(app, env)
    except WranglerError as exc:
        report["error"] = (
            f"the Worker {target.worker} does not exist (never deployed)" if is_worker_not_found(exc) else exc.message
        )
    except SkclawError as exc:
        report["error"] = exc.message
    if report["error"]:
        report["status"] = "failed"
    return report


@click.command("status")
@common_options(multiple_env=True, acts=False)
@run_command("status")
def status(app: AppContext, envs: tuple[str, ...]) -> Outcome:
    """Show the live deployment of each environment's Worker (versions and their traffic).

    Without --env: the top level, or every env of `envs` when .skclaw.jsonc lists them.
    """
    from skclaw.context import check_env_options

    check_env_options(envs, app.environ)
    chosen = not envs and "SKCLAW_ENV" not in app.environ and app.config.envs is not None
    selected = app.select_envs(envs, all_envs=chosen)
    for env in selected:
        app.target(env)  # config errors are exit 2 before anything runs
    app.wrangler.require_minimum()
    with ThreadPoolExecutor(max_workers=min(4, len(selected))) as pool:
        reports = dict(zip(selected, pool.map(lambda e: _status_of(app, e), selected), strict=True))
    out = app.output
    for env, report in reports.items():  # the result: stdout, so `skclaw status | grep` works
        deployment = report["deployment"]
        if report["error"]:
            out.error(f"{env} · {report['worker']}: {report['error']}")
            continue
        out.result(f"{env} · {report['worker']}")
        out.result(f"  deployment {deployment['id']} {ago(deployment['created'])} by {deployment['author'] or '?'}")
        if deployment["message"]:
            out.result(f"  message: {deployment['message']}")
        for item in deployment["versions"]:
            out.result(f"  {float(item['percentage'] or 0):>5g}%  {item['versionId']}")
    failed = [env for env, report in reports.items() if report["error"]]
    result = {"environments": reports}
    if failed:
        return Outcome(result, 1, f"status failed for {', '.join(failed)}")
    return Outcome(result)


# ----------------------------------------------------------------------------- rollback


def previous_stable_version(deployments: Sequence[Mapping[str, Any]]) -> str | None:
    """What `wrangler rollback` picks without a VERSION_ID: deployments newest first, skip the
    newest, take the first that sent 100 % to one version."""
    ordered = sorted(deployments, key=lambda d: str(d.get("created_on") or ""), reverse=True)
    for deployment in ordered[1:]:
        for item in deployment.get("versions") or []:
            if float(item.get("percentage") or 0) >= 100:
                return str(item.get("version_id"))
    return None


def list_deployments(app: AppContext, env: str) -> list[dict[str, Any]]:
    return app.wrangler.deployments_list(env)


ROLLBACK_LOSSES = (
    "secrets changed since that version are reverted to its values (wrangler forces past its check)",
    "D1 is not rolled back: the data stays as it is now",
)


@click.command("rollback")
@click.argument("version_id", required=False, metavar="[VERSION_ID]")
@click.option("-m", "--message", metavar="TEXT", help="Message of the rollback deployment.")
@common_options()
@run_command("rollback")
def rollback(app: AppContext, version_id: str | None, env: str | None, message: str | None) -> Outcome:
    """Send 100 % of traffic back to VERSION_ID (default: the previous stable version).

    Always destructive: secrets changed since that version are reverted, and D1 data is not.
    """
    from skclaw import audit
    from skclaw.errors import UsageError
    from skclaw.safety import request_consent

    if version_id is not None and not UUID_RE.match(version_id):
        raise UsageError(
            f"{version_id!r} is not a Worker version id (a UUID).",
            hint="See the ids with `skclaw status` or `wrangler versions list`.",
        )
    out = app.output
    env = app.select_env(env)
    target = app.target(env)
    app.wrangler.require_minimum()
    require_credentials(app, env, rollback=True)
    app.lock_env(env)
    lines: list[str] = [f"account:  {app.account_label(target)}", f"Worker:   {target.worker}"]

    def gate() -> None:
        request_consent(
            app,
            env=env,
            action="rollback",
            target_lines=lines,
            destructive=True,
            destructive_items=ROLLBACK_LOSSES,
        )

    if not app.interactive:
        gate()  # before any read: a refused CI run touches nothing
        shown = len(lines)

    if version_id is None:
        # One `deployments list` gives both what is live (the newest) and the previous stable.
        deployments = list_deployments(app, env)
        if not deployments:
            raise FailedError(f"{target.worker} has no deployments; nothing was changed.")
        live = deployment_summary(max(deployments, key=lambda d: str(d.get("created_on") or "")))
        version_id = previous_stable_version(deployments)
        chosen_from = next((deployment_summary(d) for d in sorted(
            deployments, key=lambda d: str(d.get("created_on") or ""), reverse=True)[1:]
            if any(str(v.get("version_id")) == version_id for v in d.get("versions") or [])), None)
        if version_id is None:
            raise FailedError(
                f"{target.worker} has no earlier deployment with a version at 100 %; nothing was changed.",
                hint="Name the version: `skclaw rollback VERSION_ID --env ENV` (see `wrangler versions list`).",
            )
        chosen = "the previous stable version"
        if chosen_from is not None:
            chosen += f", live {ago(chosen_from['created'])}"
            if chosen_from.get("message"):
                chosen += f', "{chosen_from["message"]}"'
    else:
        live = live_deployment(app, env)
        chosen = "given"
    from_version = main_version(live)
    result: dict[str, Any] = {
        "environment": env,
        "worker": target.worker,
        "fromVersionId": from_version,
        "versionId": version_id,
        "verified": False,
        "message": message,
        "status": None,
    }
    if from_version == version_id:
        out.success(f"{version_id} is already live at 100% on {target.worker}; nothing to do")
        result.update(verified=True, status="ok")
        return Outcome(result)

    since = f", since {ago(live['created'])}" if live.get("created") else ""
    said = f', "{live["message"]}"' if live.get("message") else ""
    lines += [
        f"live now: {_describe_traffic(live)}{since}{said}",
        f"after:    {version_id} (100%, {chosen})",
    ]
    if message:
        lines.append(f"message:  {message}")
    if app.interactive:
        gate()
    else:
        for line in lines[shown:]:  # the rest of the plan block, once
            out.info(f"  {line}", always=True)

    out.step(f"rolling {target.worker} ({env}) back to {version_id}")
    try:
        done = app.wrangler.rollback(env, version_id, message)
        out.detail(done.stdout)
    except WranglerError as exc:
        audit.record(
            app.project_dir,
            command="rollback",
            env=env,
            worker=target.worker,
            outcome="failed",
            versionId=version_id,
            error=exc.message,
        )
        raise
    # wrangler 4.86 can print SUCCESS after aborting; trust only what is live afterwards.
    after = live_deployment(app, env)
    live_now = main_version(after)
    result["verified"] = live_now == version_id
    if not result["verified"]:
        result["status"] = "failed"
        audit.record(
            app.project_dir,
            command="rollback",
            env=env,
            worker=target.worker,
            outcome="unverified",
            versionId=version_id,
            live=_describe_traffic(after),
        )
        message = (
            f"wrangler reported the rollback, but {version_id} is not live at "
            f"100% on {target.worker} (live: {_describe_traffic(after)})"
        )
        out.error(message)
        return Outcome(result, 1, message)
    result["status"] = "ok"
    audit.record(
        app.project_dir,
        command="rollback",
        env=env,
        worker=target.worker,
        outcome="ok",
        versionId=version_id,
        fromVersionId=from_version,
        message=message,
    )
    out.success(f"rolled {target.worker} ({env}) back: {version_id} is live at 100% (verified)")
    return Outcome(result)
