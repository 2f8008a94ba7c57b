"""What each command computed: frozen result types, their JSON, their exit code and their audit.

The pattern (follow it for a new command, e.g. ``release``):

1. Define a frozen dataclass here that subclasses :class:`CommandResult` and holds everything the
   command found or did, typed (tuples, not lists; a nested frozen type per environment or step);
   never a secret value unless the user asked to see it (``rotate --print-value``). A pipeline
   builds it step by step with :func:`dataclasses.replace`, never by mutating a dict.
2. ``to_json()`` returns the ``result`` of the ``--json`` envelope. Its keys are part of the
   contract (DESIGN.md, "JSON output"): add keys freely, never rename one.
3. ``verdict()`` says how the run ends: exit code, error message and kind (default: exit 0).
4. ``audit_entries()`` says what goes into ``.skclaw/audit.jsonl``: an :class:`AuditEntry` per
   change, refusal or failure (names, ids and outcomes, never values); reads audit nothing.
5. Register a function for the type on :func:`skclaw.render.render`: the closing lines and tables
   a person sees, written from the result only.
6. The command body returns the result. :func:`skclaw.cli.execute` (the boundary) renders it,
   writes its audit records (:func:`skclaw.audit.record_result`, the only caller of
   ``audit.record``) and the ``--json`` envelope. A command that raises a
   :class:`~skclaw.errors.SkclawError` (or lets a ``KeyboardInterrupt`` through) after it changed
   something attaches its result as ``exc.partial_result``: the boundary audits it and puts its
   JSON in the envelope; the error line stands in for the human summary then.

Progress (steps, plan blocks, consent prompts, warnings, spinners, an env's line as it finishes)
stays in the commands: it is said while the work happens. What the run achieved is said once,
from the result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from skclaw.migrations.findings import Finding
    from skclaw.secrets.value import SecretValue

#: A value the JSON envelope can carry.
JSON: TypeAlias = "str | int | float | bool | Sequence[JSON] | Mapping[str, JSON] | None"
JSONObject: TypeAlias = "dict[str, JSON]"

_KIND_BY_CODE = {1: "failed", 2: "usage", 3: "refused", 4: "partial", 5: "drift", 130: "interrupted"}


@dataclass(frozen=True)
class Verdict:
    """How a run ends: its exit code and, when it is not 0, the envelope's ``error``."""

    exit_code: int = 0
    message: str | None = None
    kind: str | None = None

    def error(self) -> dict[str, str] | None:
        if self.exit_code == 0:
            return None
        kind = self.kind or _KIND_BY_CODE.get(self.exit_code, "failed")
        return {"kind": kind, "message": self.message or kind}


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail (the time and the actor are added when it is written)."""

    command: str
    env: str
    worker: str | None
    outcome: str
    keys: tuple[str, ...] = ()
    #: the command's own fields (versionId, bookmark, error, ...): names and ids only
    details: Mapping[str, JSON] = field(default_factory=dict)


class CommandResult(ABC):
    """Base of every command's result type (subclasses are frozen dataclasses)."""

    @property
    def reveal_values(self) -> bool:
        """``--json`` carries secret values (only ``secrets rotate --print-value --json``)."""
        return False

    @abstractmethod
    def to_json(self) -> JSONObject:
        """The envelope's ``result``."""

    def verdict(self) -> Verdict:
        return Verdict()

    def audit_entries(self) -> Sequence[AuditEntry]:
        return ()


def partial_verdict(what: str, ok_envs: Sequence[str], failed: Sequence[str]) -> Verdict:
    """Per-env commands: exit 4 when some envs changed and others failed, 1 when none changed."""
    if not failed:
        return Verdict()
    held = f" The new values are on: {', '.join(ok_envs)}." if ok_envs else " No environment changed."
    return Verdict(4 if ok_envs else 1, f"{what} failed for {', '.join(failed)}.{held}")


# -- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficShare:
    version_id: str | None
    percentage: float | None

    def to_json(self) -> JSONObject:
        return {"versionId": self.version_id, "percentage": self.percentage}


