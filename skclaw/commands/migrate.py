"""`skclaw migrate`: D1 migrations, linted offline, gated, with a restore point.

A run goes through these steps; any of them can stop it:

1. Resolve the env, its D1 database and the location (local or remote); print the target.
2. Policy: a protected env is only migrated ``--remote``; otherwise no wrangler D1 command runs,
   so no local copy of production's database is ever created.
3. Read state in one ``d1 execute``: wrangler's migrations ledger, read as ``d1 migrations list``
   reads it (pending = the files not in it, in wrangler's order), and skclaw's checksum table
   (have applied files been edited since?); a remote non-interactive run reads the restore point
   beside it.
4. Lint what is pending (:mod:`skclaw.migrations`, a canary replay). ``--list`` and
   ``--dry-run`` stop here.
5. Consent (:func:`skclaw.safety.request_consent`).
6. Remote: record a D1 Time Travel bookmark and print the exact restore command.
7. ``d1 migrations apply`` (never retried: a migration may have landed), then record the
   SHA-256 of each file applied in ``skclaw_migration_checksums``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from skclaw import audit
from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import (
    FailedError,
    InterruptedRun,
    RefusedError,
    SkclawError,
    UsageError,
    WranglerError,
)
from skclaw.project import DEFAULT_ENV, D1Database, EnvTarget
from skclaw.results import D1Ref, MigrateResult
from skclaw.wrangler import WranglerResult
from skclaw.wrangler.d1 import (
    APPLIED,
    FAILED,
    failed_migration,
    parse_apply_statuses,
)

if TYPE_CHECKING:
    from skclaw.migrations import Finding

COMMAND = "migrate"
CHECKSUM_TABLE = "skclaw_migration_checksums"


# -- the target ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    env: str
    worker: str
    account: str
    database: D1Database
    remote: bool
    protected: bool
    explicit_location: bool

    @property
    def location(self) -> str:
        return "remote" if self.remote else "local"

    def lines(self) -> list[str]:
        db = self.database
        where = (
            "REMOTE (the Cloudflare database)"
            if self.remote
            else "LOCAL (wrangler's Miniflare copy under .wrangler/state"
            + ("" if self.explicit_location else "; the default, use --remote for Cloudflare")
            + ")"
        )
        return [
            f"account:  {self.account if self.remote else 'none (local copy)'}",
            f"env:      {self.env}{' (protected)' if self.protected else ''}",
            f"worker:   {self.worker}",
            f"D1:       {db.name} ({db.id or 'no database_id'}), binding {db.binding}",
            f"target:   {where}",
        ]

    def database_json(self) -> dict[str, str | None]:
        db = self.database
        return {"binding": db.binding, "name": db.name, "id": db.id}


def select_database(env_target: EnvTarget, wanted: str | None) -> D1Database:
    """The env's D1 database named by binding or database name (the only one by default)."""
    env = env_target.name
    where = "the top level" if env == DEFAULT_ENV else f"env.{env}"
    databases = env_target.d1_databases
    if not databases:
        raise UsageError(
            f"no D1 binding in env {env}",
            hint=f"Add a d1_databases entry to {where} of the wrangler config "
            "(d1_databases is not inherited from the top level).",
        )
    available = ", ".join(f"{d.binding} ({d.name})" for d in databases)
    if wanted is None:
        if len(databases) == 1:
            return databases[0]
        raise UsageError(
            f"env {env} has {len(databases)} D1 databases: {available}",
            hint="Choose one with --database BINDING or --database NAME.",
        )
    for db in databases:
        if db.binding == wanted:
            return db
    by_name = [db for db in databases if db.name == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise UsageError(
            f"{len(by_name)} D1 bindings of env {env} use the database {wanted}: "
            + ", ".join(d.binding for d in by_name),
            hint="Choose one with --database BINDING.",
        )
    raise UsageError(f"no D1 database {wanted!r} in env {env}", hint=f"Available: {available}.")


def restore_command(database_name: str, bookmark: str, env: str) -> str:
    argv = ["wrangler", "d1", "time-travel", "restore", database_name, "--bookmark", bookmark]
    if env != DEFAULT_ENV:
        argv += ["--env", env]
    return shlex.join(argv)


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def checksum_sql(hashes: Mapping[str, str], applied_at: str, *, drop: Sequence[str] = ()) -> str:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {CHECKSUM_TABLE} "
        "(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, applied_at TEXT NOT NULL);"
    ]
    if drop:
        names = ", ".join(sql_literal(name) for name in drop)
        statements.append(f"DELETE FROM {CHECKSUM_TABLE} WHERE name IN ({names});")
    if hashes:
        rows = ", ".join(
            f"({sql_literal(name)}, {sql_literal(digest)}, {sql_literal(applied_at)})"
            for name, digest in hashes.items()
        )
        statements.append(f"INSERT OR REPLACE INTO {CHECKSUM_TABLE} (name, sha256, applied_at) VALUES {rows};")
    return " ".join(statements)


