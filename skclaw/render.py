"""The human view of a result: the summary lines and tables a command ends with, from its result.

One function per result type, registered on :func:`render`; the boundary (:mod:`skclaw.cli`)
calls it once when a command returns. Results go to stdout through ``Output.result*`` (so they can
be piped), the closing success or failure line to stderr. ``--json`` is the other view of the
same object (``to_json``), written by :meth:`skclaw.output.Output.envelope`.
"""

from __future__ import annotations

from functools import singledispatch

from skclaw.output import Output
from skclaw.results import CommandResult, RollbackResult, StatusResult
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


@render.register
def _rollback(result: RollbackResult, out: Output) -> None:
    if result.already_live:
        out.success(f"{result.version_id} is already live at 100% on {result.worker}; nothing to do")
    elif result.status == "ok":
        out.success(f"rolled {result.worker} ({result.environment}) back: {result.version_id} is live at 100% "
                    "(verified)")
    else:
        out.error(result.unverified_message)
