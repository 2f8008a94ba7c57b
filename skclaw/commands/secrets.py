"""`skclaw secrets sync | set | rotate | list`."""

from __future__ import annotations

import secrets as _random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import FailedError, InterruptedRun, RefusedError, SkclawError, UsageError, WranglerError
from skclaw.results import (
    DriftResult,
    EnvDrift,
    ListedEnv,
    ListedKey,
    ListResult,
    RotatedEnv,
    RotateResult,
    SetResult,
    SyncedEnv,
    SyncPlan,
    SyncResult,
)
from skclaw.secrets.manifest import MAX_VALUE_BYTES
from skclaw.secrets.value import SecretValue

if TYPE_CHECKING:
    from skclaw.sources.base import SecretSource


@click.group("secrets", context_settings={"help_option_names": ["-h", "--help"]})
def secrets() -> None:
    """Sync, set, rotate and list Worker secrets (names only, values never printed)."""


def _read_stdin(key: str) -> str:
    try:
        return sys.stdin.read()
    except UnicodeDecodeError:
        raise UsageError(f"The value for {key} on stdin is not UTF-8 text; nothing was stored.") from None


def _check_value(key: str, value: str) -> None:
    if value == "":
        raise UsageError(f"The value for {key} is empty; nothing was stored.")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable stdin bytes kept as surrogates (C locale)
        raise UsageError(f"The value for {key} is not UTF-8 text; nothing was stored.") from None
    if size > MAX_VALUE_BYTES:
        raise UsageError(
            f"The value for {key} is larger than {MAX_VALUE_BYTES} bytes, Cloudflare's limit for a secret."
        )


# -- sync -------------------------------------------------------------------------------------


@secrets.command("sync")
@common_options(multiple_env=True)
@click.option("--all-envs", is_flag=True,
              help="Every env of the project (env blocks, plus the top level when it is named; or "
              "`envs` of .skclaw.jsonc). Without it and --env: the top level.")
@click.option("--source", metavar="SOURCE", help="Read from this source instead of the configured one.")
@click.option("--only", multiple=True, metavar="KEY", help="Only these keys (repeatable).")
@click.option("--prune", is_flag=True, help="Delete Worker secrets that are not in the manifest.")
@click.option("--local", is_flag=True, help="Write .dev.vars.<env> for `wrangler dev` instead.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan (names only); change nothing. Still reads the Worker's secret names "
              "from Cloudflare: needs credentials and the network.")
@click.option("--method", type=click.Choice(["bulk", "put"]), default="bulk", show_default=True,
              help="bulk: one new version per env; put: one `secret put` per key.")
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the plan (names, keyed fingerprints, deployed versions; no values) and change "
              "nothing; `skclaw apply FILE` does exactly that plan later, or refuses if anything moved.")
@run_command("secrets sync")
def sync(app: AppContext, envs: tuple[str, ...], all_envs: bool, source: str | None, only: tuple[str, ...],
         prune: bool, local: bool, dry_run: bool, method: str, plan_out: Path | None) -> SyncResult:
    """Push each environment's secrets from its source to its Worker."""
    if plan_out is not None and (local or dry_run):
        raise UsageError("--plan-out writes a plan for Cloudflare: not with --local or --dry-run.")
    return run_sync(app, envs=envs, all_envs=all_envs, source=source, only=only, prune=prune, local=local,
                    dry_run=dry_run or plan_out is not None, method=method, plan_out=plan_out)


