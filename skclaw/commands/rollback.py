"""`skclaw rollback`: send 100 % of traffic back to an earlier version, verified afterwards.

Always destructive (secrets changed since that version are reverted, D1 is not): the gate asks for
the env's name on a protected env. In a non-interactive run it is answered before any read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import click

from skclaw.cli import common_options, run_command
from skclaw.commands.status import deployment_summary, describe_traffic, live_deployment, main_version
from skclaw.context import AppContext
from skclaw.errors import FailedError, WranglerError
from skclaw.preflight import require_credentials
from skclaw.results import RollbackResult
from skclaw.timefmt import ago

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


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
def rollback(app: AppContext, version_id: str | None, env: str | None, message: str | None) -> RollbackResult:
    """Send 100 % of traffic back to VERSION_ID (default: the previous stable version).

    Always destructive: secrets changed since that version are reverted, and D1 data is not.
    """
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
    done = RollbackResult(environment=env, worker=target.worker, from_version_id=from_version,
                          version_id=version_id, message=message)
    if from_version == version_id:
        return replace(done, verified=True, already_live=True)

    since = f", since {ago(live['created'])}" if live.get("created") else ""
    said = f', "{live["message"]}"' if live.get("message") else ""
    lines += [
        f"live now: {describe_traffic(live)}{since}{said}",
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
        out.detail(app.wrangler.rollback(env, version_id, message).stdout)
    except WranglerError as exc:
        exc.partial_result = replace(done, status="failed", error=exc.message)
        raise
    # wrangler 4.86 can print SUCCESS after aborting; trust only what is live afterwards.
    after = live_deployment(app, env)
    if main_version(after) != version_id:
        return replace(done, status="failed", live_after=describe_traffic(after))
    return replace(done, verified=True)
