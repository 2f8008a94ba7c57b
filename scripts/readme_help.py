"""Render every command's --help into README.md between the help markers (or check it)."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skclaw.cli import cli, command_paths  # noqa: E402

START, END = "<!-- help:start -->", "<!-- help:end -->"


def render() -> str:
    runner = CliRunner()
    blocks = []
    for path in [[], *command_paths()]:
        result = runner.invoke(cli, [*path, "--help"], prog_name="skclaw", terminal_width=100)
        title = " ".join(["skclaw", *path])
        blocks.append(f"### `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(blocks)


def rewrite(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}{END}{tail}"


if __name__ == "__main__":
    readme = ROOT / "README.md"
    current = readme.read_text("utf-8")
    wanted = rewrite(current)
    if "--write" in sys.argv:
        readme.write_text(wanted, "utf-8")
    elif current != wanted:
        sys.exit("README.md command reference is stale: run scripts/readme_help.py --write")
