"""The safety policy as one table: every rule of DESIGN.md's Safety policy, decided without I/O.

Each row is a situation a user can be in; a change to a rule makes a row fail.
"""

from __future__ import annotations

import itertools

import pytest

from skclaw import policy
from skclaw.policy import EnvResources, Flags, Gate, ProjectFacts


def facts(env_blocks: tuple[str, ...], configured: tuple[str, ...] | None = None,
          resources: dict[str, EnvResources] | None = None) -> ProjectFacts:
    res = resources or {env: EnvResources(f"w-{env}") for env in (*env_blocks, "default")}
    return ProjectFacts(env_blocks=env_blocks, resources=res, configured=configured)


# -- which envs are protected ---------------------------------------------------------------------

PRODUCTION_LIKE = ["production", "prod", "prd", "live", "main", "mainnet", "release", "prod-eu", "PRODUCTION",
                   "Prod", "production2"]
NOT_PRODUCTION_LIKE = ["staging", "dev", "testing", "preprod", "alpha", "preview", "qa", "mainline", "live2",
                       "release-candidate", "reproduction"]


@pytest.mark.parametrize("env", PRODUCTION_LIKE)
def test_production_like_names(env: str) -> None:
    assert policy.looks_like_production(env)


@pytest.mark.parametrize("env", NOT_PRODUCTION_LIKE)
def test_other_names_are_not_production_like(env: str) -> None:
    assert not policy.looks_like_production(env)


@pytest.mark.parametrize(
    ("env_blocks", "expected"),
    [
        ((), ("default",)),  # no env blocks: the top level is production
        (("staging", "production"), ("production",)),
        (("staging", "prod"), ("prod",)),
        (("testnet", "mainnet"), ("mainnet",)),
        (("dev", "live"), ("live",)),
        (("testing",), ("default",)),  # production deploys from the top level beside `testing`
        (("staging", "preview"), ("default",)),
        (("prod-us", "prod-eu", "staging"), ("prod-us", "prod-eu")),
    ],
)
def test_inferred_protection(env_blocks: tuple[str, ...], expected: tuple[str, ...]) -> None:
    f = facts(env_blocks)
    assert policy.infer_protected(env_blocks) == expected
    everything = [*env_blocks, "default"]
    assert policy.protected_envs(f, everything) == [e for e in everything if e in expected]
    for env in expected:
        assert "inferred" in policy.protection(env, f).reason or env == "default"


def test_configured_list_replaces_inference() -> None:
    f = facts(("staging", "production"), configured=("staging",))
    assert policy.protection("staging", f).protected
    assert not policy.protection("production", f).protected
    assert policy.protection("staging", f).reason == "listed in protectedEnvironments"


def test_configured_empty_list_protects_nothing_but_is_explicit() -> None:
    f = facts(("staging", "production"), configured=())
    assert policy.protected_envs(f, ["staging", "production", "default"]) == []
    assert policy.unknown_protected_envs(f) == []


@pytest.mark.parametrize(
    ("configured", "unknown"),
    [(("production",), []), (("prodcution",), ["prodcution"]), (("default", "staging"), []),
     (("production", "Production"), ["Production"])],
)
def test_a_protected_name_that_is_no_env_is_reported(configured: tuple[str, ...], unknown: list[str]) -> None:
    assert policy.unknown_protected_envs(facts(("staging", "production"), configured)) == unknown


def test_protection_follows_a_shared_worker() -> None:
    resources = {
        "production": EnvResources("app", ("db-prod",)),
        "canary": EnvResources("app", ("db-canary",)),  # same Worker name as production
        "staging": EnvResources("app-staging", ("db-staging",)),
        "default": EnvResources("app-top"),
    }
    f = facts(("canary", "production", "staging"), resources=resources)
    canary = policy.protection("canary", f)
    assert canary.protected and canary.shared_with == "production" and canary.resource == "Worker app"
    assert "Worker app" in canary.reason and "production" in canary.reason
    assert not policy.protection("staging", f).protected


def test_protection_follows_a_shared_d1_database() -> None:
    resources = {
        "production": EnvResources("app", ("db-prod", "db-analytics")),
        "preprod": EnvResources("app-preprod", ("db-analytics",)),
        "alpha": EnvResources("app-alpha", ("db-prod",)),
        "staging": EnvResources("app-staging", ("db-staging",)),
        "default": EnvResources(None),
    }
    f = facts(("alpha", "preprod", "production", "staging"), resources=resources)
    for env, db in (("preprod", "db-analytics"), ("alpha", "db-prod")):
        p = policy.protection(env, f)
        assert p.protected and p.shared_with == "production" and p.resource == f"D1 database {db}"
    assert not policy.protection("staging", f).protected
    assert not policy.protection("default", f).protected


