"""`skclaw status`: the live deployment of each environment's Worker (a result on stdout)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.errors import SkclawError, WranglerError
from skclaw.results import Deployment, EnvStatus, StatusResult, TrafficShare


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


def describe_traffic(deployment: Mapping[str, Any]) -> str:
    return ", ".join(f"{v['versionId']} ({float(v['percentage'] or 0):g}%)" for v in deployment["versions"]) or "none"


def _status_of(app: AppContext, env: str) -> EnvStatus:
    from skclaw.wrangler import is_worker_not_found

    target = app.target(env)
    try:
        return EnvStatus(target.worker, deployment_of(live_deployment(app, env)), release=unfinished_release(app, env))
    except WranglerError as exc:
        error = (
            f"the Worker {target.worker} does not exist (never deployed)" if is_worker_not_found(exc) else exc.message
        )
    except SkclawError as exc:
        error = exc.message
    return EnvStatus(target.worker, None, error)


def unfinished_release(app: AppContext, env: str) -> dict[str, str | None] | None:
    """The env's unfinished `skclaw release` (.skclaw/releases/<env>.json), if there is one."""
    from skclaw import releases

    try:
        state = releases.load(app.project_dir, env)
    except SkclawError as exc:
        return {"status": "unreadable", "nextStep": None, "versionId": None, "error": exc.message}
    if state is None or state.status not in releases.UNFINISHED:
        return None
    step = state.next_step
    return {"status": state.status, "nextStep": step.name if step else None, "versionId": state.new_version,
            "error": state.error}


def deployment_of(summary: Mapping[str, Any]) -> Deployment:
    """A :func:`deployment_summary` as the typed value results carry."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return Deployment(
        id=text(summary.get("id")), created=text(summary.get("created")), author=text(summary.get("author")),
        message=text(summary.get("message")), source=text(summary.get("source")),
        versions=tuple(
            TrafficShare(text(v.get("versionId")),
                         v.get("percentage") if isinstance(v.get("percentage"), int | float) else None)
            for v in summary.get("versions") or []
        ),
    )


@click.command("status")
@common_options(multiple_env=True, acts=False)
@run_command("status")
def status(app: AppContext, envs: tuple[str, ...]) -> StatusResult:
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
    return StatusResult(reports)
