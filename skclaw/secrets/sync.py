"""The engine behind `skclaw secrets sync`: plan per env, gate, apply concurrently.

Phases, each finished for every env before the next starts:
1. resolve + read sources (any missing required key stops the run: nothing changed),
2. plan with `wrangler secret list` (a missing Worker refuses the run: no draft Workers),
3. consent for every env that needs it (one refusal refuses the run),
4. apply in parallel: one `secret bulk` per env (<= 100 keys per call), deletes after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from skclaw.context import AppContext
from skclaw.errors import RefusedError, SkclawError, SourceError, UsageError, WranglerError
from skclaw.results import SyncedEnv
from skclaw.secrets import fingerprints
from skclaw.secrets.fingerprints import PushedState
from skclaw.secrets.manifest import EnvSecrets, read_env_secrets, store_hint
from skclaw.secrets.value import SecretValue
from skclaw.wrangler import is_worker_not_found

BULK_LIMIT = 100
MAX_PARALLEL_ENVS = 4


@dataclass
class EnvPlan:
    secrets: EnvSecrets
    on_worker: list[str]
    create: list[str]
    overwrite: list[str]
    delete: list[str]
    prune_skipped_reason: str | None = None
    #: on the Worker with the value skclaw last pushed, and the Worker unchanged since: not pushed
    unchanged: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)  # name -> keyed fingerprint (no values)
    state: PushedState | None = None
    #: the Worker's version changed outside skclaw since its last push (values unknown again)
    changed_outside: bool = False
    #: the version at 100 % when planned (read when skclaw pushed here before, or for a saved plan)
    deployed_version: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.push or self.delete)

    @property
    def env(self) -> str:
        return self.secrets.env

    @property
    def worker(self) -> str:
        return self.secrets.target.worker

    @property
    def push(self) -> list[str]:
        return [*self.create, *self.overwrite]

    def lines(self) -> list[str]:
        out = []
        if self.unchanged:
            out.append(f"unchanged ({len(self.unchanged)}): {', '.join(self.unchanged)}")
        if self.changed_outside:
            out.append("changed outside skclaw since its last push: every value is pushed again")
        if self.create:
            out.append(f"create ({len(self.create)}): {', '.join(self.create)}")
        if self.overwrite:
            out.append(f"overwrite ({len(self.overwrite)}): {', '.join(self.overwrite)}")
        if self.delete:
            out.append(f"DELETE ({len(self.delete)}): {', '.join(self.delete)}")
        missing = self.secrets.missing_optional
        if missing:
            out.append(f"skip, not in source (optional): {', '.join(missing)}")
        return out or ["nothing to push"]


def resolve_all(
    app: AppContext, envs: Sequence[str], *, source: str | None, only: Sequence[str]
) -> list[EnvSecrets]:
    """Read every env's source; missing required keys are reported for all envs at once."""
    resolved = [read_env_secrets(app, env, source_override=source, only=only) for env in envs]
    bad = [f"{s.env}: {', '.join(s.bad_values)} in {s.source.describe()}" for s in resolved if s.bad_values]
    if bad:
        raise UsageError(
            "Bad secret values; nothing was pushed to any environment:\n  " + "\n  ".join(bad),
            hint="An empty value is usually an unset CI secret (${{ secrets.X }} of a missing X); "
            "fix the values in their source, then re-run.",
        )
    problems = [
        f"{s.env}: {', '.join(s.missing_required)} missing from {s.source.describe()}"
        for s in resolved if s.missing_required
    ]
    if problems:
        raise SourceError(
            "Required secrets are missing; nothing was pushed:\n  " + "\n  ".join(problems),
            hint=store_hint([s.source for s in resolved if s.missing_required],
                            next(s.env for s in resolved if s.missing_required)),
        )
    for s in resolved:
        for warning in getattr(s.source, "warnings", []):
            app.output.warn(warning)
    return resolved


def worker_names(app: AppContext, env: str, worker: str) -> list[str]:
    try:
        names: list[str] = app.wrangler.secret_names(env)
        return names
    except WranglerError as exc:
        if is_worker_not_found(exc):
            raise RefusedError(
                f"The Worker {worker} ({env}) does not exist; skclaw will not let wrangler create an "
                "empty draft Worker. Nothing was changed.",
                hint=f"Deploy it first: skclaw deploy --env {env}",
            ) from None
        raise