def test_sharing_with_an_unprotected_env_protects_nothing() -> None:
    resources = {"a": EnvResources("w", ("d",)), "b": EnvResources("w", ("d",)), "production": EnvResources("p"),
                 "default": EnvResources(None)}
    f = facts(("a", "b", "production"), resources=resources)
    assert not policy.protection("a", f).protected and not policy.protection("b", f).protected


# -- consent -------------------------------------------------------------------------------------

PROTECTED = policy.Protection("production", True, "listed")
SHARED = policy.Protection("preprod", True, "shares", shared_with="production", resource="D1 database x")
OPEN = policy.Protection("staging", False, "not listed")


def expected_gate(protected: bool, destructive: bool, interactive: bool, yes: bool, confirm: bool) -> Gate:
    """DESIGN.md's consent rules, written out independently of policy.consent."""
    if not protected and not destructive:
        return Gate.PROCEED
    if interactive:
        if protected and destructive:
            return Gate.GRANTED if (yes and confirm) else Gate.ASK_TYPED_NAME
        return Gate.GRANTED if yes else Gate.ASK_YES_NO
    if not yes:
        return Gate.REFUSE
    if protected and destructive and not confirm:
        return Gate.REFUSE
    return Gate.GRANTED


@pytest.mark.parametrize(
    ("protection", "destructive", "interactive", "yes", "confirm"),
    list(itertools.product([PROTECTED, SHARED, OPEN], [False, True], [False, True], [False, True], [False, True])),
)
def test_consent_table(protection: policy.Protection, destructive: bool, interactive: bool, yes: bool,
                       confirm: bool) -> None:
    flags = Flags(yes=yes, confirm_env=protection.env if confirm else None)
    decision = policy.consent(env=protection.env, action="deploy", protection=protection, destructive=destructive,
                              interactive=interactive, flags=flags)
    assert decision.gate is expected_gate(protection.protected, destructive, interactive, yes, confirm)
    if decision.gate is Gate.REFUSE:
        assert "nothing was changed" in decision.message
        assert "--yes" in decision.hint
        if protection.protected and destructive:
            assert f"--confirm-env {protection.env}" in decision.hint
        if protection.shared_with:
            assert protection.shared_with in decision.message and str(protection.resource) in decision.message


def test_confirm_env_for_another_env_is_no_consent() -> None:
    decision = policy.consent(env="production", action="rollback", protection=PROTECTED, destructive=True,
                              interactive=False, flags=Flags(yes=True, confirm_env="staging"))
    assert decision.gate is Gate.REFUSE
    at_terminal = policy.consent(env="production", action="rollback", protection=PROTECTED, destructive=True,
                                 interactive=True, flags=Flags(yes=True, confirm_env="staging"))
    assert at_terminal.gate is Gate.ASK_TYPED_NAME


@pytest.mark.parametrize(
    ("confirm_env", "selected", "refused"),
    [(None, ["production"], False), ("production", ["production"], False),
     ("production", ["staging"], True), ("prod", ["production", "staging"], True)],
)
def test_confirm_env_outside_the_run(confirm_env: str | None, selected: list[str], refused: bool) -> None:
    assert (policy.confirm_env_outside_run(confirm_env, selected) is not None) is refused


# -- refusals no flag overrides ------------------------------------------------------------------


def test_local_sync_is_refused_for_any_protected_env() -> None:
    assert policy.local_sync_refusal([OPEN]) is None
    message = policy.local_sync_refusal([OPEN, SHARED])
    assert message is not None and "preprod" in message and "D1 database x" in message
    assert "staging" not in message
    assert policy.local_sync_refusal([PROTECTED]) is not None


@pytest.mark.parametrize(
    ("protection", "remote", "local_flag", "refused"),
    [(PROTECTED, True, False, False), (PROTECTED, False, False, True), (PROTECTED, False, True, True),
     (SHARED, False, False, True), (OPEN, False, False, False), (OPEN, False, True, False)],
)
def test_migrations_on_protected_envs_are_remote_only(protection: policy.Protection, remote: bool,
                                                       local_flag: bool, refused: bool) -> None:
    message = policy.migrate_location_refusal(protection, remote=remote, local_flag=local_flag)
    assert (message is not None) is refused
    if message:
        assert "--remote" in message and ("--local" in message) is local_flag


@pytest.mark.parametrize(
    ("protection", "enforce", "pending", "refused"),
    [(PROTECTED, True, ["0002.sql"], True), (PROTECTED, False, ["0002.sql"], False), (PROTECTED, True, [], False),
     (OPEN, True, ["0002.sql"], False), (SHARED, True, ["0002.sql"], True)],
)
def test_pending_migrations_refusal(protection: policy.Protection, enforce: bool, pending: list[str],
                                    refused: bool) -> None:
    message = policy.pending_migrations_refusal(protection, enforce=enforce, pending=pending, label="DB")
    assert (message is not None) is refused
