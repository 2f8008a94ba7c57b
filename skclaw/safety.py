"""The consent gate: skclaw answers its own question before wrangler runs.

The rules are :func:`skclaw.policy.consent`; this module shows the plan, asks, and turns a
refusal into :class:`RefusedError` (exit 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skclaw import policy
from skclaw.context import AppContext
from skclaw.errors import Cancelled, RefusedError


@dataclass(frozen=True)
class GateDecision:
    needed: bool
    how: str  # "none" | "yes-flag" | "confirmed" | "typed-name" | "confirm-env"


def request_consent(
    app: AppContext,
    *,
    env: str,
    action: str,
    target_lines: Sequence[str],
    destructive: bool = False,
    destructive_reason: str = "",
    destructive_items: Sequence[str] = (),
    banner: str | None = None,
    show_when_free: bool = False,
) -> GateDecision:
    """Ask (or check flags) for consent; raise RefusedError (exit 3) if not given.

    The plan block (``target_lines``) is shown once, before the question, under -q too, and in
    non-interactive runs as well so a CI log records the target; ``show_when_free`` shows it also
    when no consent is needed."""
    app.lock_env(env)  # idempotent: mutating runs lock their envs before planning already
    protection = app.protection(env)
    decision = policy.consent(
        env=env, action=action, protection=protection, destructive=destructive,
        interactive=app.interactive,
        flags=policy.Flags(app.action.yes, app.action.confirm_env, app.noninteractive_reason),
    )
    lines = list(target_lines)
    if decision.gate is policy.Gate.PROCEED:
        if show_when_free:  # the caller relies on this block as its plan output
            _show_plan(app, banner or _banner(action, env, False), lines, destructive_reason, destructive_items)
        return GateDecision(False, "none")
    if protection.shared_with:
        lines.append(f"protected: {protection.resource} belongs to protected env {protection.shared_with}")
    if decision.gate is policy.Gate.REFUSE:
        _show_plan(app, banner or _banner(action, env, protection.protected), lines, destructive_reason,
                   destructive_items)
        raise RefusedError(decision.message, hint=decision.hint)
    if decision.gate is policy.Gate.GRANTED:
        if not app.interactive:
            _show_plan(app, banner or _banner(action, env, protection.protected), lines, destructive_reason,
                   destructive_items)
        return GateDecision(True, decision.how)

    _show_plan(app, banner or _banner(action, env, protection.protected), lines, destructive_reason,
                   destructive_items)
    from skclaw import prompts

    label = "protected " if protection.protected else ""
    what = f"{action} on {label}environment {env}"
    if destructive_reason:
        what += f" ({destructive_reason})"
    if decision.gate is policy.Gate.ASK_TYPED_NAME:
        typed = prompts.text(f"Type the environment name ({env}) to continue:")
        if typed.strip() != env:
            raise RefusedError(f"The typed name did not match {env}; nothing was changed.")
        return GateDecision(True, "typed-name")
    if not prompts.confirm(f"Proceed with {what}?"):
        raise Cancelled(f"Cancelled: {what}; nothing was changed.")
    return GateDecision(True, "confirmed")


def _banner(action: str, env: str, protected: bool) -> str:
    return f"{action.upper()} · {env}{' · PROTECTED' if protected else ''}"


def _show_plan(app: AppContext, banner: str, lines: Sequence[str], destructive_reason: str,
               destructive_items: Sequence[str]) -> None:
    """The target and the plan, once, before any question (and in CI logs without one);
    destructive items inside it, in red and marked."""
    out = app.output
    out.banner(banner, always=True)
    for line in lines:
        out.info(f"  {line}", always=True)
    for item in destructive_items or ([destructive_reason] if destructive_reason else []):
        out.destructive(item)
