"""`skclaw release --env E`: one locked, resumable run from migrations to 100 % of traffic.

preflight → migration lint → bookmark + remote migrations (per D1 binding) → `versions upload`
with the code and the manifest's secrets (a new version serving nothing) → `versions deploy` in the
`--gradual` steps, each followed by `--soak` seconds and `--verify CMD` → done. A failed verify
rolls the Worker back to the version that served 100 % before (migrations stay applied: the
restore command is printed). Every finished step is written to `.skclaw/releases/<env>.json`, so
`--resume` continues from the first unfinished one and never repeats a finished one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from skclaw import releases
from skclaw.cli import SECONDS, common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import FailedError, InterruptedRun, RefusedError, SkclawError, UsageError, WranglerError
from skclaw.migrations.findings import Finding
from skclaw.project import D1Database, EnvTarget
from skclaw.releases import ReleaseState, Step
from skclaw.results import ReleaseMigrations, ReleaseResult, Verification
from skclaw.secrets.value import SecretValue

if TYPE_CHECKING:
    from skclaw.commands.migrate import Target as MigrateTarget

COMMAND = "release"
VERIFY_TIMEOUT = 600.0


@dataclass(frozen=True)
class ReleaseOptions:
    gradual: list[float]
    verify: str | None
    soak: float
    message: str | None
    skip_build: bool

    def to_json(self) -> dict[str, Any]:
        return {"gradual": self.gradual, "verify": self.verify, "soak": self.soak, "message": self.message,
                "skipBuild": self.skip_build}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleaseOptions:
        return cls(gradual=[float(p) for p in data.get("gradual") or [100.0]], verify=data.get("verify"),
                   soak=float(data.get("soak") or 0), message=data.get("message"),
                   skip_build=bool(data.get("skipBuild")))


@dataclass
class MigrationPlan:
    """One D1 binding's pending remote migrations, read and linted before anything changes."""

    database: D1Database
    pending: list[str]
    findings: list[Finding]
    checksums: dict[str, str]  # file -> SHA-256 of the pending files (for saved plans)


@click.command("release")
@click.option("--gradual", metavar="P,P,...",
              help="Traffic steps for the new version in percent, e.g. 10,50 (100 is always the last "
              "step). Default: straight to 100.")
@click.option("--verify", "verify", metavar="CMD",
              help="A shell command run after each step (and its soak); a non-zero exit rolls back. "
              "It gets SKCLAW_RELEASE_ENV, _WORKER, _VERSION, _PREVIOUS_VERSION and _PERCENT.")
@click.option("--soak", type=SECONDS, default=0.0, metavar="SECONDS",
              help="Seconds to wait after each step, before its verify.")
@click.option("--verify-timeout", type=SECONDS, default=VERIFY_TIMEOUT, show_default=True, metavar="SECONDS",
              help="A verify running longer fails (and rolls back).")
@click.option("--resume", is_flag=True,
              help="Continue this env's unfinished release from its first unfinished step, with its options.")
@click.option("--dry-run", is_flag=True, help="Show the plan (and bundle the code offline); change nothing.")
@click.option("-m", "--message", metavar="TEXT", help="Message of the new version and its deployments.")
@click.option("--skip-build", is_flag=True, help="Do not run the build of .skclaw.jsonc.")
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the plan and change nothing; `skclaw apply FILE` releases exactly that later, or "
              "refuses if anything moved.")
@common_options()
@run_command(COMMAND)
def release(
    app: AppContext,
    env: str | None,
    gradual: str | None,
    verify: str | None,
    soak: float,
    verify_timeout: float,
    resume: bool,
    dry_run: bool,
    message: str | None,
    skip_build: bool,
    plan_out: Path | None,
) -> ReleaseResult:
    """Release an environment: migrations, a new version with code and secrets, then traffic in
    steps, verified after each; a failed verify rolls back to the version live before."""
    if plan_out is not None and (dry_run or resume):
        raise UsageError("--plan-out writes a plan and changes nothing: not with --dry-run or --resume.")
    options = ReleaseOptions(gradual=releases.parse_gradual(gradual), verify=verify or None, soak=soak,
                             message=message, skip_build=skip_build)
    if resume and (gradual is not None or verify is not None or soak or message is not None or skip_build):
        raise UsageError("--resume continues with the options the release started with; give no other "
                         "release options.", hint="See them in .skclaw/releases/<env>.json.")
    return run_release(app, env=env, options=options, resume=resume, dry_run=dry_run, plan_out=plan_out,
                       verify_timeout=verify_timeout)


