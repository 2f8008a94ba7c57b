"""GitHub Actions: a job summary per run, `::error::` annotations, `::add-mask::` for values.

Active only when ``GITHUB_ACTIONS=true`` (what the runner sets); elsewhere nothing here prints.
Workflow commands go to stderr (the runner reads both streams), so ``--json`` keeps stdout to its
one envelope. The summary is built from the run's result: names, statuses, counts and version
ids, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from skclaw.redact import redact

STATUS_MARK = {"ok": "✅", "dry-run": "📝", "skipped": "⏭️", "refused": "⛔", "failed": "❌"}
_VALUE_KEYS = frozenset({"value", "values"})  # never rendered, even though results carry them only on request


def active(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error_command(title: str, message: str) -> str:
    return f"::error title={_escape_property(title)}::{_escape_data(redact(message))}"


def mask_command(value: str) -> str:
    """``::add-mask::`` for a value about to be shown (the runner hides it in every later line)."""
    return f"::add-mask::{_escape_data(value)}"


def _rows(result: Any) -> list[dict[str, Any]]:
    if not isinstance(result, Mapping):
        return []
    environments = result.get("environments")
    if isinstance(environments, Mapping):
        return [{"env": env, **{k: v for k, v in (entry or {}).items() if k not in _VALUE_KEYS}}
                for env, entry in environments.items() if isinstance(entry, Mapping)]
    if "environment" in result:
        return [{"env": result.get("environment"), **{k: v for k, v in result.items() if k not in _VALUE_KEYS}}]
    return []


def _count(value: Any) -> str:
    return str(len(value)) if isinstance(value, list) else ""


def summary_markdown(command: str, exit_code: int, result: Any, error: Mapping[str, str] | None) -> str:
    head = "✅ done" if exit_code == 0 else f"❌ exit {exit_code}" + (f" ({error['kind']})" if error else "")
    lines = [f"### skclaw {command}: {head}", ""]
    rows = _rows(result)
    if rows:
        lines += ["| env | status | Worker | pushed | deleted | applied | version |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            status = str(row.get("status") or ("ok" if exit_code == 0 else "failed"))
            version = row.get("versionId") or ""
            cells = [str(row.get("env") or ""), f"{STATUS_MARK.get(status, '')} {status}".strip(),
                     str(row.get("worker") or ""), _count(row.get("pushed")), _count(row.get("deleted")),
                     _count(row.get("applied")), f"`{version}`" if version else ""]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    if error:
        lines += [f"> {line}" for line in str(error.get("message", "")).splitlines()] + [""]
    return redact("\n".join(lines) + "\n")


def report(environ: Mapping[str, str], stderr: IO[str], command: str, exit_code: int, result: Any,
           error: Mapping[str, str] | None) -> None:
    """Annotations for what failed, and the run's section of the job summary."""
    if not active(environ):
        return
    if error:
        stderr.write(error_command(f"skclaw {command}", str(error.get("message", ""))) + "\n")
    for row in _rows(result):
        if row.get("status") == "failed" and row.get("error"):
            stderr.write(error_command(f"skclaw {command}: {row.get('env')}", str(row["error"])) + "\n")
    stderr.flush()
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(command, exit_code, result, error))
    except OSError as exc:  # the summary is a courtesy; the run's outcome stands
        stderr.write(f"warning: could not write the GitHub job summary ({exc.strerror or exc})\n")


def mask(environ: Mapping[str, str], stream: IO[str], value: str) -> None:
    if active(environ):
        stream.write(mask_command(value) + "\n")
        stream.flush()