@dataclass(frozen=True)
class Deployment:
    """A Worker's deployment as `wrangler deployments status|list --json` describes it."""

    id: str | None
    created: str | None
    author: str | None
    message: str | None
    source: str | None
    versions: tuple[TrafficShare, ...]

    def to_json(self) -> JSONObject:
        return {"id": self.id, "created": self.created, "author": self.author, "message": self.message,
                "source": self.source, "versions": [v.to_json() for v in self.versions]}


@dataclass(frozen=True)
class EnvStatus:
    worker: str
    deployment: Deployment | None
    error: str | None = None
    #: an unfinished `skclaw release` of the env (its state file): status, next step, new version
    release: Mapping[str, JSON] | None = None

    @property
    def status(self) -> str:
        return "failed" if self.error else "ok"

    def to_json(self) -> JSONObject:
        return {"worker": self.worker, "status": self.status,
                "deployment": self.deployment.to_json() if self.deployment else None, "error": self.error,
                "release": self.release}


@dataclass(frozen=True)
class StatusResult(CommandResult):
    """`skclaw status`: the live deployment per env (reads only; nothing audited)."""

    environments: Mapping[str, EnvStatus]

    def to_json(self) -> JSONObject:
        return {"environments": {env: s.to_json() for env, s in self.environments.items()}}

    def verdict(self) -> Verdict:
        failed = [env for env, s in self.environments.items() if s.error]
        return Verdict(1, f"status failed for {', '.join(failed)}") if failed else Verdict()


# -- rollback ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackResult(CommandResult):
    """`skclaw rollback`. ``status``: ok, or failed (wrangler failed, or the version is not live)."""

    environment: str
    worker: str
    from_version_id: str | None
    version_id: str
    message: str | None
    status: str = "ok"
    verified: bool = False
    #: the version was live at 100 % already: nothing was done
    already_live: bool = False
    #: what is live afterwards, when it is not ``version_id``
    live_after: str | None = None
    error: str | None = None

    def to_json(self) -> JSONObject:
        return {"environment": self.environment, "worker": self.worker, "fromVersionId": self.from_version_id,
                "versionId": self.version_id, "verified": self.verified, "message": self.message,
                "status": self.status}

    @property
    def unverified_message(self) -> str:
        return (f"wrangler reported the rollback, but {self.version_id} is not live at "
                f"100% on {self.worker} (live: {self.live_after})")

    def verdict(self) -> Verdict:
        return Verdict(1, self.unverified_message) if self.status == "failed" else Verdict()

    def audit_entries(self) -> Sequence[AuditEntry]:
        if self.already_live:
            return ()
        details: dict[str, JSON] = {"versionId": self.version_id}
        if self.error is not None:
            outcome = "failed"
            details["error"] = self.error
        elif not self.verified:
            outcome = "unverified"
            details["live"] = self.live_after
        else:
            outcome = "ok"
            details.update(fromVersionId=self.from_version_id, message=self.message)
        return (AuditEntry("rollback", self.environment, self.worker, outcome, details=details),)


# -- secrets set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetResult(CommandResult):
    """`skclaw secrets set`: the value is stored in the source; with --push also on the Worker."""

    environment: str
    worker: str
    key: str
    source: str
    pushed: bool = False
    #: the push failed (the value stays stored): wrangler's message
    push_error: str | None = None

    def to_json(self) -> JSONObject:
        return {"environment": self.environment, "worker": self.worker, "key": self.key, "source": self.source,
                "stored": True, "pushed": self.pushed}

    def audit_entries(self) -> Sequence[AuditEntry]:
        if self.push_error is not None:
            return (AuditEntry("secrets set", self.environment, self.worker, "stored-not-pushed", (self.key,),
                               {"error": self.push_error}),)
        return (AuditEntry("secrets set", self.environment, self.worker, "pushed" if self.pushed else "stored",
                           (self.key,)),)