def run_release(
    app: AppContext, *, env: str | None, options: ReleaseOptions, resume: bool = False, dry_run: bool = False,
    plan_out: Path | None = None, expected: dict[str, Any] | None = None, verify_timeout: float = VERIFY_TIMEOUT,
) -> ReleaseResult:
    """The release pipeline: state, reads, lint, (plan), consent, then the steps."""
    from skclaw.preflight import require_credentials

    env_name = app.select_env(env)
    app.project.check_deployable(env_name)
    target = app.target(env_name)
    version = app.wrangler.require_minimum()
    planning = plan_out is not None
    acting = not (dry_run or planning)

    state = releases.load(app.project_dir, env_name)
    if resume:
        if state is None:
            raise UsageError(f"There is no release of {env_name} to resume ({releases.relative_path(env_name)} "
                             "does not exist).", hint=f"Start one with `skclaw release --env {env_name}`.")
        if state.status == releases.DONE:
            return replace(result_of(state, target), status="ok", resumed=True, already_done=True)
        if state.status == releases.ROLLED_BACK:
            raise RefusedError(
                f"The release of {env_name} was rolled back ({state.error}); resuming it would deploy the "
                "version that failed its verify. Nothing was changed.",
                hint=f"Fix the cause and start a new release: skclaw release --env {env_name}",
            )
        options = ReleaseOptions.from_json(state.options)
    elif state is not None and state.status in releases.UNFINISHED:
        step = state.next_step
        raise RefusedError(
            f"A release of {env_name} is unfinished ({state.status}"
            + (f", next step: {step.name}" if step else "") + "); nothing was changed.",
            hint=f"Continue it with `skclaw release --env {env_name} --resume`, or roll back with "
            f"`skclaw rollback --env {env_name}` and remove {releases.relative_path(env_name)} to start over.",
        )

    values: dict[str, SecretValue] = {}
    secrets_source: str | None = None
    upload_done = state is not None and resume and state.new_version is not None
    if not upload_done:
        values, secrets_source = read_manifest_secrets(app, env_name)
        if values and not version.secrets_file:
            raise FailedError(
                f"A release uploads the secrets with the code (`versions upload --secrets-file`), which needs "
                f"wrangler 4.74 or newer; found {version}.", hint="Upgrade with `npm i -D wrangler@4`.")
    if not dry_run:
        require_credentials(app, env_name)
    if acting:
        app.lock_env(env_name)  # before the reads: what is checked is what gets released

    # The reads, in parallel: the live deployment and each D1 binding's pending migrations.
    databases = [] if (resume and state is not None and not _migrations_left(state)) else release_databases(target)
    with ThreadPoolExecutor(max_workers=1 + max(1, len(databases))) as pool:
        live_read = pool.submit(app.wrangler.deployments_status, env_name)
        migration_reads = [pool.submit(read_migrations, app, target, db) for db in databases]
    live = live_traffic(env_name, target, live_read)
    migrations = [read.result() for read in migration_reads]

    if state is not None and resume:
        check_resumable(state, live)
        previous = state.previous_version
    else:
        previous = single_version(env_name, target, live)

    result = initial_result(target, options, previous, migrations, secrets_source, values)
    destructive = [f"{f.message}  ({f.file}, {m.database.binding})" for m in migrations for f in m.findings
                   if f.destructive]
    lines = plan_lines(app, target, options, previous, migrations, values, secrets_source, state if resume else None)

    if planning or expected is not None:
        from skclaw import saved_plan
        from skclaw.secrets import fingerprints

        document = release_plan(app, env_name, target, previous, values, migrations, options)
        if expected is not None:
            saved_plan.refuse_if_moved(expected, document, outcome="nothing was released")
        else:
            assert plan_out is not None
            saved_plan.write(plan_out, saved_plan.seal(document, fingerprints.load_key(app.environ)))
            show_plan(app, env_name, lines, destructive)
            return replace(result, status="dry-run", dry_run=True, plan_file=str(plan_out))
    if dry_run:
        show_plan(app, env_name, lines, destructive)
        from skclaw.commands.deploy import bundle_digest

        return replace(result, status="dry-run", dry_run=True, bundle=bundle_digest(app, env_name))

    from skclaw.safety import request_consent

    request_consent(app, env=env_name, action="release", target_lines=lines, destructive=bool(destructive),
                    destructive_items=destructive, banner=banner(app, env_name), show_when_free=True)

    if state is None or not resume:
        state = ReleaseState(env=env_name, worker=target.worker, previous_version=previous,
                             options=options.to_json(),
                             steps=releases.plan_steps([m.database.binding for m in migrations if m.pending],
                                                       options.gradual))
    else:
        state.status = releases.RUNNING
        state.error = None
    releases.save(app.project_dir, state)
    result = replace(result, resumed=resume)
    return Runner(app, target, state, options, values, migrations, result, verify_timeout).run()


