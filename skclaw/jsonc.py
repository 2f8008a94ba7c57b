"""JSONC/JSON5 loading with pyjson5, errors turned into exit-2 messages with a line number."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from skclaw.errors import ConfigError

_NEAR_RE = re.compile(r"near (\d+)")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, min(offset, len(text)))) + 1


def load_jsonc(path: Path, *, what: str) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 (byte {exc.start}).") from None
    import pyjson5

    try:
        return pyjson5.decode(text)
    except pyjson5.Json5Exception as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        where = ""
        match = _NEAR_RE.search(message)
        if match:
            where = f", line {_line_of(text, int(match[1]))}"
        raise ConfigError(
            f"{what} {path} is not valid JSONC{where}: {message}",
            hint="Fix the syntax (comments and trailing commas are allowed).",
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConfigError(f"{what} {path} could not be parsed: {exc}") from None
