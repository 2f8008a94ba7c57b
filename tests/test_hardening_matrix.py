"""The non-interactive matrix: every mutating command × {protected, unprotected env} × {no flag,
--yes, --yes --confirm-env ENV}, run as CI runs it (the real `.venv/bin/skclaw`, no terminal).

DESIGN.md: a protected env needs --yes; a destructive step needs --yes elsewhere and
--yes --confirm-env ENV on a protected env; without the consent a non-interactive run exits 3,
changes nothing and never waits for input. Every case runs with a stdin that is never written
and never closed, so a read of stdin would hang (and the bounded run fail); every refusal also
runs with stdin on /dev/null. `secrets set` reads its value from stdin, so where it gets past the
gate it is given one.

Each refusal runs twice, first with stdin held open, then on /dev/null. The first run goes
through the real wrangler with a recorder in between (tests/wrangler_tape.py); it is asserted to
change nothing, so the second, which makes the same reads against the same state, replays them
from the tape instead of starting Node again. Any call that is not on the tape (a write, a read
the first run did not make) fails that run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skclaw.secrets.dotenv import parse_dotenv
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.hardening import (
    Proc,
    child_env,
    crash_logs,
    d1_bootstrap,
    run_skclaw,
    tape_env,
    tape_wrangler,
    use_envfile,
    write_envfile,
)

pytestmark = pytest.mark.wrangler

PROTECTED, UNPROTECTED = "production", "staging"
FLAGS: dict[str, list[str]] = {"none": [], "yes": ["--yes"], "confirm": ["--yes", "--confirm-env", "{env}"]}
# Applied before the run: a table with a row in it. Pending: a DELETE that empties it (rows the
# pending set itself inserted would not count: the replay judges what existed before).
APPLIED_SQL = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n"
    "INSERT INTO users (email) VALUES ('seed@example.com');\n"
)
DESTRUCTIVE_SQL = "DELETE FROM users;\n"


def expected_code(env: str, destructive: bool, flags: str) -> int:
    """DESIGN.md's outcome of a non-interactive run."""
    protected = env == PROTECTED
    if not (protected or destructive):
        return 0
    if flags == "none":
        return 3
    if protected and destructive:
        return 0 if flags == "confirm" else 3
    return 0


@dataclass
class Ctx:
    project: SampleProject
    emulator: CloudflareEmulator
    wrangler: Path
    env: dict[str, str]
    tapes: Path
    counter: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def worker(self, env: str) -> str:
        return self.project.worker(env)

    def d1(self, env: str) -> str:
        return self.project.d1[env].id


class Scenario:
    """One mutating command. ``state`` is everything the command may change for an env."""

    name = ""
    destructive = False
    needs_input = False

    def setup(self, ctx: Ctx) -> None:
        for env in ctx.project.envs:
            ctx.emulator.seed_worker(ctx.worker(env), secrets={"API_TOKEN": f"old-{env}"})
        use_envfile(ctx.project, {env: {"API_TOKEN": f"old-{env}"} for env in ctx.project.envs},
                    required=["API_TOKEN"])

    def prepare(self, ctx: Ctx, env: str) -> None:
        """Make the next run of this command on env do something."""

    def args(self, env: str) -> list[str]:
        raise NotImplementedError

    def input(self, ctx: Ctx, env: str) -> str | None:
        return None

    def state(self, ctx: Ctx, env: str) -> Any:
        envfile = ctx.project.path / ".secrets" / f"{env}.env"
        return (
            [v["id"] for v in ctx.emulator.versions(ctx.worker(env))],
            ctx.emulator.secrets(ctx.worker(env)),
            envfile.read_text() if envfile.exists() else None,
        )

    def verify(self, ctx: Ctx, env: str) -> None:
        """After a successful run: the change the command exists for."""


class Sync(Scenario):
    name = "secrets sync"

    def prepare(self, ctx: Ctx, env: str) -> None:
        ctx.counter += 1
        ctx.notes[env] = f"value-{ctx.counter}-{env}"
        write_envfile(ctx.project, env, {"API_TOKEN": ctx.notes[env]})

    def args(self, env: str) -> list[str]:
        return ["secrets", "sync", "--env", env]

    def verify(self, ctx: Ctx, env: str) -> None:
        assert ctx.emulator.secrets(ctx.worker(env))["API_TOKEN"] == ctx.notes[env]


class Prune(Scenario):
    name = "secrets sync --prune"
    destructive = True

    def prepare(self, ctx: Ctx, env: str) -> None:
        if "STALE" not in ctx.emulator.secrets(ctx.worker(env)):
            ctx.emulator.put_secret(ctx.worker(env), "STALE", "stale-value")

    def args(self, env: str) -> list[str]:
        return ["secrets", "sync", "--env", env, "--prune"]

    def verify(self, ctx: Ctx, env: str) -> None:
        assert "STALE" not in ctx.emulator.secrets(ctx.worker(env))