def run_sync(app: AppContext, *, envs: tuple[str, ...], all_envs: bool, source: str | None, only: tuple[str, ...],
             prune: bool, local: bool, dry_run: bool, method: str, plan_out: Path | None = None,
             expected: dict[str, Any] | None = None) -> SyncResult:
    """The sync pipeline: resolve, plan, (save the plan | compare with a saved one), gate, apply."""
    from skclaw import saved_plan
    from skclaw.secrets import sync as engine

    if prune and only:
        raise UsageError("--prune cannot be combined with --only (it would delete the other keys).")
    if prune and local:
        raise UsageError("--prune has no meaning with --local (the file is rewritten whole).")
    selected = app.select_envs(envs, all_envs)
    for env in selected:
        app.target(env)  # bad input (exit 2) before the policy refusal (exit 3)
    if local:
        from skclaw import policy

        refusal = policy.local_sync_refusal([app.protection(env) for env in selected])
        if refusal:
            raise RefusedError(refusal)
    if not dry_run:
        for env in selected:  # before planning: what is planned is what gets applied
            app.lock_env(env)
    resolved = engine.resolve_all(app, selected, source=source, only=only)
    out = app.output

    if local:
        return _sync_local(app, resolved, dry_run)

    if method == "put":
        # `wrangler secret put` trims trailing whitespace: refuse before anything changes.
        for s in resolved:
            for key, value in s.values.items():
                if value.reveal() != value.reveal().rstrip():
                    raise UsageError(
                        f"{s.env}: the value of {key} ends with whitespace, which `wrangler secret put` trims.",
                        hint="Use --method bulk (the default), which sends values exactly.",
                    )
    from skclaw.credentials import require_credentials

    for env in selected:
        require_credentials(
            app.environ, app.project.directory, env, outcome="nothing was changed",
            hint="A dry run still reads Cloudflare (the Worker's secret names): it needs credentials "
            "and the network too. `--local` needs neither." if dry_run else "",
        )
    saving = plan_out is not None or expected is not None
    plans, planning_failures = engine.plan_all(app, resolved, prune=prune, read_versions=saving)
    for env, exc in planning_failures.items():
        out.error(f"{env}: could not be planned: {exc.message}")
    if saving and planning_failures:
        raise FailedError(f"Could not plan {', '.join(planning_failures)}; nothing was written or changed.")
    if saving:
        from skclaw.secrets import fingerprints

        options = {"envs": [s.env for s in resolved], "prune": prune, "only": list(only), "source": source,
                   "method": method}
        document = engine.plan_document(app, plans, options)
        if expected is not None:
            saved_plan.refuse_if_moved(expected, document, outcome="nothing was changed")
        elif plan_out is not None:
            saved_plan.write(plan_out, saved_plan.seal(document, fingerprints.load_key(app.environ)))
    for plan in plans:
        if dry_run:  # otherwise the gate shows each env's plan block, once, before any question
            out.step(f"{plan.env} → {plan.worker} ({plan.secrets.source.describe()})")
            for line in plan.lines():
                out.info(f"    {line}")
        if plan.prune_skipped_reason:
            out.warn(f"{plan.env}: not pruning: {plan.prune_skipped_reason}")

    unplanned = {
        s.env: SyncedEnv(s.target.worker, "failed", error=f"planning failed: {planning_failures[s.env]}")
        for s in resolved if s.env in planning_failures
    }
    if dry_run:
        planned = {p.env: SyncedEnv(p.worker, "dry-run", plan=SyncPlan(
            tuple(p.create), tuple(p.overwrite), tuple(p.delete), tuple(p.unchanged))) for p in plans}
        return SyncResult({**planned, **unplanned}, dry_run=True,
                          plan_file=str(plan_out) if plan_out is not None and not unplanned else None)

    from skclaw.safety import request_consent

    for plan in plans:
        if not plan.has_changes:  # nothing to push: no question, no version
            out.step(f"{plan.env} → {plan.worker}: {'; '.join(plan.lines())}")
            continue
        try:
            request_consent(
                app, env=plan.env, action="secrets sync",
                target_lines=[f"account: {app.account_label(plan.secrets.target)}",
                              f"worker:  {plan.worker}", f"source:  {plan.secrets.source.describe()}",
                              *plan.lines()],
                show_when_free=True,
                destructive=bool(plan.delete),
                destructive_reason=f"deletes {', '.join(plan.delete)}" if plan.delete else "",
            )
        except RefusedError as exc:
            exc.partial_result = SyncResult({plan.env: SyncedEnv(plan.worker, "refused", error=exc.message)})
            raise

    def report(plan: engine.EnvPlan, outcome: SyncedEnv, elapsed: float) -> None:
        # Progress, as each env finishes: the result says it again, once, at the end.
        if outcome.status == "ok":
            out.success(f"{plan.env}: pushed {len(outcome.pushed)}, deleted {len(outcome.deleted)} "
                        f"→ {plan.worker} ({elapsed:.1f}s)")
        else:
            out.error(f"{plan.env}: {outcome.error}")

    todo = [p for p in plans if p.has_changes]
    results = {p.env: SyncedEnv(p.worker, "ok", unchanged=tuple(p.unchanged)) for p in plans if p not in todo}
    results.update(unplanned)
    try:
        # Each wrangler call shows its own live line (env, what, elapsed, retries).
        results.update(engine.apply_all(app, todo, method=method, on_done=report))
    except KeyboardInterrupt:
        for plan in todo:
            if plan.env not in results:
                results[plan.env] = SyncedEnv(plan.worker, "failed", error="interrupted; wrangler was stopped",
                                              interrupted=True)
        finished = [env for env, o in results.items() if o.status == "ok"]
        interrupted = InterruptedRun(
            "Interrupted; wrangler was stopped. "
            + (f"Finished: {', '.join(finished)}." if finished else "No environment finished.")
        )
        interrupted.partial_result = SyncResult(results)
        raise interrupted from None
    return SyncResult({s.env: results[s.env] for s in resolved if s.env in results})