# -- reads ----------------------------------------------------------------------------------------


def read_manifest_secrets(app: AppContext, env: str) -> tuple[dict[str, SecretValue], str | None]:
    """The manifest's secrets of ``env`` from its source (all present, or exit 2/1 before any
    Cloudflare read)."""
    from skclaw.secrets.manifest import read_env_secrets, require_complete

    required, optional = app.manifest(app.target(env))
    if not required and not optional:
        return {}, None  # no manifest: the new version keeps the Worker's secrets, no source is opened
    secrets = read_env_secrets(app, env, enumerate_extra=False)
    require_complete(secrets)
    for key in secrets.missing_optional:
        app.output.warn(f"optional secret {key} is not in {secrets.source.describe()}; "
                        "the new version keeps its current value, if any")
    return {k: v for k, v in secrets.values.items() if k in secrets.manifest}, secrets.source.describe()


def release_databases(target: EnvTarget) -> list[D1Database]:
    """The env's D1 bindings a release migrates: those with a database_id and migration files."""
    return [db for db in target.d1_databases
            if db.id is not None and db.migrations_dir.is_dir() and any(db.migrations_dir.glob("*.sql"))]


def _migrations_left(state: ReleaseState) -> bool:
    return any(s.kind == releases.MIGRATE and not s.done for s in state.steps)


def migrate_target(app: AppContext, target: EnvTarget, db: D1Database) -> MigrateTarget:
    from skclaw.commands.migrate import Target

    return Target(env=target.name, worker=target.worker, account=app.account_label(target), database=db,
                  remote=True, protected=app.is_protected(target.name), explicit_location=True)


def read_migrations(app: AppContext, target: EnvTarget, db: D1Database) -> MigrationPlan:
    """Pending remote migrations of one binding, their integrity and lint (exit 2 on an edited one)."""
    from skclaw.commands.migrate import D1Client, check_integrity, lint
    from skclaw.migrations import list_migration_files, sha256_of
    from skclaw.results import D1Ref, MigrateResult

    mtarget = migrate_target(app, target, db)
    files = list_migration_files(db.migrations_dir)
    # wrangler's ledger and skclaw's checksums in one `d1 execute`; pending = files not in the ledger.
    applied_names, recorded = D1Client(app, mtarget).read_state()
    applied_set = set(applied_names)
    pending = [name for name in files if name not in applied_set]
    already = [name for name in files if name in applied_set]
    if already:
        check_integrity(app, recorded, mtarget, already, MigrateResult(
            environment=target.name, worker=target.worker, database=D1Ref(db.binding, db.name, db.id),
            target="remote", protected=mtarget.protected))
    findings = lint(mtarget, already, pending)
    return MigrationPlan(db, pending, findings, {name: sha256_of(db.migrations_dir / name) for name in pending})