# -- secrets rotate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RotatedEnv:
    """One env of a rotation: stored in the source first, then (unless --no-push) pushed."""

    env: str
    worker: str
    key: str
    source: str
    stored: bool = False
    pushed: bool = False
    #: why storing or pushing failed (the source's or wrangler's message)
    failure: str | None = None
    #: the new value, kept only with --print-value
    value: SecretValue | None = None

    @property
    def status(self) -> str:
        return "failed" if self.failure is not None else "ok"

    @property
    def error(self) -> str | None:
        if self.failure is None:
            return None
        if not self.stored:
            return f"storing failed: {self.failure}"
        return (f"{self.failure} The source holds the new value (the previous one is kept); finish with: "
                f"skclaw secrets sync --env {self.env} --only {self.key}")

    def to_json(self) -> JSONObject:
        entry: JSONObject = {"worker": self.worker, "status": self.status, "pushed": [self.key] if self.pushed else [],
                             "deleted": [], "error": self.error, "stored": self.stored, "source": self.source}
        if self.value is not None:
            entry["value"] = self.value.reveal()
        return entry

    def audit_entry(self, *, no_push: bool) -> AuditEntry:
        if self.failure is not None:
            outcome = "stored-not-pushed" if self.stored else "failed"
            return AuditEntry("secrets rotate", self.env, self.worker, outcome, (self.key,), {"error": self.failure})
        return AuditEntry("secrets rotate", self.env, self.worker, "stored" if no_push else "pushed", (self.key,))


@dataclass(frozen=True)
class RotateResult(CommandResult):
    key: str
    environments: Mapping[str, RotatedEnv]
    no_push: bool = False
    print_value: bool = False

    @property
    def reveal_values(self) -> bool:
        return self.print_value

    def to_json(self) -> JSONObject:
        return {"environments": {env: e.to_json() for env, e in self.environments.items()}}

    def verdict(self) -> Verdict:
        return partial_verdict("secrets rotate", [env for env, e in self.environments.items() if e.status == "ok"],
                               [env for env, e in self.environments.items() if e.status != "ok"])

    def audit_entries(self) -> Sequence[AuditEntry]:
        return tuple(e.audit_entry(no_push=self.no_push) for e in self.environments.values())


# -- secrets list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedKey:
    name: str
    role: str  # required | optional | extra | unmanaged
    in_source: bool
    on_worker: bool | None  # None: the Worker's names could not be read

    def to_json(self) -> JSONObject:
        return {"name": self.name, "role": self.role, "inSource": self.in_source, "onWorker": self.on_worker}


@dataclass(frozen=True)
class ListedEnv:
    worker: str
    source: str | None  # None: the source could not be read
    keys: tuple[ListedKey, ...] = ()
    error: str | None = None
    worker_exists: bool | None = None

    def to_json(self) -> JSONObject:
        return {"worker": self.worker, "source": self.source, "keys": [k.to_json() for k in self.keys],
                "error": self.error, "workerExists": self.worker_exists}


@dataclass(frozen=True)
class ListResult(CommandResult):
    """`skclaw secrets list`: names only (reads; nothing audited)."""

    environments: Mapping[str, ListedEnv]

    def to_json(self) -> JSONObject:
        return {"environments": {env: e.to_json() for env, e in self.environments.items()}}

    def verdict(self) -> Verdict:
        failed = [env for env, e in self.environments.items() if e.error]
        return Verdict(1, f"could not list: {', '.join(failed)}") if failed else Verdict()


# -- secrets status (drift) -------------------------------------------------------------------


@dataclass(frozen=True)
class EnvDrift:
    worker: str
    source: str | None = None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    source_changed: tuple[str, ...] = ()
    #: None: skclaw has not pushed here yet
    changed_outside: bool | None = None
    current_version: str | None = None
    last_push: str = "none"  # none | known | changed since
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        drift = self.missing or self.extra or self.source_changed or self.changed_outside
        return "drift" if drift else "ok"

    def to_json(self) -> JSONObject:
        if self.error is not None:
            return {"worker": self.worker, "status": "failed", "error": self.error}
        return {"worker": self.worker, "status": self.status, "source": self.source, "missing": list(self.missing),
                "extra": list(self.extra), "sourceChanged": list(self.source_changed),
                "changedOutside": self.changed_outside, "currentVersion": self.current_version,
                "lastPush": self.last_push, "error": None}