# -- the D1 database, through wrangler ------------------------------------------------------------


class D1Client:
    """The wrangler D1 calls of one target (database, env, local or remote)."""

    def __init__(self, app: AppContext, target: Target) -> None:
        self._wrangler = app.wrangler
        self._target = target
        self._db = target.database.binding

    def read_state(self, *, checksums: bool = True) -> tuple[list[str], dict[str, str]]:
        """(names in wrangler's migrations ledger, {file: sha256} skclaw recorded), in one
        `d1 execute`. The checksums are empty when not asked for or when their table does not
        exist yet (then the ledger is read again alone: once per database, before skclaw's
        first apply to it)."""
        db = self._target.database
        also = [f"SELECT name, sha256 FROM {CHECKSUM_TABLE};"] if checksums else []
        try:
            applied, extra = self._wrangler.d1_applied(self._target.env, self._db, table=db.migrations_table,
                                                       remote=self._target.remote, also=also)
        except WranglerError as exc:
            if not (also and f"no such table: {CHECKSUM_TABLE}" in f"{exc.message}\n{exc.detail}"):
                raise
            applied, extra = self._wrangler.d1_applied(self._target.env, self._db, table=db.migrations_table,
                                                       remote=self._target.remote)
        rows = extra[0] if extra else []
        return applied, {str(row["name"]): str(row["sha256"]) for row in rows if "name" in row and "sha256" in row}

    def pending(self) -> list[str]:
        """The files `d1 migrations apply` would apply now: those not in the ledger, in its order."""
        from skclaw.migrations.order import list_migration_files

        applied = set(self.read_state(checksums=False)[0])
        return [name for name in list_migration_files(self._target.database.migrations_dir) if name not in applied]

    def bookmark(self) -> str:
        return self._wrangler.d1_bookmark(self._target.env, self._db)

    def apply(self) -> WranglerResult:
        return self._wrangler.d1_apply(self._target.env, self._db, remote=self._target.remote)

    def record_checksums(self, hashes: Mapping[str, str], *, drop: Sequence[str] = ()) -> None:
        if not hashes and not drop:
            return
        applied_at = datetime.now(UTC).isoformat(timespec="seconds")
        # Idempotent (INSERT OR REPLACE, DELETE), so retrying a transient failure is safe.
        self._wrangler.d1_execute(self._target.env, self._db, checksum_sql(hashes, applied_at, drop=drop),
                                  remote=self._target.remote, what=f"recording checksums in {CHECKSUM_TABLE}")


# -- the command ----------------------------------------------------------------------------------


@click.command("migrate")
@common_options()
@click.option(
    "--database", metavar="BINDING|NAME", help="The env's D1 database (default: its only one)."
)
@click.option("--remote", is_flag=True, help="The Cloudflare database (needed on protected envs).")
@click.option("--local", is_flag=True, help="wrangler's local copy (default on unprotected envs).")
@click.option(
    "--list", "list_only", is_flag=True, help="Show applied and pending migrations; change nothing."
)
@click.option(
    "--dry-run", is_flag=True, help="Show target, pending migrations and findings; change nothing."
)
@click.option(
    "--allow-no-bookmark",
    is_flag=True,
    help="Apply on a protected env even when no Time Travel bookmark can be recorded.",
)
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the plan (database, pending migrations and their SHA-256) and change nothing; "
              "`skclaw apply FILE` applies exactly those migrations later, or refuses if anything moved.")
