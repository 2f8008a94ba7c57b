"""What `deploy` checks before it builds: credentials, the Worker's required secrets, pending
remote D1 migrations (read in parallel), and the configured build command."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from skclaw.context import AppContext
from skclaw.errors import FailedError, RefusedError, SkclawError, WranglerError
from skclaw.project import D1Database, EnvTarget


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