@dataclass(frozen=True)
class DriftResult(CommandResult):
    """`skclaw secrets status`: drift per env (reads; nothing audited). --check: exit 5 on drift."""

    environments: Mapping[str, EnvDrift]
    check: bool = False

    def to_json(self) -> JSONObject:
        return {"environments": {env: e.to_json() for env, e in self.environments.items()}}

    def verdict(self) -> Verdict:
        failed = [env for env, e in self.environments.items() if e.status == "failed"]
        if failed:
            return Verdict(1, f"could not check: {', '.join(failed)}")
        drifted = [env for env, e in self.environments.items() if e.status == "drift"]
        if drifted and self.check:
            return Verdict(5, f"drift found in {', '.join(drifted)}", kind="drift")
        return Verdict()


# -- secrets sync -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncPlan:
    """What a dry run would do to one env (names only)."""

    create: tuple[str, ...] = ()
    overwrite: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        return {"create": list(self.create), "overwrite": list(self.overwrite), "delete": list(self.delete),
                "unchanged": list(self.unchanged)}


@dataclass(frozen=True)
class SyncedEnv:
    """One env of a sync. ``status``: ok, failed, refused or dry-run."""

    worker: str
    status: str
    pushed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    error: str | None = None
    #: a push: the names whose values needed no push
    unchanged: tuple[str, ...] | None = None
    #: a dry run: what it would do
    plan: SyncPlan | None = None
    #: --local: the .dev.vars file written
    file: str | None = None
    #: stopped by a signal while wrangler pushed (``failed`` in the JSON, ``interrupted`` in the audit)
    interrupted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.pushed or self.deleted)

    def to_json(self) -> JSONObject:
        entry: JSONObject = {"worker": self.worker, "status": self.status, "pushed": list(self.pushed),
                             "deleted": list(self.deleted), "error": self.error}
        if self.unchanged is not None:
            entry["unchanged"] = list(self.unchanged)
        if self.plan is not None:
            entry["plan"] = self.plan.to_json()
        if self.file is not None:
            entry["file"] = self.file
        return entry


@dataclass(frozen=True)
class SyncResult(CommandResult):
    """`skclaw secrets sync` (and `skclaw apply` of its plan): per env what was pushed and deleted."""

    environments: Mapping[str, SyncedEnv]
    dry_run: bool = False
    local: bool = False
    #: --plan-out: where the plan was written
    plan_file: str | None = None

    def to_json(self) -> JSONObject:
        document: JSONObject = {"environments": {env: e.to_json() for env, e in self.environments.items()}}
        if self.local:
            document.update(local=True, dryRun=self.dry_run)
        elif self.dry_run:
            document["dryRun"] = True
            if self.plan_file is not None:
                document["planFile"] = self.plan_file
        return document

    def verdict(self) -> Verdict:
        failed = [env for env, e in self.environments.items() if e.status == "failed"]
        if self.dry_run and not self.local:
            if not failed:
                return Verdict()
            return Verdict(1, f"secrets sync --dry-run could not plan {', '.join(failed)} "
                           "(a dry run still reads Cloudflare)")
        return partial_verdict("secrets sync", [env for env, e in self.environments.items() if e.changed], failed)

    def audit_entries(self) -> Sequence[AuditEntry]:
        if self.dry_run:
            return ()
        if self.local:
            from pathlib import Path

            return tuple(AuditEntry("secrets sync --local", env, e.worker, "ok", e.pushed,
                                    {"file": Path(e.file).name if e.file else None})
                         for env, e in self.environments.items())
        return tuple(
            AuditEntry("secrets sync", env, e.worker, "interrupted" if e.interrupted else e.status, e.pushed,
                       {"deleted": sorted(e.deleted), "error": e.error})
            for env, e in self.environments.items()
            if e.status != "ok" or e.changed  # an env with nothing to push is not a change
        )


