"""The human view of a result: the summary lines and tables a command ends with, from its result.

One function per result type, registered on :func:`render`; the boundary (:mod:`skclaw.cli`)
calls it once when a command returns. Results go to stdout through ``Output.result*`` (so they can
be piped), the closing success or failure line to stderr. ``--json`` is the other view of the
same object (``to_json``), written by :meth:`skclaw.output.Output.envelope`.
"""

from __future__ import annotations

from functools import singledispatch
from pathlib import Path

from skclaw.output import Output
from skclaw.project import DEFAULT_ENV
from skclaw.results import (
    CommandResult,
    DeployResult,
    DoctorResult,
    DriftResult,
    InitResult,
    ListResult,
    MatrixResult,
    MigrateResult,
    ReleaseResult,
    RollbackResult,
    RotateResult,
    SetResult,
    StatusResult,
    SyncResult,
    Verdict,
)
from skclaw.timefmt import ago


@singledispatch
def render(result: CommandResult, out: Output) -> None:
    """Print ``result`` for people (nothing for a type without a renderer)."""


@render.register
def _status(result: StatusResult, out: Output) -> None:
    for env, report in result.environments.items():  # stdout, so `skclaw status | grep` works
        deployment = report.deployment
        if report.error or deployment is None:
            out.error(f"{env} · {report.worker}: {report.error}")
            continue
        out.result(f"{env} · {report.worker}")
        out.result(f"  deployment {deployment.id} {ago(deployment.created)} by {deployment.author or '?'}")
        if deployment.message:
            out.result(f"  message: {deployment.message}")
        for item in deployment.versions:
            out.result(f"  {float(item.percentage or 0):>5g}%  {item.version_id}")
        if report.release:
            release = report.release
            flag = "" if env == DEFAULT_ENV else f" --env {env}"
            out.result(f"  release: {release.get('status')}, next step {release.get('nextStep')} "
                       f"(continue: skclaw release{flag} --resume)")


@render.register
def _rollback(result: RollbackResult, out: Output) -> None:
    if result.already_live:
        out.success(f"{result.version_id} is already live at 100% on {result.worker}; nothing to do")
    elif result.status == "ok":
        out.success(f"rolled {result.worker} ({result.environment}) back: {result.version_id} is live at 100% "
                    "(verified)")
    else:
        out.error(result.unverified_message)


def _failure(verdict: Verdict, out: Output) -> None:
    """The closing error line of a per-env command that failed somewhere."""
    if verdict.exit_code != 0 and verdict.message:
        out.error(verdict.message)


@render.register
def _set(result: SetResult, out: Output) -> None:
    out.success(f"stored {result.key} for {result.environment} in {result.source}")
    if result.pushed:
        out.success(f"pushed {result.key} to {result.worker}")


@render.register
def _rotate(result: RotateResult, out: Output) -> None:
    for env, done in result.environments.items():
        if done.error:
            out.error(f"{env}: {done.error}")
            continue
        out.success(f"{env}: rotated {result.key} ({'stored' if result.no_push else 'stored and pushed'})")
        if done.value is not None and not out.json_mode:  # the value was masked for GitHub when it was made
            value = done.value.reveal()
            out.print_value(value if len(result.environments) == 1 else f"{env}\t{value}")
    _failure(result.verdict(), out)


@render.register
def _list(result: ListResult, out: Output) -> None:
    mark = {True: "yes", False: "no", None: "?"}
    for env, entry in result.environments.items():
        if entry.error:
            out.error(f"{env}: {entry.error}")
        if entry.source is None:
            continue
        out.result_table(
            f"{env} → {entry.worker} · {entry.source}",
            ["secret", "role", "in source", "on Worker"],
            [(k.name, k.role, mark[k.in_source], mark[k.on_worker]) for k in entry.keys],
        )


_OUTSIDE = {True: "yes: the Worker's version is not one skclaw made (values unknown)", False: "no",
            None: "unknown: skclaw has not pushed here yet"}


@render.register
def _drift(result: DriftResult, out: Output) -> None:
    for env, entry in result.environments.items():
        if entry.error is not None:
            out.error(f"{env}: {entry.error}")
            continue
        rows = [(k, "missing on Cloudflare") for k in entry.missing]
        rows += [(k, "on Cloudflare, not in the manifest") for k in entry.extra]
        rows += [(k, "source changed since skclaw pushed it") for k in entry.source_changed]
        out.result(f"{env} → {entry.worker}: {'in sync' if entry.status == 'ok' else 'DRIFT'}")
        out.result(f"  changed outside skclaw: {_OUTSIDE[entry.changed_outside]}")
        if rows:
            out.result_table(None, ["secret", "drift"], rows)


