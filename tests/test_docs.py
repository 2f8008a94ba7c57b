"""README stays true: the two commands first, and every command's --help as the code prints it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].startswith("./scripts/demo") and block[1].startswith("./scripts/test")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci


def test_readme_command_reference_is_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_help.py")], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_every_command_is_documented_with_an_example() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("doctor", "secrets sync", "secrets set", "secrets rotate", "secrets list", "deploy",
                    "status", "rollback", "migrate", "init"):
        assert f"skclaw {command} " in readme, command