def current_version(app: AppContext, env: str) -> str | None:
    """The version at 100 % of the env's Worker (None during a split deployment)."""
    return app.wrangler.deployed_version(env)


def plan_env(
    app: AppContext, secrets: EnvSecrets, *, prune: bool, key: bytes, read_version: bool = False
) -> EnvPlan:
    worker = secrets.target.worker
    state = fingerprints.load_state(app.project_dir, worker)
    current: str | None = None
    changed_outside = False
    if state.versions or read_version:  # skclaw pushed here before: is the Worker still as it left it?
        with ThreadPoolExecutor(max_workers=2) as pool:
            names_read = pool.submit(worker_names, app, secrets.env, worker)
            version_read = pool.submit(current_version, app, secrets.env)
        on_worker = names_read.result()
        try:
            current = version_read.result()
        except SkclawError:
            current = None  # unknown: push every value (never skip on a guess)
        changed_outside = bool(state.versions) and not state.knows(current)
    else:
        on_worker = worker_names(app, secrets.env, worker)
    present = set(on_worker)
    push = [k for k in secrets.manifest if k in secrets.values]
    prints = {k: fingerprints.fingerprint(key, worker, k, secrets.values[k]) for k in push}
    unchanged = [k for k in state.unchanged(prints, current) if k in present]
    push = [k for k in push if k not in unchanged]
    create = [k for k in push if k not in present]
    overwrite = [k for k in push if k in present]
    delete: list[str] = []
    skipped = None
    if prune:
        if not secrets.values:
            skipped = "the source returned no keys; refusing to prune everything"
        else:
            manifest = set(secrets.manifest)
            delete = sorted(k for k in on_worker if k not in manifest)
    return EnvPlan(secrets, on_worker, create, overwrite, delete, skipped, unchanged, prints, state,
                   changed_outside, current)


def plan_all(
    app: AppContext, resolved: Sequence[EnvSecrets], *, prune: bool, read_versions: bool = False
) -> tuple[list[EnvPlan], dict[str, SkclawError]]:
    """Plan every env in parallel. Envs are independent: one that cannot be planned (API down,
    auth) is returned as a failure and the others go on; a refusal (a missing Worker) refuses the
    whole run, before anything changed."""
    key = fingerprints.load_key(app.environ)
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_ENVS, max(1, len(resolved)))) as pool:
        futures = [(s.env, pool.submit(plan_env, app, s, prune=prune, key=key, read_version=read_versions))
                   for s in resolved]
        plans = []
        failures: dict[str, SkclawError] = {}
        for env, future in futures:
            try:
                plans.append(future.result())
            except SkclawError as exc:
                failures[env] = exc
    refused = [e for e in failures.values() if isinstance(e, RefusedError)]
    if refused:
        raise refused[0]
    return plans, failures


def apply_env(app: AppContext, plan: EnvPlan, *, method: str) -> SyncedEnv:
    wrangler = app.wrangler
    env = plan.env
    pushed: list[str] = []
    deleted: list[str] = []
    error: str | None = None
    values: dict[str, SecretValue] = {k: plan.secrets.values[k] for k in plan.push}
    use_bulk = method == "bulk" and wrangler.version.bulk_stdin_json
    deletes_in_bulk = use_bulk and bool(plan.delete) and wrangler.version.bulk_null_deletes
    try:
        if use_bulk:
            keys = list(values)
            chunks = [keys[i : i + BULK_LIMIT] for i in range(0, len(keys), BULK_LIMIT)] or [[]]
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                deletes = plan.delete if (deletes_in_bulk and last) else []
                if not chunk and not deletes:
                    continue
                wrangler.secret_bulk(env, {k: values[k] for k in chunk}, deletes)
                pushed.extend(chunk)
                deleted.extend(deletes)
        else:
            for key, value in values.items():
                wrangler.secret_put(env, key, value)
                pushed.append(key)
        if not deletes_in_bulk:
            for key in plan.delete:
                wrangler.secret_delete(env, key)
                deleted.append(key)
    except SkclawError as exc:
        error = latest_not_deployed(plan) if pending_version_refusal(exc) else str(exc)
    outcome = SyncedEnv(plan.worker, "failed" if error else "ok", tuple(pushed), tuple(deleted), error,
                        unchanged=tuple(plan.unchanged))
    if outcome.changed:
        remember_push(app, plan, outcome)
    return outcome