class SetPush(Scenario):
    name = "secrets set --push"
    needs_input = True

    def input(self, ctx: Ctx, env: str) -> str:
        ctx.counter += 1
        ctx.notes[env] = f"typed-{ctx.counter}-{env}"
        return ctx.notes[env] + "\n"

    def args(self, env: str) -> list[str]:
        return ["secrets", "set", "API_TOKEN", "--env", env, "--push"]

    def verify(self, ctx: Ctx, env: str) -> None:
        assert ctx.emulator.secrets(ctx.worker(env))["API_TOKEN"] == ctx.notes[env]
        stored = parse_dotenv((ctx.project.path / ".secrets" / f"{env}.env").read_text(), filename="x").values
        assert stored["API_TOKEN"] == ctx.notes[env]


class Rotate(Scenario):
    name = "secrets rotate"

    def prepare(self, ctx: Ctx, env: str) -> None:
        ctx.notes[env] = ctx.emulator.secrets(ctx.worker(env))["API_TOKEN"]

    def args(self, env: str) -> list[str]:
        return ["secrets", "rotate", "API_TOKEN", "--env", env]

    def verify(self, ctx: Ctx, env: str) -> None:
        new = ctx.emulator.secrets(ctx.worker(env))["API_TOKEN"]
        assert new != ctx.notes[env] and len(new) == 64


class Deploy(Scenario):
    name = "deploy"

    def setup(self, ctx: Ctx) -> None:
        shutil.rmtree(ctx.project.migrations_dir)  # no `d1 migrations list` before the deploy
        for env in ctx.project.envs:
            ctx.emulator.seed_worker(ctx.worker(env))

    def args(self, env: str) -> list[str]:
        return ["deploy", "--env", env]

    def state(self, ctx: Ctx, env: str) -> Any:
        return [v["id"] for v in ctx.emulator.versions(ctx.worker(env))]

    def verify(self, ctx: Ctx, env: str) -> None:
        assert ctx.emulator.versions(ctx.worker(env))[-1]["triggered_by"] == "upload"


class Rollback(Scenario):
    name = "rollback"
    destructive = True

    def setup(self, ctx: Ctx) -> None:
        for env in ctx.project.envs:
            ctx.emulator.seed_worker(ctx.worker(env), secrets={"A": "one"})
            ctx.emulator.put_secret(ctx.worker(env), "A", "two")

    def prepare(self, ctx: Ctx, env: str) -> None:
        ctx.notes[env] = ctx.emulator.current_version_id(ctx.worker(env))

    def args(self, env: str) -> list[str]:
        return ["rollback", "--env", env]

    def state(self, ctx: Ctx, env: str) -> Any:
        return ctx.emulator.deployments(ctx.worker(env))

    def verify(self, ctx: Ctx, env: str) -> None:
        assert ctx.emulator.current_version_id(ctx.worker(env)) != ctx.notes[env]


class Migrate(Scenario):
    name = "migrate --remote"

    def setup(self, ctx: Ctx) -> None:
        ctx.project.create_databases(ctx.emulator)

    def prepare(self, ctx: Ctx, env: str) -> None:
        # Back to an empty database: every migration is pending again.
        tables = ctx.emulator.d1_tables(ctx.d1(env)) - {"sqlite_sequence"}
        if tables:
            ctx.emulator.d1_query(ctx.d1(env), "; ".join(f'DROP TABLE "{t}"' for t in sorted(tables)))

    def args(self, env: str) -> list[str]:
        return ["migrate", "--env", env, "--remote"]

    def state(self, ctx: Ctx, env: str) -> Any:
        # wrangler's `migrations list` creates d1_migrations (reading state is allowed): count
        # what is recorded in it, not whether it exists.
        tables = ctx.emulator.d1_tables(ctx.d1(env))
        applied = []
        if "d1_migrations" in tables:
            applied = ctx.emulator.d1_query(ctx.d1(env), "SELECT name FROM d1_migrations")
        return sorted(tables - {"d1_migrations", "sqlite_sequence"}), applied

    def verify(self, ctx: Ctx, env: str) -> None:
        assert "users" in ctx.emulator.d1_tables(ctx.d1(env))
        assert ctx.emulator.d1_query(ctx.d1(env), "SELECT count(*) AS n FROM d1_migrations") == [{"n": 1}]


class MigrateDestructive(Migrate):
    name = "migrate --remote (DELETE of existing rows)"
    destructive = True

    def setup(self, ctx: Ctx) -> None:
        super().setup(ctx)
        for path in ctx.project.migrations_dir.glob("*.sql"):
            path.unlink()
        (ctx.project.migrations_dir / "0001_seed.sql").write_text(APPLIED_SQL)
        (ctx.project.migrations_dir / "0002_clear.sql").write_text(DESTRUCTIVE_SQL)

    def prepare(self, ctx: Ctx, env: str) -> None:
        super().prepare(ctx, env)  # an empty database, then 0001 applied as wrangler records it
        ctx.emulator.d1_query(ctx.d1(env), APPLIED_SQL)
        ctx.emulator.d1_query(ctx.d1(env), "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                              "name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)")
        ctx.emulator.d1_query(ctx.d1(env), "INSERT INTO d1_migrations (name) VALUES ('0001_seed.sql')")

    def verify(self, ctx: Ctx, env: str) -> None:
        assert ctx.emulator.d1_query(ctx.d1(env), "SELECT count(*) AS n FROM users") == [{"n": 0}]


