"""A release's state, `.skclaw/releases/<env>.json`: the steps of one `skclaw release` run and which
of them finished, so `--resume` continues after a failure or an interrupt without repeating one.

The file is written after every step (atomically, 0600, never through a symlink). It holds names,
version ids, percentages and D1 bookmarks: never a secret value.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skclaw.errors import UsageError

SUBDIR = "releases"
FORMAT = 1

# Release status: what `--resume` may do with it.
RUNNING = "running"  # written before the first step; a run killed outright leaves it so
INTERRUPTED = "interrupted"  # a signal stopped it between or during steps
FAILED = "failed"  # a step failed (not a verify): traffic is where the last finished step left it
DONE = "done"
ROLLED_BACK = "rolled-back"  # a verify failed and the previous version serves 100 % again
UNFINISHED = frozenset({RUNNING, INTERRUPTED, FAILED})

# Step kinds, in the order a release runs them.
MIGRATE, UPLOAD, DEPLOY = "migrate", "upload", "deploy"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Step:
    kind: str  # migrate | upload | deploy
    name: str  # "migrate DB", "upload", "deploy 10%"
    binding: str | None = None  # migrate: the D1 binding
    percent: float | None = None  # deploy: the new version's share of traffic
    done: bool = False
    finished_at: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReleaseState:
    env: str
    worker: str
    previous_version: str  # at 100 % before the release: what a failed verify rolls back to
    options: dict[str, Any]  # gradual, verify, soak, message, skipBuild: --resume keeps them
    steps: list[Step]
    status: str = RUNNING
    new_version: str | None = None
    started_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    error: str | None = None

    @property
    def next_step(self) -> Step | None:
        return next((s for s in self.steps if not s.done), None)

    @property
    def finished_deploys(self) -> list[Step]:
        return [s for s in self.steps if s.kind == DEPLOY and s.done]

    def traffic_of(self, step: Step | None) -> dict[str, float]:
        """What the Worker serves once ``step`` (a deploy step, or None: before any) is done."""
        if step is None or step.percent is None or self.new_version is None:
            return {self.previous_version: 100.0}
        if step.percent >= 100:
            return {self.new_version: 100.0}
        return {self.new_version: step.percent, self.previous_version: 100.0 - step.percent}

    def expected_traffic(self) -> list[dict[str, float]]:
        """The splits the live deployment may show now: after the last finished deploy step, or,
        when a run stopped during the next one, after that one (its POST may have landed)."""
        done = self.finished_deploys
        allowed = [self.traffic_of(done[-1] if done else None)]
        upcoming = self.next_step
        if upcoming is not None and upcoming.kind == DEPLOY and self.new_version is not None:
            allowed.append(self.traffic_of(upcoming))
        return allowed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": FORMAT, **{_camel(k): v for k, v in data.items()},
                "steps": [{_camel(k): v for k, v in asdict(s).items()} for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseState:
        steps = [
            Step(kind=str(s["kind"]), name=str(s["name"]), binding=s.get("binding"),
                 percent=None if s.get("percent") is None else float(s["percent"]), done=bool(s.get("done")),
                 finished_at=s.get("finishedAt"), detail=dict(s.get("detail") or {}))
            for s in data["steps"]
        ]
        return cls(
            env=str(data["env"]), worker=str(data["worker"]), previous_version=str(data["previousVersion"]),
            options=dict(data.get("options") or {}), steps=steps, status=str(data.get("status") or RUNNING),
            new_version=data.get("newVersion"), started_at=str(data.get("startedAt") or ""),
            updated_at=str(data.get("updatedAt") or ""), error=data.get("error"),
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def file_name(env: str) -> str:
    return f"{env}.json"  # env names are checked before any file is touched (letters, digits, -, _)


def relative_path(env: str) -> str:
    return f".skclaw/{SUBDIR}/{file_name(env)}"


def load(project_dir: Path, env: str) -> ReleaseState | None:
    """The env's release state, or None when there is none."""
    from skclaw.statedir import open_state_file

    try:
        fd = open_state_file(project_dir, file_name(env), os.O_RDONLY, subdir=SUBDIR)
    except FileNotFoundError:
        return None
    try:
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("format") != FORMAT or data.get("env") != env:
            raise ValueError("not a release state of this env")
        return ReleaseState.from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{relative_path(env)} cannot be read as skclaw's release state ({exc}).",
                         hint=f"Check `skclaw status --env {env}`; remove the file to start a new release.") from None


def save(project_dir: Path, state: ReleaseState) -> None:
    """Atomically replace the env's release state."""
    from skclaw.statedir import write_json_state

    state.updated_at = now()
    write_json_state(project_dir, SUBDIR, file_name(state.env), state.to_json())


def plan_steps(bindings: list[str], gradual: list[float]) -> list[Step]:
    steps = [Step(MIGRATE, f"migrate {binding}", binding=binding) for binding in bindings]
    steps.append(Step(UPLOAD, "upload"))
    steps += [Step(DEPLOY, f"deploy {percent_label(p)}", percent=p) for p in gradual]
    return steps


def percent_label(percent: float) -> str:
    return f"{percent:g}%"


def parse_gradual(text: str | None) -> list[float]:
    """`--gradual 10,50` -> [10, 50, 100]: rising percentages, each above 0, ending at 100."""
    if text is None or not text.strip():
        return [100.0]
    steps: list[float] = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise UsageError(f"--gradual {text!r}: {part.strip()!r} is not a percentage.",
                             hint="Give rising percentages, e.g. --gradual 10,50 (100 % is the last step).") from None
        if not 0 < value <= 100:  # NaN and inf fail this too
            raise UsageError(f"--gradual {text!r}: {part.strip()} is not above 0 and at most 100.",
                             hint="Give rising percentages, e.g. --gradual 10,50.")
        if steps and value <= steps[-1]:
            raise UsageError(f"--gradual {text!r}: the percentages must rise ({value:g} after {steps[-1]:g}).",
                             hint="Give rising percentages, e.g. --gradual 10,50.")
        steps.append(value)
    if steps[-1] != 100:
        steps.append(100.0)
    return steps
