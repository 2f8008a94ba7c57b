"""`skclaw ci matrix`: the per-env matrix for a CI job fan-out (one job per env, own approvals)."""

from __future__ import annotations

import json

import click

from skclaw.cli import Outcome, common_options, run_command
from skclaw.context import AppContext


@click.group("ci", context_settings={"help_option_names": ["-h", "--help"]})
def ci() -> None:
    """CI helpers: the environment matrix for a per-env job fan-out."""


@ci.command("matrix")
@common_options(multiple_env=True, acts=False)
@click.option("--all-envs", is_flag=True, help="Every environment of the project (the default without --env).")
@run_command("ci matrix")
def matrix(app: AppContext, envs: tuple[str, ...], all_envs: bool) -> Outcome:
    """Print {"include": [{"env", "worker", "protected"}, ...]} for `strategy.matrix: ${{ fromJSON(...) }}`.

    One line of JSON on stdout (the whole --json envelope with --json). It reads only the
    wrangler config and .skclaw.jsonc: no credentials, no network.
    """
    selected = app.select_envs(envs, all_envs or not envs)
    include = []
    for env in selected:
        target = app.target(env)
        include.append({"env": env, "worker": target.worker, "protected": app.is_protected(env)})
    result = {"include": include}
    if not app.action.json:
        app.output.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
        app.output.stdout.flush()
    return Outcome(result)