SCENARIOS = [Sync(), Prune(), SetPush(), Rotate(), Deploy(), Rollback(), Migrate(), MigrateDestructive()]


def cases(scenario: Scenario, env: str) -> Iterator[tuple[str, int, str]]:
    """(flags, expected exit code, stdin mode) for one env, in run order."""
    for flags in FLAGS:
        code = expected_code(env, scenario.destructive, flags)
        if code == 0:
            yield flags, 0, "input" if scenario.needs_input else "open"
        else:
            yield flags, 3, "open"
            yield flags, 3, "devnull"


def run_case(ctx: Ctx, scenario: Scenario, env: str, flags: str, code: int, stdin_mode: str) -> Proc:
    wrangler, child = ctx.wrangler, ctx.env
    if code == 3:  # a refusal: the first run records wrangler's answers, the second replays them
        wrangler = ctx.tapes / "bin" / "wrangler"
        child = {**ctx.env, **tape_env(ctx.tapes / f"{env}-{flags}", ctx.wrangler, record=stdin_mode == "open")}
    argv = ["-C", str(ctx.project.path), "--wrangler", str(wrangler), *scenario.args(env)]
    argv += [a.format(env=env) for a in FLAGS[flags]]
    return run_skclaw(
        argv,
        env=child,
        stdin=scenario.input(ctx, env) if stdin_mode == "input" else None,
        keep_stdin_open=stdin_mode == "open",
        timeout=120,
    )


def check_env_row(ctx: Ctx, scenario: Scenario, env: str) -> list[str]:
    """Run every case of one env; returns one line per case for the report."""
    report = []
    for flags, code, stdin_mode in cases(scenario, env):
        scenario.prepare(ctx, env)
        before = scenario.state(ctx, env)
        label = f"{scenario.name} --env {env} [{flags}] stdin={stdin_mode}"
        seen = len(ctx.emulator.mutating_requests())
        run = run_case(ctx, scenario, env, flags, code, stdin_mode)
        # The other env's row runs at the same time: leave out what clearly belongs to it.
        other = next(e for e in ctx.project.envs if e != env)
        mutations = [
            f"{r.method} {r.path}"
            for r in ctx.emulator.mutating_requests()[seen:]
            if not d1_bootstrap(r) and ctx.worker(other) not in r.path.split("/") and ctx.d1(other) not in r.path
        ]
        assert "Traceback" not in run.output, f"{label}:\n{run.output}"
        assert run.code == code, f"{label}: exit {run.code}, expected {code}\n{run.stderr}"
        after = scenario.state(ctx, env)
        if code == 3:
            misses = ctx.tapes / f"{env}-{flags}" / "misses.log"
            assert not misses.exists(), f"{label}: calls the recorded refusal did not make: {misses.read_text()}"
            assert mutations == [], f"{label}: a refusal made mutating requests"
            assert after == before, f"{label}: a refusal changed state"
            assert "nothing was changed" in run.stderr or "Nothing was" in run.stderr, run.stderr
            hint = "--confirm-env" if flags == "yes" or (env == PROTECTED and scenario.destructive) else "--yes"
            assert hint in run.stderr, f"{label}: the refusal should say how to consent\n{run.stderr}"
        else:
            assert after != before, f"{label}: exit 0 but nothing changed"
            scenario.verify(ctx, env)
        report.append(f"{label}: {run.code} in {run.seconds:.1f}s")
    return report


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_non_interactive_matrix(
    scenario: Scenario,
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
    wrangler_bin: Path,
    cf_env: dict[str, str],
    tmp_path: Path,
) -> None:
    state_home = tmp_path / "state"
    child = child_env(cf_env, XDG_STATE_HOME=str(state_home))
    # Coverage is not measured in these ~64 processes: the paths they take (the gate's refusals,
    # the applies) are measured in-process elsewhere, and measuring them cost ~12 s of CPU a run.
    child.pop("COVERAGE_PROCESS_CONFIG", None)
    ctx = Ctx(sample_project, emulator, wrangler_bin, child, tapes=tmp_path / "tape")
    tape_wrangler(wrangler_bin, ctx.tapes)
    scenario.setup(ctx)
    # The two envs touch different Workers and databases: run their rows side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(lambda env: check_env_row(ctx, scenario, env), (PROTECTED, UNPROTECTED)))
    assert crash_logs(state_home) == []
    print("\n".join(line for row in rows for line in row))