@render.register
def _sync(result: SyncResult, out: Output) -> None:
    # Each pushed env was reported as it finished (with its time); what is left is the outcome.
    if result.local:
        for env, done in result.environments.items():
            if not result.dry_run and done.file is not None:
                count = len(done.pushed)
                out.success(f"{env}: wrote {count} secret{'s' if count != 1 else ''} to "
                            f"{Path(done.file).name} (mode 0600)")
        return
    verdict = result.verdict()
    if verdict.exit_code != 0:
        _failure(verdict, out)
    elif result.plan_file is not None:
        out.success(f"plan written to {result.plan_file} (names and fingerprints, no values); nothing was changed. "
                    f"Apply it with: skclaw apply {result.plan_file}")
    elif result.dry_run:
        out.success("dry run: nothing was changed")


@render.register
def _deploy(result: DeployResult, out: Output) -> None:
    target = f"{result.worker} ({result.environment})"
    if result.plan_file is not None:
        out.success(f"plan written to {result.plan_file}; nothing was deployed. "
                    f"Apply it with: skclaw apply {result.plan_file}")
    elif result.dry_run:
        bundle = result.bundle or {}
        size = f"{bundle.get('totalBytes')} bytes"
        if bundle.get("upload"):
            size += f"; wrangler: {bundle['upload']} / gzip {bundle.get('gzip')}"
        out.success(f"dry run of {target}: bundle {size}; nothing was deployed")
    elif result.status == "ok":
        out.success(f"deployed {target}: version {result.version_id}")
        for item in result.targets:
            out.info(f"  {item}")
    else:
        out.error(result.no_version_message)


_CHECK_COLOUR = {"ok": "green", "warn": "yellow", "fail": "red"}
_CHECK_LABEL = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


@render.register
def _doctor(result: DoctorResult, out: Output) -> None:
    from rich.markup import escape

    width = max((len(c.name) for c in result.checks), default=0)
    for check in result.checks:  # padded as plain text, then coloured: the columns line up
        colour = _CHECK_COLOUR[check.status]
        status = f"[{colour}]{_CHECK_LABEL[check.status]:<4}[/{colour}]"
        out.result_markup(f"  {status}  {escape(check.name):<{width}}  {escape(check.detail)}")
    problems = result.problems
    if problems:
        out.result(f"\n{len(problems)} problem{'s' if len(problems) != 1 else ''}:")
        for check in problems:
            out.result(f"  {check.name}: {check.fix or 'see above'}")
    verdict = result.verdict()
    if verdict.message:
        out.error(verdict.message)  # the report is the result (stdout); the verdict is an error (stderr)
    else:
        out.success("all checks passed")


@render.register
def _migrate(result: MigrateResult, out: Output) -> None:
    if result.listing:
        rows = [(name, "applied") for name in result.applied] + [(name, "pending") for name in result.pending]
        if rows:
            out.result_table("D1 migrations", ["file", "state"], rows)
        out.result(f"{len(result.applied)} applied, {len(result.pending)} pending")
    elif result.plan_file is not None:
        out.success(f"plan written to {result.plan_file}; nothing was changed. "
                    f"Apply it with: skclaw apply {result.plan_file}")
    elif result.status == "dry-run":
        out.success("dry run: nothing was changed")
    elif not result.applied:
        out.success(f"No migrations to apply to {result.database.name} ({result.target}).")
    else:
        for name in result.applied:
            out.success(f"applied {name}")
        count = len(result.applied)
        out.success(f"{count} migration{'s' if count != 1 else ''} applied to {result.database.name} "
                    f"({result.target})")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@render.register
def _init(result: InitResult, out: Output) -> None:
    out.success(f"wrote {Path(result.path).name} ({_count(len(result.environments), 'environment')}, "
                f"{_count(len(result.required), 'required secret')})")
    protected = ", ".join(result.protected_environments) or "none (every change runs without consent)"
    out.info(f"protected: {protected}" + (" (inferred from the env names)" if result.protection_inferred else ""))
    if result.gitignore_added:
        out.info(f"added to .gitignore: {', '.join(result.gitignore_added)}")
    for line in result.next_steps:
        out.info(line)


@render.register
def _matrix(result: MatrixResult, out: Output) -> None:
    if not out.json_mode:  # the matrix itself, one line, for `fromJSON(...)` (--json: the envelope carries it)
        import json

        out.stdout.write(json.dumps(result.to_json(), separators=(",", ":")) + "\n")
        out.stdout.flush()


@render.register
def _release(result: ReleaseResult, out: Output) -> None:
    target = f"{result.worker} ({result.environment})"
    if result.already_done:
        out.success(f"the release of {result.environment} (version {result.version_id}) had finished; "
                    "nothing to resume")
    elif result.plan_file is not None:
        out.success(f"plan written to {result.plan_file}; nothing was changed. "
                    f"Apply it with: skclaw apply {result.plan_file}")
    elif result.dry_run:
        out.success(f"dry run of the release of {target}; nothing was changed")
    elif result.status == "ok":
        out.success(f"released {target}: version {result.version_id} serves 100%")