@run_command(COMMAND)
def migrate(
    app: AppContext,
    env: str | None,
    database: str | None,
    remote: bool,
    local: bool,
    list_only: bool,
    dry_run: bool,
    allow_no_bookmark: bool,
    plan_out: Path | None,
) -> MigrateResult:
    """Apply an environment's pending D1 migrations, after a lint, consent and a restore point."""
    if plan_out is not None and (list_only or dry_run):
        raise UsageError("--plan-out writes a plan and changes nothing: not with --list or --dry-run.")
    return run_migrate(app, env=env, database=database, remote=remote, local=local, list_only=list_only,
                       dry_run=dry_run, allow_no_bookmark=allow_no_bookmark, plan_out=plan_out)


def run_migrate(
    app: AppContext, *, env: str | None, database: str | None, remote: bool, local: bool, list_only: bool,
    dry_run: bool, allow_no_bookmark: bool, plan_out: Path | None = None, expected: dict[str, Any] | None = None,
) -> MigrateResult:
    """The migrate pipeline: target, policy, state, lint, (save the plan | compare with a saved one),
    consent, restore point, apply."""
    from skclaw.migrations.order import list_migration_files  # not the lint's modules: not yet

    planning = plan_out is not None
    dry_run = dry_run or planning
    if remote and local:
        raise UsageError("--remote and --local exclude each other.")
    env_name = app.select_env(env)
    env_target = app.target(env_name)
    db = select_database(env_target, database)
    if remote and not db.id:
        raise UsageError(
            f"D1 binding {db.binding} of env {env_name} has no database_id; --remote needs one.",
            hint="Add its database_id to the wrangler config (`wrangler d1 list` shows it).",
        )
    files = list_migration_files(db.migrations_dir)  # a missing directory is bad input (exit 2)
    target = Target(
        env=env_name,
        worker=env_target.worker,
        account="",  # set below; at a terminal it takes a `wrangler whoami`, run beside the reads
        database=db,
        remote=remote,
        protected=app.is_protected(env_name),
        explicit_location=remote or local,
    )
    result = MigrateResult(
        environment=env_name, worker=target.worker, database=D1Ref(db.binding, db.name, db.id),
        target=target.location, protected=target.protected,
    )
    from skclaw import policy

    def with_account() -> Target:
        # Only a remote run shows the account (a local one has none to show).
        return replace(target, account=app.account_label(env_target)) if remote else target

    refusal = policy.migrate_location_refusal(app.protection(env_name), remote=remote, local_flag=local)
    if refusal:
        target = with_account()
        show_target(app, target)  # the log records what was refused
        flag = "" if env_name == DEFAULT_ENV else f" --env {env_name}"
        refuse(
            app,
            target,
            result,
            RefusedError(
                refusal,
                hint=f"To migrate {env_name}'s D1 on Cloudflare: skclaw migrate{flag} --remote",
            ),
        )
    if not (list_only or dry_run):
        app.lock_env(env_name)  # before reading what is pending: the plan must still hold at apply

    client = D1Client(app, target)
    # Round one: the reads, in parallel. The ledger and skclaw's checksums come from one
    # `d1 execute`. In a non-interactive run the restore point is read here too (nothing waits
    # between it and the apply); at a terminal it is taken after the answer. Only when the gate
    # cannot refuse for want of flags (a refused run reads no restore point).
    early_bookmark = (remote and not app.interactive and not (list_only or dry_run)
                      and (not target.protected or (app.action.yes and app.action.confirm_env == env_name)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        state_read = pool.submit(client.read_state, checksums=not list_only)
        bookmark_read = pool.submit(client.bookmark) if early_bookmark else None
        account_read = pool.submit(with_account)
        if not list_only:
            pool.submit(audit.actor)  # the audit's `git config` start, off the critical path
            import skclaw.migrations  # noqa: F401  (the lint's modules, imported while wrangler runs)
    target = account_read.result()
    applied_names, recorded = state_read.result()
    applied_set = set(applied_names)
    pending = [name for name in files if name not in applied_set]
    already = [name for name in files if name in applied_set]
    result = replace(result, pending=tuple(pending), already_applied=tuple(already))

    if list_only:
        show_target(app, target)
        return replace(result, applied=tuple(already), listing=True)

    if already:
        check_integrity(app, recorded, target, already, result)
    try:
        findings = lint(target, already, pending)
    except UsageError as exc:  # a file that does not replay: named, with SQLite's error
        refuse(app, target, result, exc)
    result = replace(result, findings=tuple(findings))

    if planning or expected is not None:
        from skclaw import saved_plan
        from skclaw.migrations import sha256_of

        document = {
            "command": COMMAND,
            "options": {"env": env_name, "database": database, "remote": remote, "local": local,
                        "allowNoBookmark": allow_no_bookmark},
            "environments": {env_name: {
                "account": env_target.account_id or app.environ.get("CLOUDFLARE_ACCOUNT_ID") or None,
                "database": target.database_json(), "target": target.location, "pending": pending,
                "migrations": {name: sha256_of(db.migrations_dir / name) for name in pending},
            }},
        }
        if expected is not None:
            try:
                saved_plan.refuse_if_moved(expected, document, outcome="nothing was applied")
            except RefusedError as exc:
                refuse(app, target, result, exc)
        elif plan_out is not None:
            from skclaw.secrets import fingerprints

            saved_plan.write(plan_out, saved_plan.seal(document, fingerprints.load_key(app.environ)))
            result = replace(result, plan_file=str(plan_out))
    if dry_run or not pending:
        show_target(app, target)
        show_plan(app, pending, findings)
    if dry_run:  # --plan-out too
        return replace(result, status="dry-run")
    if not pending:
        return result

    ask_consent(app, target, pending, findings, result)
    return apply(app, client, target, pending, allow_no_bookmark, result, bookmark_read)


# -- steps ----------------------------------------------------------------------------------------


def target_banner(target: Target) -> str:
    where = "REMOTE" if target.remote else "LOCAL"
    if not target.remote and not target.explicit_location:
        where += " (default)"
    protected = " · PROTECTED" if target.protected else ""
    return f"MIGRATE · {where} · {target.env}{protected} · D1 {target.database.name}"


def show_target(app: AppContext, target: Target) -> None:
    out = app.output
    out.banner(target_banner(target), always=True)
    for line in target.lines():
        out.info(f"  {line}", always=True)


def plan_lines(pending: Sequence[str], findings: Sequence[Finding]) -> list[str]:
    lines = [f"pending ({len(pending)}):", *(f"  {name}" for name in pending)]
    lines += [f"note: {f.file}: {f.message}" for f in findings if not f.destructive]
    return lines


def destructive_items(findings: Sequence[Finding]) -> list[str]:
    """Terraform-style: what is lost, and where (`drops table notes ... (0002_drop_notes.sql)`)."""
    return [f"{f.message}  ({f.file})" for f in findings if f.destructive]


def show_plan(app: AppContext, pending: Sequence[str], findings: Sequence[Finding]) -> None:
    out = app.output
    if not pending:
        return
    for line in plan_lines(pending, findings):
        out.info(f"  {line}", always=True)
    for item in destructive_items(findings):
        out.destructive(item)


def refuse(app: AppContext, target: Target, result: MigrateResult, exc: SkclawError) -> NoReturn:
    """Raise the refusal with the result attached (for --json and the audit)."""
    exc.partial_result = replace(result, status="refused", error=exc.message)
    raise exc


def check_integrity(
    app: AppContext,
    recorded: Mapping[str, str],
    target: Target,
    applied: Sequence[str],
    result: MigrateResult,
) -> None:
    """Refuse (exit 2) when a file skclaw applied has changed since."""
    from skclaw.migrations import sha256_of

    directory = target.database.migrations_dir
    changed = [
        name
        for name in applied
        if name in recorded and recorded[name] != sha256_of(directory / name)
    ]
    unverified = [name for name in applied if name not in recorded]
    if unverified:
        app.output.detail(f"no checksum recorded (not applied by skclaw): {', '.join(unverified)}")
    if changed:
        refuse(
            app,
            target,
            result,
            UsageError(
                f"applied migration{'s' if len(changed) != 1 else ''} changed since applied: {', '.join(changed)} "
                f"(their SHA-256 differs from the one recorded in {CHECKSUM_TABLE}); "
                "nothing was applied.",
                hint="Restore the applied version of the file (e.g. git checkout) and put the "
                "change in a new migration.",
            ),
        )


def lint(target: Target, applied: Sequence[str], pending: Sequence[str]) -> list[Finding]:
    from skclaw.migrations import lint_migrations

    if not pending:
        return []
    db = target.database
    return lint_migrations(
        db.migrations_dir,
        applied,
        pending,
        migrations_table=db.migrations_table,
        ignore_tables=(CHECKSUM_TABLE,),
    )


def ask_consent(
    app: AppContext,
    target: Target,
    pending: Sequence[str],
    findings: Sequence[Finding],
    result: MigrateResult,
) -> None:
    from skclaw.safety import request_consent

    items = destructive_items(findings)
    count = f"{len(pending)} D1 migration{'s' if len(pending) != 1 else ''}"
    try:
        request_consent(
            app,
            env=target.env,
            action=f"applying {count}",
            target_lines=[*target.lines(), *plan_lines(pending, findings)],
            destructive=bool(items),
            destructive_items=items,
            banner=target_banner(target),
            show_when_free=True,
        )
    except RefusedError as exc:
        refuse(app, target, result, exc)


def take_bookmark(
    app: AppContext,
    client: D1Client,
    target: Target,
    allow_no_bookmark: bool,
    result: MigrateResult,
    prefetched: Future[str] | None = None,
) -> MigrateResult:
    out = app.output
    try:
        bookmark = prefetched.result() if prefetched is not None else client.bookmark()
    except SkclawError as exc:
        if target.protected and not allow_no_bookmark:
            failure = FailedError(
                f"Could not record a D1 Time Travel bookmark for {target.database.name} "
                f"({exc.message}); nothing was applied.",
                hint="Fix the cause and re-run, or re-run with --allow-no-bookmark to apply "
                "without a restore point.",
            )
            failure.partial_result = replace(result, status="failed", error=f"no bookmark: {exc.message}")
            raise failure from None
        out.warn(
            f"no Time Travel bookmark could be recorded ({exc.message}); "
            "applying without a restore point"
        )
        return result
    command = restore_command(target.database.name, bookmark, target.env)
    out.info(f"restore point: bookmark {bookmark}")
    out.info(f"to undo this run: {command}")
    return replace(result, bookmark=bookmark, restore_command=command)


def apply(
    app: AppContext,
    client: D1Client,
    target: Target,
    pending: Sequence[str],
    allow_no_bookmark: bool,
    result: MigrateResult,
    bookmark_read: Future[str] | None = None,
) -> MigrateResult:
    from skclaw.migrations import sha256_of

    out = app.output
    # Hash what is about to be applied, before wrangler reads the files.
    hashes = {name: sha256_of(target.database.migrations_dir / name) for name in pending}
    if target.remote:
        result = take_bookmark(app, client, target, allow_no_bookmark, result, bookmark_read)

    # Round two: the apply, and beside it the checksums of the files it applies (INSERT OR
    # REPLACE; a failed run corrects them below). A checksum only matters once its file is applied.
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Local D1 is one sqlite file: its checksums are written after the apply.
        sums_written = pool.submit(client.record_checksums, hashes) if target.remote else None
        try:
            done = client.apply()
            apply_error: WranglerError | None = None
        except KeyboardInterrupt:
            pool.shutdown(wait=True)
            interrupted(app, target, result)
        except WranglerError as exc:
            apply_error = exc
    if sums_written is None and apply_error is None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            sums_written = pool.submit(client.record_checksums, hashes)
    checksums_error = sums_written.exception() if sums_written is not None else None
    result = replace(result, checksums_recorded=checksums_error is None and bool(hashes))
    if checksums_error is not None:
        out.warn(
            f"could not record the migrations' checksums in {CHECKSUM_TABLE} ({checksums_error}); "
            "edits to them will not be detected"
        )
    if apply_error is not None:
        failed, error = failed_migration(apply_error.detail or apply_error.message)
        apply_failed(app, client, target, pending, hashes, result, failed, error)

    statuses = parse_apply_statuses(done.stdout)
    failed_now = [name for name in pending if statuses.get(name) == FAILED]
    if failed_now or any(statuses.get(name) != APPLIED for name in pending):
        # wrangler exited 0 but not everything shows ✅ (a ❌ from a statement that answered
        # success:false, or output skclaw cannot read): find out from the database.
        error = (
            "a statement failed (wrangler shows ❌ but exited 0)"
            if failed_now
            else ("wrangler did not report every migration as applied")
        )
        apply_failed(
            app,
            client,
            target,
            pending,
            hashes,
            result,
            failed_now[0] if failed_now else None,
            error,
        )

    return replace(result, applied=tuple(pending))


def interrupted(app: AppContext, target: Target, result: MigrateResult) -> NoReturn:
    """Ctrl-C while wrangler applied (it has been stopped): some migrations may have landed."""
    flag = "--remote" if target.remote else "--local"
    env = "" if target.env == DEFAULT_ENV else f" --env {target.env}"
    exc = InterruptedRun(
        "Interrupted while wrangler was applying migrations; some may have been applied. "
        f"See what is applied with: skclaw migrate{env} {flag} --list",
        hint=f"To return to before this run: {result.restore_command}"
        if result.restore_command
        else None,
    )
    exc.partial_result = replace(result, status="failed", interrupted=True)
    raise exc from None


def save_checksums(app: AppContext, client: D1Client, hashes: Mapping[str, str], drop: Sequence[str]) -> bool:
    """Whether the checksums of ``hashes`` are recorded now."""
    try:
        client.record_checksums(hashes, drop=drop)
    except SkclawError as exc:
        app.output.warn(
            f"the checksums in {CHECKSUM_TABLE} could not be corrected ({exc.message}); "
            "edits to the migrations may not be detected"
        )
        return False
    return bool(hashes)


def apply_failed(
    app: AppContext,
    client: D1Client,
    target: Target,
    pending: Sequence[str],
    hashes: Mapping[str, str],
    result: MigrateResult,
    failed: str | None,
    error: str,
) -> NoReturn:
    """A migration failed: say what is applied (asked of the database), what failed, how to undo."""
    out = app.output
    try:
        still_pending: set[str] | None = set(client.pending())
    except SkclawError as exc:
        out.warn(
            f"could not re-read the migration state ({exc.message}); the list below is inferred"
        )
        still_pending = None
    landed: str | None = None
    if still_pending is not None:
        applied = [n for n in pending if n not in still_pending]
        if failed is not None and failed not in still_pending:
            # The database lists it: it landed, and the error came after (a lost answer, or a
            # statement wrangler shows as failed in a file D1 recorded).
            landed, failed = failed, None
        elif failed is None:
            failed = next((n for n in pending if n in still_pending), None)
    else:
        applied = list(pending[: pending.index(failed)]) if failed in pending else []

    # Checksums were written beside the apply for every pending file: keep the applied ones only.
    recorded = save_checksums(app, client, {name: hashes[name] for name in applied},
                              [name for name in pending if name not in applied])
    result = replace(result, applied=tuple(applied), failed=failed, error=error, status="failed",
                     checksums_recorded=recorded)

    before = (
        f"Applied before it: {', '.join(applied)}." if applied else "Nothing was applied before it."
    )
    what = f"Migration {failed} failed" if failed else "wrangler d1 migrations apply failed"
    message = f"{what}: {first_line(error)}. {before}"
    if landed is not None:
        rest = [n for n in pending if n not in applied]
        message = (
            f"wrangler d1 migrations apply failed on {landed} ({first_line(error)}), but the "
            f"database lists {landed} as applied. Applied: {', '.join(applied)}. "
            + (f"Not applied: {', '.join(rest)}." if rest else "Nothing is pending.")
        )
    if result.restore_command:
        hint = f"To return {target.database.name} to before this run: {result.restore_command}"
    elif target.remote:
        hint = (
            "No Time Travel bookmark was recorded; use `wrangler d1 time-travel info` to find one."
        )
    else:
        hint = "This was the local copy; delete .wrangler/state to start it over."
    for name in applied:
        out.success(f"applied {name}")
    if error.strip() != first_line(error):
        out.info(error.strip())
    failure = FailedError(message, hint=hint)
    failure.partial_result = result
    raise failure


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())