def _sync_local(app: AppContext, resolved: list[Any], dry_run: bool) -> SyncResult:
    from skclaw.secrets.devvars import check_dev_vars_target, dev_vars_path, write_dev_vars
    from skclaw.secrets.dotenv import format_dev_vars

    config_dir = app.project.directory
    # Render every file first: an unrepresentable value fails the run before any file is written.
    for s in resolved:
        format_dev_vars({k: v.reveal() for k, v in s.values.items()})
        check_dev_vars_target(dev_vars_path(config_dir, s.env))
    results: dict[str, SyncedEnv] = {}
    for s in resolved:
        path = dev_vars_path(config_dir, s.env)
        keys = [k for k in s.manifest if k in s.values]
        if not dry_run:
            write_dev_vars(path, {k: s.values[k] for k in keys})
        results[s.env] = SyncedEnv(s.target.worker, "dry-run" if dry_run else "ok", tuple(keys), file=str(path))
    return SyncResult(results, local=True, dry_run=dry_run)


# -- set --------------------------------------------------------------------------------------


def _read_value(app: AppContext, key: str) -> str:
    if not sys.stdin.isatty():
        value = _read_stdin(key)
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
        return value
    if not app.interactive:
        raise UsageError(
            f"No value for {key}: this run is non-interactive and stdin is a terminal.",
            hint=f"Pipe the value on stdin: printf %s \"$VALUE\" | skclaw secrets set {key} --env ENV",
        )
    from skclaw import prompts

    return prompts.secret_twice(key)


def _push_one(app: AppContext, env: str, worker: str, key: str, value: SecretValue) -> None:
    from skclaw.secrets.sync import worker_names

    worker_names(app, env, worker)  # refuse rather than let wrangler create a draft Worker
    app.wrangler.secret_bulk(env, {key: value})


@secrets.command("set")
@click.argument("key")
@common_options()
@click.option("--source", metavar="SOURCE", help="Store in this source instead of the configured one.")
@click.option("--push", is_flag=True, help="Also send the value to the env's Worker.")
@run_command("secrets set")
def set_(app: AppContext, key: str, env: str | None, source: str | None, push: bool) -> SetResult:
    """Store KEY for an env (value from stdin or a hidden prompt); --push also sends it."""
    from skclaw.config import validate_secret_name
    from skclaw.secrets.manifest import open_env_source

    validate_secret_name(key, where="the command line")
    env_name = app.select_env(env)
    target = app.target(env_name)
    store = open_env_source(app, target, source)
    store.check()
    if not store.writable:
        raise UsageError(f"The {store.name} source is read-only; choose another with --source.")
    if push:
        from skclaw.safety import request_consent

        request_consent(app, env=env_name, action="secrets set --push",
                        target_lines=[f"account: {app.account_label(target)}", f"worker:  {target.worker}",
                                      f"key:     {key}"])
    raw = _read_value(app, key)
    _check_value(key, raw)
    value = SecretValue(raw)
    store.write(key, value)
    done = SetResult(environment=env_name, worker=target.worker, key=key, source=store.describe())
    if push:
        try:
            _push_one(app, env_name, target.worker, key, value)
        except SkclawError as exc:
            exc.partial_result = replace(done, push_error=exc.message)
            exc.message += (f" The value is stored in {store.describe()}; "
                            f"finish with: skclaw secrets sync --env {env_name} --only {key}")
            raise
        done = replace(done, pushed=True)
    return done


# -- rotate -----------------------------------------------------------------------------------


@secrets.command("rotate")
@click.argument("key")
@common_options(multiple_env=True)
@click.option("--all-envs", is_flag=True,
              help="Every env of the project (env blocks, plus the top level when it is named).")
@click.option("--bytes", "nbytes", type=click.IntRange(16, 512), default=32, show_default=True,
              help="Random bytes per new value (hex encoded).")
