"""The consent gate: skclaw answers its own question before wrangler runs.

Protected env, mutating step: interactively y/N after the target is shown; else --yes.
Destructive step on a protected env: type the env's name; else --yes --confirm-env ENV.
Destructive step elsewhere: y/N, or --yes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skclaw.context import AppContext
from skclaw.errors import RefusedError


@dataclass(frozen=True)
class GateDecision:
    needed: bool
    how: str  # "none" | "yes-flag" | "confirmed" | "typed-name" | "confirm-env"


def consent_required(protected: bool, destructive: bool) -> bool:
    return protected or destructive


def request_consent(
    app: AppContext,
    *,
    env: str,
    action: str,
    target_lines: Sequence[str],
    destructive: bool = False,
    destructive_reason: str = "",
) -> GateDecision:
    """Ask (or check flags) for consent; raise RefusedError (exit 3) if not given."""
    app.lock_env(env)  # every mutating path passes the gate: hold the env from here on
    protected = app.is_protected(env)
    if not consent_required(protected, destructive):
        return GateDecision(False, "none")
    needs_name = protected and destructive
    flags = app.action  # a --confirm-env naming an env outside the run was refused by select_envs
    label = "protected " if protected else ""
    what = f"{action} on {label}environment {env}"
    if destructive_reason:
        what += f" ({destructive_reason})"

    if not app.interactive:
        if not flags.yes:
            extra = f" --confirm-env {env}" if needs_name else ""
            raise RefusedError(
                f"{what} needs consent and this run is non-interactive; nothing was changed.",
                hint=f"Re-run with --yes{extra} once you have checked the plan (try --dry-run).",
            )
        if needs_name and flags.confirm_env != env:
            raise RefusedError(
                f"{what} is destructive and needs --yes --confirm-env {env}; nothing was changed.",
                hint=f"Re-run with --yes --confirm-env {env} once you have checked the plan.",
            )
        return GateDecision(True, "confirm-env" if needs_name else "yes-flag")

    out = app.output
    out.banner(f"{action.upper()} · {env}{' · PROTECTED' if protected else ''}")
    for line in target_lines:
        out.info(f"  {line}")
    if destructive_reason:
        out.warn(f"destructive: {destructive_reason}")
    from skclaw import prompts

    if needs_name:
        if flags.yes and flags.confirm_env == env:
            return GateDecision(True, "confirm-env")
        typed = prompts.text(f"Type the environment name ({env}) to continue:")
        if typed.strip() != env:
            raise RefusedError(f"The typed name did not match {env}; nothing was changed.")
        return GateDecision(True, "typed-name")
    if flags.yes:
        return GateDecision(True, "yes-flag")
    if not prompts.confirm(f"Proceed with {what}?"):
        raise RefusedError(f"Declined: {what}; nothing was changed.")
    return GateDecision(True, "confirmed")