def live_traffic(env: str, target: EnvTarget, read: Any) -> dict[str, float]:
    """The live deployment as {version: percentage}; a Worker that does not exist is refused."""
    from skclaw.wrangler import is_worker_not_found

    try:
        deployment = read.result()
    except WranglerError as exc:
        if is_worker_not_found(exc) or "has no deployments" in f"{exc.message}\n{exc.detail}":
            raise UsageError(
                f"{target.worker} has no deployment yet; a release moves traffic from the version live now, "
                "so it needs one. Nothing was changed.",
                hint=f"Deploy it once with `skclaw deploy --env {env}`, then release.",
            ) from None
        raise
    return {str(v.get("version_id")): float(v.get("percentage") or 0)
            for v in deployment.get("versions") or [] if isinstance(v, dict)}


def single_version(env: str, target: EnvTarget, live: Mapping[str, float]) -> str:
    """The version at 100 %: what the release starts from, and rolls back to."""
    if len(live) == 1:
        return next(iter(live))
    split = ", ".join(f"{v} at {p:g}%" for v, p in live.items())
    raise RefusedError(
        f"{target.worker} is in the middle of a gradual deployment ({split}); a release starts from one "
        "version at 100 %. Nothing was changed.",
        hint=f"Finish or undo that deployment first (`wrangler versions deploy`, or `skclaw rollback --env {env}`).",
    )


def check_resumable(state: ReleaseState, live: Mapping[str, float]) -> None:
    """--resume only where the release left the Worker: anything else was done by someone else."""
    allowed = state.expected_traffic()
    if any(_same_traffic(live, expected) for expected in allowed):
        return
    now = ", ".join(f"{v} at {p:g}%" for v, p in live.items()) or "nothing"
    was = ", ".join(f"{v} at {p:g}%" for v, p in allowed[0].items())
    raise RefusedError(
        f"{state.worker} moved since the release stopped: it serves {now}, the release left {was}. "
        "Nothing was changed.",
        hint=f"Someone deployed meanwhile. Check `skclaw status --env {state.env}`; to start over, remove "
        f"{releases.relative_path(state.env)} and run a new release.",
    )