@click.option("--from-stdin", is_flag=True, help="Take the new value from stdin (one env only).")
@click.option("--no-push", is_flag=True, help="Store the new value but do not send it to the Worker.")
@click.option("--print-value", is_flag=True, help="Print each new value once (stdout / JSON).")
@click.option("--source", metavar="SOURCE", help="Use this source instead of the configured one.")
@click.option("--undo", is_flag=True,
              help="Put back the value KEY had before its last rotation (the source keeps it) and push it.")
@run_command("secrets rotate")
def rotate(app: AppContext, key: str, envs: tuple[str, ...], all_envs: bool, nbytes: int, from_stdin: bool,
           no_push: bool, print_value: bool, source: str | None, undo: bool) -> RotateResult:
    """Give KEY a new random value per env: stored in the source first, then pushed."""
    from skclaw.config import validate_secret_name
    from skclaw.secrets.manifest import open_env_source

    validate_secret_name(key, where="the command line")
    selected = app.select_envs(envs, all_envs)
    if from_stdin and len(selected) != 1:
        raise UsageError("--from-stdin rotates one environment at a time (each env gets its own value).")
    if undo and from_stdin:
        raise UsageError("--undo puts back the previous value; it takes no value from stdin.")
    stores = {}
    for env in selected:
        target = app.target(env)
        store = open_env_source(app, target, source)
        store.check()
        if not store.writable:
            raise UsageError(f"The {store.name} source of {env} is read-only; choose another with --source.")
        stores[env] = (target, store)
    previous: dict[str, SecretValue] = {}
    if undo:  # every env must have a value to go back to, before anything changes
        for env, (_target, store) in stores.items():
            kept = store.read_previous(key)
            if kept is None:
                raise UsageError(f"{env}: {store.describe()} keeps no previous value of {key}; nothing was changed.",
                                 hint="Only a value skclaw rotated or set there can be put back.")
            previous[env] = kept

    from skclaw.safety import request_consent

    for env in stores:
        app.lock_env(env)
    if not no_push:
        from skclaw.secrets.sync import worker_names

        for env, (target, _store) in stores.items():
            worker_names(app, env, target.worker)  # the Worker must exist before anything changes
    for env, (target, store) in stores.items():
        # --no-push still writes the env's source of truth: the same consent as a push.
        where = f"{store.describe()} only (--no-push)" if no_push else f"{store.describe()}, then {target.worker}"
        request_consent(app, env=env, action="secrets rotate" + (" --no-push" if no_push else ""),
                        target_lines=[f"account: {app.account_label(target)}",
                                      f"worker:  {target.worker}",
                                      f"key:     {key} ({'its value before the last rotation' if undo else 'new'})",
                                      f"writes:  {where}"])

    stdin_value = None
    if from_stdin:
        stdin_value = _read_stdin(key).removesuffix("\n").removesuffix("\r")
        _check_value(key, stdin_value)

    results: dict[str, RotatedEnv] = {}

    def rotated() -> RotateResult:
        return RotateResult(key, dict(results), no_push=no_push, print_value=print_value)

    try:
        for env, (target, store) in stores.items():
            results[env] = _rotate_env(app, env, target.worker, store, key, no_push=no_push, print_value=print_value,
                                       value=previous[env] if undo else SecretValue(
                                           stdin_value if stdin_value is not None else _random.token_hex(nbytes)))
    except KeyboardInterrupt as exc:  # the envs done so far are audited and reported
        setattr(exc, "partial_result", rotated())  # noqa: B010 (not a SkclawError: no such attribute declared)
        raise
    return rotated()


def _rotate_env(app: AppContext, env: str, worker: str, store: SecretSource, key: str, *, value: SecretValue,
                no_push: bool, print_value: bool) -> RotatedEnv:
    done = RotatedEnv(env=env, worker=worker, key=key, source=store.describe())
    try:
        store.write(key, value)
    except SkclawError as exc:
        return replace(done, failure=exc.message)
    done = replace(done, stored=True, value=value if print_value else None)
    if print_value:
        from skclaw import github

        # Before the value is shown anywhere: on stdout's own stream when it is printed there.
        github.mask(app.environ, app.output.stderr if app.action.json else app.output.stdout, value.reveal())
    if not no_push:
        try:
            app.wrangler.secret_bulk(env, {key: value})
        except SkclawError as exc:
            return replace(done, failure=exc.message)
        done = replace(done, pushed=True)
    return done


# -- status (drift) ---------------------------------------------------------------------------