# Cloudflare refuses a secret change while the Worker's newest version is not the deployed one
# (after a `versions upload`): 10215, and 10214 on newer APIs.
PENDING_VERSION_CODES = frozenset({10214, 10215})


def pending_version_refusal(exc: SkclawError) -> bool:
    return isinstance(exc, WranglerError) and (
        exc.code in PENDING_VERSION_CODES or "latest version of your Worker isn't currently deployed" in exc.detail
    )


def latest_not_deployed(plan: EnvPlan) -> str:
    return (
        f"Cloudflare refused the change: the newest version of {plan.worker} is not the deployed one (a "
        "`wrangler versions upload` waits for `versions deploy`), and secrets cannot change until it is. "
        f"Nothing was changed on {plan.env}. Deploy the waiting version (`wrangler versions deploy`, or "
        f"`skclaw deploy --env {plan.env}`) or upload the deployed code again, then sync."
    )


def remember_push(app: AppContext, plan: EnvPlan, outcome: SyncedEnv) -> None:
    """Keep the fingerprints of what reached the Worker and the version that holds them, so the
    next sync with the same values pushes nothing. Best effort: when the new version cannot be
    read, the state says nothing is known and the next sync pushes everything (never the reverse)."""
    state = plan.state or fingerprints.PushedState(plan.worker)
    version: str | None = None
    if outcome.status == "ok":
        try:
            version = current_version(app, plan.env)
        except SkclawError:
            version = None
    pushed = {k: plan.fingerprints[k] for k in outcome.pushed if k in plan.fingerprints}
    state.record(pushed, list(outcome.deleted), version)
    try:
        fingerprints.save_state(app.project_dir, state)
    except (OSError, SkclawError) as exc:
        app.output.warn(f"{plan.env}: could not keep what was pushed ({exc}); the next sync pushes every value")


def apply_all(
    app: AppContext,
    plans: Sequence[EnvPlan],
    *,
    method: str,
    on_done: Callable[[EnvPlan, SyncedEnv, float], None],
) -> dict[str, SyncedEnv]:
    """Apply every plan concurrently. Ctrl-C kills wrangler children and re-raises with what
    finished in ``results`` (the caller reports it)."""
    results: dict[str, SyncedEnv] = {}
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_ENVS, max(1, len(plans))))
    futures: dict[Future[SyncedEnv], EnvPlan] = {pool.submit(apply_env, app, p, method=method): p for p in plans}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                plan = futures[future]
                outcome = future.result()
                results[plan.env] = outcome
                on_done(plan, outcome, time.monotonic() - started)
    except KeyboardInterrupt:
        from skclaw.process import kill_all_children

        for future in futures:
            future.cancel()
        kill_all_children()
        pool.shutdown(wait=True, cancel_futures=True)
        for future, plan in futures.items():
            # apply_env turns every SkclawError into an outcome; a KeyboardInterrupt raised in a
            # worker (no new child may start) leaves the env without one: it is reported unfinished.
            if plan.env not in results and future.done() and not future.cancelled() and future.exception() is None:
                results[plan.env] = future.result()
        raise
    finally:
        pool.shutdown(wait=False)
    return results


def plan_document(app: AppContext, plans: Sequence[EnvPlan], options: dict[str, Any]) -> dict[str, Any]:
    """What a saved plan records: per env account, Worker, deployed version, names with keyed
    fingerprints (never values) and the changes; the options that reproduce the run."""
    environments = {}
    for plan in plans:
        target = plan.secrets.target
        environments[plan.env] = {
            "account": target.account_id or app.environ.get("CLOUDFLARE_ACCOUNT_ID") or None,
            "worker": plan.worker,
            "deployedVersion": plan.deployed_version,
            "secrets": dict(sorted(plan.fingerprints.items())),
            "create": plan.create, "overwrite": plan.overwrite, "delete": plan.delete, "unchanged": plan.unchanged,
        }
    return {"command": "secrets sync", "options": options, "environments": environments}
