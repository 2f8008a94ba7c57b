"""`skclaw ci matrix`: the per-env matrix for a CI job fan-out (one job per env, own approvals)."""

from __future__ import annotations

import click

from skclaw.cli import common_options, run_command
from skclaw.context import AppContext
from skclaw.results import MatrixEntry, MatrixResult


@click.group("ci", context_settings={"help_option_names": ["-h", "--help"]})
def ci() -> None:
    """CI helpers: the environment matrix for a per-env job fan-out."""


@ci.command("matrix")
@common_options(multiple_env=True, acts=False)
@click.option("--all-envs", is_flag=True, help="Every environment of the project (the default without --env).")
@run_command("ci matrix")
def matrix(app: AppContext, envs: tuple[str, ...], all_envs: bool) -> MatrixResult:
    """Print {"include": [{"env", "worker", "protected"}, ...]} for `strategy.matrix: ${{ fromJSON(...) }}`.

    One line of JSON on stdout (the whole --json envelope with --json). It reads only the
    wrangler config and .skclaw.jsonc: no credentials, no network.
    """
    selected = app.select_envs(envs, all_envs or not envs)
    return MatrixResult(tuple(MatrixEntry(env, app.target(env).worker, app.is_protected(env)) for env in selected))