# -- deploy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployPreflight:
    """What was checked on Cloudflare before a deploy (not on a dry run)."""

    #: D1 binding -> its pending remote migrations (None: could not be read)
    pending_migrations: Mapping[str, tuple[str, ...] | None]
    #: the required secrets were checked on the Worker (not with --with-secrets)
    secrets_checked: bool = False
    #: None: unknown (the Worker's secrets could not tell)
    first_deploy: bool | None = None


@dataclass(frozen=True)
class DeployResult(CommandResult):
    """`skclaw deploy` (and `skclaw apply` of its plan). ``status``: ok, failed or dry-run."""

    environment: str
    worker: str
    config: str
    #: wrangler's own build.command (it runs during `wrangler deploy`, --skip-build or not)
    wrangler_build: str | None
    message: str | None = None
    dry_run: bool = False
    status: str | None = None
    version_id: str | None = None
    targets: tuple[str, ...] = ()
    #: secret names deployed in the same version (--with-secrets), and where they came from
    secrets: tuple[str, ...] = ()
    secrets_source: str | None = None
    preflight: DeployPreflight | None = None
    #: what the build of .skclaw.jsonc ran (None: skipped or none configured)
    build: str | None = None
    #: a dry run: the bundle wrangler made (files, sizes)
    bundle: Mapping[str, JSON] | None = None
    plan_file: str | None = None
    #: wrangler's message when it failed
    error: str | None = None

    @property
    def url(self) -> str | None:
        return next((t for t in self.targets if t.startswith("https://")), None)

    def to_json(self) -> JSONObject:
        document: JSONObject = {
            "environment": self.environment, "worker": self.worker, "versionId": self.version_id,
            "dryRun": self.dry_run, "status": self.status, "targets": list(self.targets), "url": self.url,
            "message": self.message, "secrets": list(self.secrets), "config": self.config,
            "wranglerBuild": self.wrangler_build,
        }
        if self.secrets_source is not None:
            document["secretsSource"] = self.secrets_source
        if self.preflight is not None:
            if self.preflight.secrets_checked:
                document["firstDeploy"] = self.preflight.first_deploy
            document["pendingMigrations"] = {
                b: None if p is None else list(p) for b, p in self.preflight.pending_migrations.items()}
        document["build"] = self.build
        if self.bundle is not None:
            document["bundle"] = self.bundle
        if self.plan_file is not None:
            document["planFile"] = self.plan_file
        return document

    @property
    def no_version_message(self) -> str:
        return (f"wrangler deploy finished without reporting a new version; "
                f"check `skclaw status --env {self.environment}`")

    def verdict(self) -> Verdict:
        return Verdict(1, self.no_version_message) if self.status == "failed" else Verdict()

    def audit_entries(self) -> Sequence[AuditEntry]:
        if self.status not in ("ok", "failed"):
            return ()  # a dry run or a plan: nothing was deployed
        if self.status == "ok":
            details: dict[str, JSON] = {"versionId": self.version_id, "message": self.message}
        else:
            details = {"error": self.error or "no version id"}
        return (AuditEntry("deploy", self.environment, self.worker, self.status, self.secrets, details),)


# -- doctor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of doctor's report."""

    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str | None = None  # what to run or change, for a check that failed

    def to_json(self) -> JSONObject:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class D1Ref:
    binding: str
    name: str | None
    id: str | None

    def to_json(self) -> JSONObject:
        return {"binding": self.binding, "name": self.name, "id": self.id}


@dataclass(frozen=True)
class DoctorEnv:
    worker: str
    protected: bool
    protection: str | None
    d1: tuple[D1Ref, ...]
    source: str
    source_reachable: bool | None = None
    missing_required: tuple[str, ...] = ()
    error: str | None = None
    #: what to do about ``error`` (the source's hint)
    fix: str | None = None

    def to_json(self) -> JSONObject:
        return {"worker": self.worker, "protected": self.protected, "protection": self.protection,
                "d1": [d.to_json() for d in self.d1], "source": self.source,
                "sourceReachable": self.source_reachable, "missingRequired": list(self.missing_required),
                "error": self.error}