def _same_traffic(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return set(a) == set(b) and all(abs(a[k] - b[k]) < 1e-6 for k in a)


# -- the plan -------------------------------------------------------------------------------------


def banner(app: AppContext, env: str) -> str:
    return f"RELEASE · {env}{' · PROTECTED' if app.is_protected(env) else ''}"


def plan_lines(app: AppContext, target: EnvTarget, options: ReleaseOptions, previous: str,
               migrations: Sequence[MigrationPlan], values: Mapping[str, SecretValue], source: str | None,
               resumed: ReleaseState | None) -> list[str]:
    lines = [f"account:  {app.account_label(target)}", f"Worker:   {target.worker}",
             f"live:     version {previous} at 100%"]
    for m in migrations:
        if m.pending:
            lines.append(f"D1 {m.database.binding} ({m.database.name}): {len(m.pending)} pending migration"
                         f"{'s' if len(m.pending) != 1 else ''}, a bookmark first")
            lines += [f"  {name}" for name in m.pending]
            lines += [f"  note: {f.file}: {f.message}" for f in m.findings if not f.destructive]
    if resumed is None or resumed.new_version is None:
        lines.append("upload:   a new version with the code"
                     + (f" and {', '.join(sorted(values))} (from {source})" if values else
                        " (the Worker's secrets are kept)"))
    else:
        lines.append(f"upload:   done, version {resumed.new_version}")
    steps = " → ".join(releases.percent_label(p) for p in options.gradual)
    lines.append(f"traffic:  {steps}" + (f", {options.soak:g}s soak after each" if options.soak else ""))
    lines.append(f"verify:   {options.verify}" if options.verify else "verify:   none (no --verify)")
    lines.append("rollback: to the live version if a verify fails (migrations stay)")
    if resumed is not None:
        step = resumed.next_step
        lines.append(f"resume:   from {step.name if step else 'the end'} "
                     f"({sum(s.done for s in resumed.steps)} of {len(resumed.steps)} steps done)")
    return lines


def show_plan(app: AppContext, env: str, lines: Sequence[str], destructive: Sequence[str]) -> None:
    out = app.output
    out.banner(banner(app, env), always=True)
    for line in lines:
        out.info(f"  {line}", always=True)
    for item in destructive:
        out.destructive(item)


def release_plan(app: AppContext, env: str, target: EnvTarget, previous: str, values: Mapping[str, SecretValue],
                 migrations: Sequence[MigrationPlan], options: ReleaseOptions) -> dict[str, Any]:
    from skclaw.commands.deploy import code_plan_entry

    entry = code_plan_entry(app, env, target, previous, values)
    entry["migrations"] = {f"{m.database.binding}/{name}": digest for m in migrations
                           for name, digest in m.checksums.items()}
    return {"command": COMMAND, "options": {"env": env, **options.to_json()}, "environments": {env: entry}}


def initial_result(target: EnvTarget, options: ReleaseOptions, previous: str, migrations: Sequence[MigrationPlan],
                   source: str | None, values: Mapping[str, SecretValue]) -> ReleaseResult:
    return ReleaseResult(
        environment=target.name, worker=target.worker, previous_version_id=previous,
        gradual=tuple(options.gradual), verify=options.verify, soak=options.soak,
        secrets=tuple(sorted(values)), secrets_source=source,
        migrations=tuple(ReleaseMigrations(m.database.binding, m.database.name, tuple(m.pending))
                         for m in migrations),
        findings=tuple(f for m in migrations for f in m.findings),
        state_file=releases.relative_path(target.name),
    )


def result_of(state: ReleaseState, target: EnvTarget) -> ReleaseResult:
    return ReleaseResult(environment=state.env, worker=target.worker, previous_version_id=state.previous_version,
                         version_id=state.new_version, steps=tuple((s.name, s.done) for s in state.steps),
                         rolled_back=state.status == releases.ROLLED_BACK,
                         state_file=releases.relative_path(state.env))


# -- the steps ------------------------------------------------------------------------------------


class Runner:
    """Runs the unfinished steps of ``state`` in order, saving it after each one; the result grows
    with each step (``dataclasses.replace``)."""

    def __init__(self, app: AppContext, target: EnvTarget, state: ReleaseState, options: ReleaseOptions,
                 values: Mapping[str, SecretValue], migrations: Sequence[MigrationPlan], result: ReleaseResult,
                 verify_timeout: float) -> None:
        self.app, self.target, self.state, self.options = app, target, state, options
        self.values, self.result, self.verify_timeout = values, result, verify_timeout
        self.migrations = {m.database.binding: m for m in migrations}
        self.env = state.env

    def run(self) -> ReleaseResult:
        step: Step | None = None
        try:
            if not self.options.skip_build and self.state.new_version is None:
                from skclaw.preflight import run_build

                self.result = replace(self.result, build=run_build(self.app))
            while (step := self.state.next_step) is not None:
                self.run_step(step)
                step.done, step.finished_at = True, releases.now()
                releases.save(self.app.project_dir, self.state)
        except KeyboardInterrupt:
            where = step.name if step else "the build"
            self.stopped(releases.INTERRUPTED, f"interrupted during {where}")
            from skclaw import process

            process.kill_all_children()
            exc = InterruptedRun(
                f"Interrupted ({process.signal_name()}) during {where} of the release of {self.env}; "
                f"{self.where_now()}.",
                hint=f"Continue it with: skclaw release --env {self.env} --resume",
            )
            exc.partial_result = self.finish("failed", releases.INTERRUPTED)
            raise exc from None
        except VerifyFailed as failure:
            self.roll_back(failure)
        except SkclawError as exc:
            self.keep_migrate_result(exc)
            self.stopped(releases.FAILED, exc.message)
            exc.hint = (exc.hint + " " if exc.hint else "") + (
                f"The release stopped at {step.name if step else 'the build'}; {self.where_now()}. Continue it "
                f"with `skclaw release --env {self.env} --resume`, or roll back with "
                f"`skclaw rollback --env {self.env}`.")
            exc.partial_result = self.finish("failed", releases.FAILED)
            raise
        self.state.status = releases.DONE
        releases.save(self.app.project_dir, self.state)
        return self.finish("ok", "ok")

    # -- one step each --------------------------------------------------------------------------

    def run_step(self, step: Step) -> None:
        if step.kind == releases.MIGRATE:
            self.migrate(step)
        elif step.kind == releases.UPLOAD:
            self.upload(step)
        else:
            self.deploy(step)

    def migrate(self, step: Step) -> None:
        from skclaw.commands.migrate import D1Client, apply
        from skclaw.results import D1Ref, MigrateResult

        assert step.binding is not None
        plan = self.migrations.get(step.binding)
        if plan is None or not plan.pending:
            step.detail["applied"] = []
            return
        mtarget = migrate_target(self.app, self.target, plan.database)
        db = plan.database
        started = MigrateResult(environment=self.env, worker=self.target.worker,
                                database=D1Ref(db.binding, db.name, db.id), target="remote",
                                protected=mtarget.protected, pending=tuple(plan.pending),
                                findings=tuple(plan.findings))
        self.app.output.step(f"migrating {db.name} ({step.binding})")
        done = apply(self.app, D1Client(self.app, mtarget), mtarget, plan.pending, False, started)
        self.record_migration(done)
        step.detail.update(applied=list(done.applied), bookmark=done.bookmark, restoreCommand=done.restore_command)

    def record_migration(self, done: Any) -> None:
        from skclaw.results import MigrateResult

        assert isinstance(done, MigrateResult)
        binding = done.database.binding
        self.result = replace(
            self.result, migrate_results=(*self.result.migrate_results, done),
            migrations=tuple(replace(m, applied=done.applied, bookmark=done.bookmark,
                                     restore_command=done.restore_command) if m.binding == binding else m
                             for m in self.result.migrations))

    def keep_migrate_result(self, exc: SkclawError) -> None:
        """A failed migration's own result (what landed, the restore command) stays in the release's."""
        from skclaw.results import MigrateResult

        partial = getattr(exc, "partial_result", None)
        if isinstance(partial, MigrateResult):
            self.record_migration(partial)

    def upload(self, step: Step) -> None:
        from skclaw.secrets.file import secrets_file

        self.app.output.step(f"uploading a new version of {self.target.worker} ({self.env})")
        with ExitStack() as stack:
            file = stack.enter_context(secrets_file(self.values)) if self.values else None
            version = self.app.wrangler.versions_upload(self.env, message=self.options.message, secrets_file=file)
        self.state.new_version = version
        step.detail["versionId"] = version
        self.record_fingerprints(version)
        self.app.output.success(f"uploaded version {version} (serving nothing yet)")

    def deploy(self, step: Step) -> None:
        assert step.percent is not None and self.state.new_version is not None
        traffic = self.state.traffic_of(step)
        label = releases.percent_label(step.percent)
        self.app.output.step(f"deploying {self.state.new_version} at {label}")
        message = self.options.message or f"skclaw release {self.env}"
        self.app.wrangler.versions_deploy(self.env, list(traffic.items()), message=f"{message} ({label})")
        self.app.output.success(f"{self.target.worker} serves version {self.state.new_version} at {label}")
        if self.options.soak:
            self.app.output.step(f"soaking {self.options.soak:g}s at {label}")
            time.sleep(self.options.soak)
        if self.options.verify:
            self.verify(step, label)

    def verify(self, step: Step, label: str) -> None:
        from skclaw import process

        assert self.options.verify is not None and self.state.new_version is not None
        assert step.percent is not None
        self.app.output.step(f"verify at {label}: {self.options.verify}")
        environ = {**self.app.environ, "SKCLAW_RELEASE_ENV": self.env, "SKCLAW_RELEASE_WORKER": self.target.worker,
                   "SKCLAW_RELEASE_VERSION": self.state.new_version,
                   "SKCLAW_RELEASE_PREVIOUS_VERSION": self.state.previous_version,
                   "SKCLAW_RELEASE_PERCENT": f"{step.percent:g}"}
        started = time.monotonic()
        code: int | None
        try:
            code = process.run_streaming(["/bin/sh", "-c", self.options.verify], cwd=self.app.project_dir,
                                         env=environ, timeout=self.verify_timeout)
        except OSError as exc:
            code, why = None, f"could not start ({exc})"
        else:
            elapsed = time.monotonic() - started
            why = (f"timed out after {self.verify_timeout:g}s" if code != 0 and elapsed >= self.verify_timeout
                   else f"exited {code}")
        self.result = replace(self.result, verifications=(*self.result.verifications, Verification(step.percent, code)))
        step.detail["verify"] = code
        if code != 0:
            raise VerifyFailed(f"verify failed at {label} (`{self.options.verify}` {why})")
        self.app.output.success(f"verify passed at {label}")

    # -- endings --------------------------------------------------------------------------------

    def roll_back(self, failure: VerifyFailed) -> NoReturn:
        out = self.app.output
        previous = self.state.previous_version
        out.warn(f"{failure.message}; rolling back to version {previous}")
        try:
            self.app.wrangler.rollback(self.env, previous, f"skclaw release: {failure.message}")
        except SkclawError as exc:
            self.stopped(releases.FAILED, f"{failure.message}; the rollback failed too: {exc.message}")
            error = FailedError(
                f"{failure.message}, and the rollback to {previous} failed: {exc.message}. "
                f"{self.where_now()}.",
                hint=f"Roll back by hand now: skclaw rollback --env {self.env} {previous}",
            )
            error.partial_result = self.finish("failed", releases.FAILED)
            raise error from None
        self.state.status, self.state.error = releases.ROLLED_BACK, failure.message
        releases.save(self.app.project_dir, self.state)
        restore = [m.restore_command for m in self.result.migrations if m.restore_command]
        hint = (f"Version {previous} serves 100% again. Migrations stay applied; to restore the database too: "
                + "; ".join(restore)) if restore else f"Version {previous} serves 100% again."
        error = FailedError(f"{failure.message}; rolled back to version {previous}.", hint=hint)
        self.result = replace(self.result, rolled_back=True)
        error.partial_result = self.finish("failed", releases.ROLLED_BACK)
        raise error

    def stopped(self, status: str, why: str) -> None:
        self.state.status, self.state.error = status, why
        self.result = replace(self.result, error=why)
        try:
            releases.save(self.app.project_dir, self.state)
        except (OSError, SkclawError) as exc:
            self.app.output.warn(f"the release state could not be saved ({exc}); --resume may repeat a step")

    def where_now(self) -> str:
        done = self.state.finished_deploys
        if not done:
            return f"version {self.state.previous_version} still serves 100%"
        traffic = self.state.traffic_of(done[-1])
        return "the Worker serves " + " and ".join(f"{v} at {p:g}%" for v, p in traffic.items())

    def finish(self, status: str, outcome: str) -> ReleaseResult:
        self.result = replace(self.result, status=status, outcome=outcome, version_id=self.state.new_version,
                              steps=tuple((s.name, s.done) for s in self.state.steps))
        return self.result

    def record_fingerprints(self, version: str) -> None:
        """The new version holds the pushed values: drift and sync know them as skclaw's."""
        if not self.values:
            return
        from skclaw.secrets import fingerprints

        key = fingerprints.load_key(self.app.environ)
        state = fingerprints.load_state(self.app.project_dir, self.target.worker)
        state.record({k: fingerprints.fingerprint(key, self.target.worker, k, v) for k, v in self.values.items()},
                     [], version)
        fingerprints.save_state(self.app.project_dir, state)


class VerifyFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