def _drift_of(app: AppContext, env: str, source: str | None, key: bytes) -> EnvDrift:
    from skclaw.secrets import fingerprints
    from skclaw.secrets.manifest import read_env_secrets
    from skclaw.secrets.sync import current_version, worker_names

    found = read_env_secrets(app, env, source_override=source)
    worker = found.target.worker
    state = fingerprints.load_state(app.project_dir, worker)
    with ThreadPoolExecutor(max_workers=2) as pool:
        names_read = pool.submit(worker_names, app, env, worker)
        version_read = pool.submit(current_version, app, env)
    on_worker = set(names_read.result())
    current = version_read.result()
    wanted = [*found.required, *(k for k in found.optional if k in found.values)]
    manifest = set(found.manifest)
    drift = EnvDrift(
        worker=worker, source=found.source.describe(), current_version=current,
        missing=tuple(k for k in wanted if k not in on_worker),
        extra=tuple(sorted(k for k in on_worker if k not in manifest)),
    )
    if state.secrets:
        drift = replace(
            drift,
            last_push="known" if state.knows(current) else "changed since",
            changed_outside=not state.knows(current),
            source_changed=tuple(sorted(
                k for k, v in found.values.items()
                if k in state.secrets and state.secrets[k] != fingerprints.fingerprint(key, worker, k, v)
            )),
        )
    return drift


@secrets.command("status")
@common_options(multiple_env=True, acts=False)
@click.option("--all-envs", is_flag=True, help="Every environment of the project.")
@click.option("--source", metavar="SOURCE", help="Compare with this source instead of the configured one.")
@click.option("--check", is_flag=True, help="Exit 5 when anything drifted (for a scheduled CI job).")
@run_command("secrets status")
def status(app: AppContext, envs: tuple[str, ...], all_envs: bool, source: str | None, check: bool) -> DriftResult:
    """Drift per env: names missing on or extra to the Worker, values whose source changed since
    skclaw pushed them, and changes made outside skclaw. Reads Cloudflare; changes nothing."""
    from skclaw.secrets import fingerprints

    selected = app.select_envs(envs, all_envs)
    key = fingerprints.load_key(app.environ)
    results: dict[str, EnvDrift] = {}
    with ThreadPoolExecutor(max_workers=min(4, len(selected))) as pool:
        futures = {env: pool.submit(_drift_of, app, env, source, key) for env in selected}
    for env, future in futures.items():
        try:
            results[env] = future.result()
        except UsageError:
            raise
        except SkclawError as exc:
            results[env] = EnvDrift(worker=app.target(env).worker, error=exc.message)
    return DriftResult(results, check=check)


# -- list -------------------------------------------------------------------------------------


@secrets.command("list")
@common_options(multiple_env=True, acts=False)
@click.option("--all-envs", is_flag=True,
              help="Every env of the project (env blocks, plus the top level when it is named).")
@click.option("--source", metavar="SOURCE", help="Look in this source instead of the configured one.")
@run_command("secrets list")
def list_(app: AppContext, envs: tuple[str, ...], all_envs: bool, source: str | None) -> ListResult:
    """Names only: required or optional, in the source, on the Worker.

    Reads the Worker's secret names from Cloudflare: needs credentials and the network.
    """
    from skclaw.secrets.manifest import read_env_secrets
    from skclaw.wrangler import is_worker_not_found

    results: dict[str, ListedEnv] = {}
    for env in app.select_envs(envs, all_envs):
        target = app.target(env)
        try:
            found = read_env_secrets(app, env, source_override=source)
        except UsageError:
            raise  # bad input is exit 2 for the whole run
        except SkclawError as exc:
            results[env] = ListedEnv(target.worker, None, error=exc.message)
            continue
        on_worker: set[str] | None
        worker_exists: bool | None = None
        error: str | None = None
        try:
            on_worker = set(app.wrangler.secret_names(env))
            worker_exists = True
        except UsageError:
            raise
        except SkclawError as exc:
            on_worker = None
            if isinstance(exc, WranglerError) and is_worker_not_found(exc):
                worker_exists = False
            else:
                error = exc.message
        rows = [(k, "required") for k in found.required] + [(k, "optional") for k in found.optional]
        rows += [(k, "extra") for k in found.extra]
        if on_worker is not None:
            known = {k for k, _ in rows}
            rows += [(k, "unmanaged") for k in sorted(on_worker - known)]
        keys = tuple(
            ListedKey(name, role, in_source=name in found.values or role == "extra",
                      on_worker=None if on_worker is None else name in on_worker)
            for name, role in rows
        )
        results[env] = ListedEnv(target.worker, found.source.describe(), keys, error, worker_exists)
    return ListResult(results)