@dataclass(frozen=True)
class DoctorResult(CommandResult):
    """`skclaw doctor`: the checks (reads; nothing audited). A project skclaw cannot use is exit 2."""

    checks: tuple[Check, ...]
    environments: Mapping[str, DoctorEnv]
    #: why the wrangler project cannot be used (exit 2)
    bad_project: str | None = None

    def to_json(self) -> JSONObject:
        return {"checks": [c.to_json() for c in self.checks],
                "environments": {env: e.to_json() for env, e in self.environments.items()}}

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    def verdict(self) -> Verdict:
        if self.bad_project is not None:
            return Verdict(2, self.bad_project)
        failed = [c.name for c in self.problems]
        if failed:
            return Verdict(1, f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed: {', '.join(failed)}")
        return Verdict()


# -- migrate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrateResult(CommandResult):
    """`skclaw migrate` (and `skclaw apply` of its plan). ``status``: ok, refused, failed or dry-run."""

    environment: str
    worker: str
    database: D1Ref
    target: str  # remote | local
    protected: bool
    pending: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    already_applied: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    bookmark: str | None = None
    restore_command: str | None = None
    #: the migration that failed
    failed: str | None = None
    status: str = "ok"
    #: why it was refused or failed
    error: str | None = None
    plan_file: str | None = None
    #: the SHA-256 of the applied files are in skclaw's checksum table (None: nothing was applied)
    checksums_recorded: bool | None = None
    #: stopped by a signal while wrangler applied
    interrupted: bool = False
    #: --list: the result is the list of applied and pending migrations
    listing: bool = False

    def to_json(self) -> JSONObject:
        document: JSONObject = {
            "environment": self.environment, "worker": self.worker, "database": self.database.to_json(),
            "target": self.target, "protected": self.protected, "pending": list(self.pending),
            "applied": list(self.applied), "alreadyApplied": list(self.already_applied),
            "findings": [f.to_json() for f in self.findings], "bookmark": self.bookmark,
            "restoreCommand": self.restore_command, "failed": self.failed, "status": self.status,
        }
        if self.plan_file is not None:
            document["planFile"] = self.plan_file
        if self.checksums_recorded is not None:
            document["checksumsRecorded"] = self.checksums_recorded
        if self.error is not None:
            document["error"] = self.error
        return document

    def audit_entries(self) -> Sequence[AuditEntry]:
        if self.status in ("refused", "failed"):
            outcome = "interrupted" if self.interrupted else self.status
        elif self.status == "ok" and self.applied and not self.listing:
            outcome = "applied"
        else:
            return ()  # a list, a dry run, a plan, or nothing pending: nothing changed
        details: dict[str, JSON] = {
            "database": self.database.name, "target": self.target, "applied": list(self.applied),
            "pending": list(self.pending), "failed": self.failed, "bookmark": self.bookmark,
            "restoreCommand": self.restore_command,
        }
        if self.error is not None:
            details["error"] = self.error
        return (AuditEntry("migrate", self.environment, self.worker, outcome, details=details),)


# -- release ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseMigrations:
    """One D1 binding's part of a release: what was pending, what was applied, the restore point."""

    binding: str
    database: str
    pending: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    bookmark: str | None = None
    restore_command: str | None = None

    def to_json(self) -> JSONObject:
        return {"database": self.database, "pending": list(self.pending), "applied": list(self.applied),
                "bookmark": self.bookmark, "restoreCommand": self.restore_command}


@dataclass(frozen=True)
class Verification:
    percent: float
    exit_code: int | None  # None: the command could not start

    def to_json(self) -> JSONObject:
        return {"percent": self.percent, "exitCode": self.exit_code}


@dataclass(frozen=True)
class ReleaseResult(CommandResult):
    """`skclaw release` (and `skclaw apply` of its plan). ``status``: ok, failed or dry-run;
    ``outcome`` says more for the audit: ok, failed, interrupted or rolled-back."""

    environment: str
    worker: str
    previous_version_id: str | None
    gradual: tuple[float, ...] = ()
    verify: str | None = None
    soak: float = 0.0
    status: str | None = None
    outcome: str | None = None
    dry_run: bool = False
    version_id: str | None = None
    secrets: tuple[str, ...] = ()
    secrets_source: str | None = None
    migrations: tuple[ReleaseMigrations, ...] = ()
    findings: tuple[Finding, ...] = ()
    #: (step name, finished) in order
    steps: tuple[tuple[str, bool], ...] = ()
    verifications: tuple[Verification, ...] = ()
    rolled_back: bool = False
    resumed: bool = False
    state_file: str = ""
    build: str | None = None
    #: a dry run: the SHA-256 of the bundle wrangler would upload
    bundle: str | None = None
    plan_file: str | None = None
    error: str | None = None
    #: the migrate runs inside the release (their own audit records)
    migrate_results: tuple[MigrateResult, ...] = ()
    #: `--resume` of a release that had finished: nothing was done
    already_done: bool = False

    def to_json(self) -> JSONObject:
        document: JSONObject = {
            "environment": self.environment, "worker": self.worker, "status": self.status,
            "dryRun": self.dry_run, "previousVersionId": self.previous_version_id, "versionId": self.version_id,
            "gradual": list(self.gradual), "verify": self.verify, "soak": self.soak,
            "secrets": list(self.secrets), "secretsSource": self.secrets_source,
            "migrations": {m.binding: m.to_json() for m in self.migrations},
            "findings": [f.to_json() for f in self.findings],
            "steps": [{"name": name, "done": done} for name, done in self.steps],
            "verifications": [v.to_json() for v in self.verifications],
            "rolledBack": self.rolled_back, "resumed": self.resumed, "stateFile": self.state_file,
            "build": self.build,
        }
        if self.bundle is not None:
            document["bundle"] = self.bundle
        if self.plan_file is not None:
            document["planFile"] = self.plan_file
        if self.error is not None:
            document["error"] = self.error
        return document

    def audit_entries(self) -> Sequence[AuditEntry]:
        entries: list[AuditEntry] = [e for m in self.migrate_results for e in m.audit_entries()]
        if self.outcome is None or self.dry_run or self.already_done:
            return tuple(entries)  # a dry run, a plan, or refused before any change
        details: dict[str, JSON] = {
            "versionId": self.version_id, "previousVersionId": self.previous_version_id,
            "steps": [name for name, done in self.steps if done], "resumed": self.resumed,
        }
        if self.error is not None:
            details["error"] = self.error
        entries.append(AuditEntry("release", self.environment, self.worker, self.outcome, self.secrets, details))
        return tuple(entries)


# -- init -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResult(CommandResult):
    """`skclaw init`: the .skclaw.jsonc written (not audited: it is a file in the project)."""

    path: str
    environments: tuple[str, ...]
    protected_environments: tuple[str, ...]
    source: str
    environment_sources: Mapping[str, str]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    gitignore_added: tuple[str, ...]
    #: the protected list was inferred from the env names (not chosen)
    protection_inferred: bool = False
    #: what to run next, for people
    next_steps: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        return {"path": self.path, "environments": list(self.environments),
                "protectedEnvironments": list(self.protected_environments), "source": self.source,
                "environmentSources": dict(self.environment_sources), "required": list(self.required),
                "optional": list(self.optional), "gitignoreAdded": list(self.gitignore_added)}


# -- ci matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixEntry:
    env: str
    worker: str
    protected: bool

    def to_json(self) -> JSONObject:
        return {"env": self.env, "worker": self.worker, "protected": self.protected}


@dataclass(frozen=True)
class MatrixResult(CommandResult):
    """`skclaw ci matrix`: one job per env for a CI fan-out (reads the config only)."""

    include: tuple[MatrixEntry, ...]

    def to_json(self) -> JSONObject:
        return {"include": [e.to_json() for e in self.include]}
