"""The options every run has: the root group's (global) and those of commands that act."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GlobalOptions:
    config: str | None = None
    project_dir: Path = field(default_factory=Path.cwd)
    wrangler: str | None = None
    verbosity: int = 0
    color: bool = True


@dataclass(frozen=True)
class ActionOptions:
    yes: bool = False
    confirm_env: str | None = None
    non_interactive: bool = False
    json: bool = False
    lock_timeout: float = 30.0
