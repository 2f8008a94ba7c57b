"""Every protection and refusal rule of DESIGN.md's safety policy, as pure decisions.

Nothing here prints, prompts, reads a file or starts a process: callers gather the facts
(:class:`ProjectFacts`, flags, interactivity) and act on the decision. That keeps the policy one
table that tests can walk exhaustively.

- Protected envs: ``protectedEnvironments`` when set; otherwise inferred from the env names
  (production-like names, and the top level when no env block looks like production).
- Protection follows resources: an env whose Worker name or D1 ``database_id`` belongs to a
  protected env is protected too, and the decision says which resource it shares with whom.
- Consent: protected + mutating needs y/N (or ``--yes``); destructive + protected needs the
  typed env name (or ``--yes --confirm-env ENV``); destructive elsewhere needs y/N (or ``--yes``).
- Refusals that no flag overrides: ``secrets sync --local`` and ``migrate`` without ``--remote``
  on a protected env.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from skclaw.project import DEFAULT_ENV

# DESIGN.md: production, prod, prd, live, main, mainnet, release, or starting with "prod".
_PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live", "main", "mainnet", "release"})


def looks_like_production(env: str) -> bool:
    lowered = env.lower()
    return lowered in _PRODUCTION_NAMES or lowered.startswith("prod")


def infer_protected(env_blocks: Sequence[str]) -> tuple[str, ...]:
    """The protected envs when ``protectedEnvironments`` is absent."""
    production_like = [env for env in env_blocks if looks_like_production(env)]
    if production_like:
        return tuple(production_like)
    return (DEFAULT_ENV,)


@dataclass(frozen=True)
class EnvResources:
    """What an env addresses on Cloudflare (None: the env resolves to no Worker)."""

    worker: str | None
    d1_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectFacts:
    """The facts the policy needs about a project, gathered once by the caller."""

    env_blocks: tuple[str, ...]
    resources: Mapping[str, EnvResources]  # env (incl. "default") -> what it addresses
    configured: tuple[str, ...] | None  # protectedEnvironments, or None when absent

    @property
    def protected_by_name(self) -> tuple[str, ...]:
        return self.configured if self.configured is not None else infer_protected(self.env_blocks)

    @property
    def inferred(self) -> bool:
        return self.configured is None


def unknown_protected_envs(facts: ProjectFacts) -> list[str]:
    """Names in ``protectedEnvironments`` that the wrangler config does not have (exit 2: a typo
    there would silently unprotect production)."""
    if facts.configured is None:
        return []
    known = {*facts.env_blocks, DEFAULT_ENV}
    return [env for env in facts.configured if env not in known]


@dataclass(frozen=True)
class Protection:
    env: str
    protected: bool
    reason: str  # why (or why not), for plans, prompts, doctor and JSON
    shared_with: str | None = None  # the protected env whose resource this env addresses
    resource: str | None = None  # e.g. "Worker demo-prod" or "D1 database 5c1e...a002"

    def to_json(self) -> dict[str, str | bool | None]:
        return {"protected": self.protected, "reason": self.reason, "sharedWith": self.shared_with,
                "resource": self.resource}


def protection(env: str, facts: ProjectFacts) -> Protection:
    by_name = facts.protected_by_name
    if env in by_name:
        if facts.inferred:
            why = ("the top level, where production lives when no env looks like production"
                   if env == DEFAULT_ENV else "its name looks like production (inferred)")
        else:
            why = "listed in protectedEnvironments"
        return Protection(env, True, why)
    mine = facts.resources.get(env)
    if mine is not None:
        for other in by_name:
            theirs = facts.resources.get(other)
            if theirs is None or other == env:
                continue
            if mine.worker is not None and mine.worker == theirs.worker:
                resource = f"Worker {mine.worker}"
                return Protection(env, True, f"it addresses {resource} of protected env {other}", other, resource)
            shared = sorted(set(mine.d1_ids) & set(theirs.d1_ids))
            if shared:
                resource = f"D1 database {shared[0]}"
                return Protection(env, True, f"it addresses {resource} of protected env {other}", other, resource)
    if facts.inferred:
        return Protection(env, False, "not production-like (inferred; set protectedEnvironments to choose)")
    return Protection(env, False, "not in protectedEnvironments")


def protected_envs(facts: ProjectFacts, envs: Iterable[str]) -> list[str]:
    return [env for env in envs if protection(env, facts).protected]


# -- consent ------------------------------------------------------------------------------------


class Gate(Enum):
    PROCEED = "proceed"  # no consent needed
    GRANTED = "granted"  # flags consent (--yes, --yes --confirm-env)
    ASK_YES_NO = "ask-yes-no"
    ASK_TYPED_NAME = "ask-typed-name"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Flags:
    yes: bool = False
    confirm_env: str | None = None
    noninteractive_reason: str | None = None  # e.g. "stdin is not a terminal"


@dataclass(frozen=True)
class GateDecision:
    gate: Gate
    how: str = "none"  # none | yes-flag | confirm-env | ask (recorded in the audit)
    message: str = ""
    hint: str = ""
    reasons: tuple[str, ...] = field(default=())


def consent(
    *,
    env: str,
    action: str,
    protection: Protection,
    destructive: bool,
    interactive: bool,
    flags: Flags,
) -> GateDecision:
    """What a mutating step on ``env`` needs before it may run."""
    protected = protection.protected
    if not protected and not destructive:
        return GateDecision(Gate.PROCEED)
    needs_name = protected and destructive
    what = f"{action} on {'protected ' if protected else ''}environment {env}"
    if protection.shared_with:
        what += f" ({protection.resource} belongs to protected env {protection.shared_with})"
    if interactive:
        if needs_name:
            # At a terminal --yes alone never replaces typing the name of a protected env.
            if flags.yes and flags.confirm_env == env:
                return GateDecision(Gate.GRANTED, "confirm-env")
            return GateDecision(Gate.ASK_TYPED_NAME, "typed-name")
        if flags.yes:
            return GateDecision(Gate.GRANTED, "yes-flag")
        return GateDecision(Gate.ASK_YES_NO, "confirmed")
    if not flags.yes:
        extra = f" --confirm-env {env}" if needs_name else ""
        why = f" ({flags.noninteractive_reason})" if flags.noninteractive_reason else ""
        return GateDecision(
            Gate.REFUSE,
            message=f"{what} needs consent and this run is non-interactive{why}; nothing was changed.",
            hint=f"Re-run with --yes{extra} once you have checked the plan (try --dry-run).",
        )
    if needs_name and flags.confirm_env != env:
        return GateDecision(
            Gate.REFUSE,
            message=f"{what} is destructive and needs --yes --confirm-env {env}; nothing was changed.",
            hint=f"Re-run with --yes --confirm-env {env} once you have checked the plan.",
        )
    return GateDecision(Gate.GRANTED, "confirm-env" if needs_name else "yes-flag")


def confirm_env_outside_run(confirm_env: str | None, selected: Sequence[str]) -> str | None:
    """A --confirm-env naming an env this run does not touch consents to nothing: refuse."""
    if confirm_env is None or confirm_env in selected:
        return None
    return (f"--confirm-env {confirm_env} names an environment this run does not touch "
            f"({', '.join(selected)}); nothing was changed.")


# -- refusals no flag overrides -----------------------------------------------------------------


def local_sync_refusal(protections: Sequence[Protection]) -> str | None:
    """`secrets sync --local` writes plaintext files: never for a protected env."""
    protected = [p for p in protections if p.protected]
    if not protected:
        return None
    names = ", ".join(p.env + (f" (shares {p.resource} with {p.shared_with})" if p.shared_with else "")
                      for p in protected)
    return (f"secrets sync --local refused for protected environment(s) {names}: production secrets "
            "never land in a plaintext file. Nothing was read or written.")


def migrate_location_refusal(protection: Protection, *, remote: bool, local_flag: bool) -> str | None:
    """A protected env's D1 is only migrated --remote: no local copy of production's database."""
    if not protection.protected or remote:
        return None
    how = "--local" if local_flag else "the local default"
    env = protection.env
    shared = ""
    if protection.shared_with:
        shared = f" ({protection.resource} belongs to protected env {protection.shared_with})"
    return (f"migrate on protected environment {env}{shared} needs --remote; {how} is refused so that no "
            f"local copy of {env}'s database is made. Nothing was run.")


def pending_migrations_refusal(protection: Protection, *, enforce: bool, pending: Sequence[str],
                               label: str) -> str | None:
    """deploy --check-migrations on a protected env with pending remote migrations."""
    if not (enforce and protection.protected and pending):
        return None
    return (f"{protection.env} is protected and {label} has {len(pending)} pending remote "
            f"migration{'s' if len(pending) != 1 else ''}: {', '.join(pending)}; nothing was deployed.")
