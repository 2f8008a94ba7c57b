"""JSONC/JSON5 loading with pyjson5, errors turned into exit-2 messages with a line number."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from skclaw.errors import ConfigError

_NEAR_RE = re.compile(r"near (\d+)")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, min(offset, len(text)))) + 1


# Strings, comments, the structure, and everything between them as one run (numbers, commas,
# bare words, whitespace): a list of two million numbers is one token, not four million.
_TOKEN_RE = re.compile(
    r""""(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|//[^\n]*|/\*.*?(?:\*/|$)|[{}\[\]:]|[^{}\[\]:"'/]+|/""",
    re.S,
)
_LAST_WORD_RE = re.compile(r"[^\s,]+(?=[\s,]*$)")


def _may_repeat_a_key(text: str) -> bool:
    """False when ``text`` is plain JSON (most configs are) with no key repeated in an object:
    found by the C parser, so a config of 300,000 keys costs milliseconds, not a Python scan."""
    repeated = False

    def check(pairs: list[tuple[str, Any]]) -> None:
        nonlocal repeated
        if not repeated and len({key for key, _ in pairs}) != len(pairs):
            repeated = True

    try:
        json.loads(text, object_pairs_hook=check)
    except (ValueError, RecursionError):
        return True  # JSONC (comments, trailing commas), JSON5, or not JSON at all: the tokenizer decides
    return repeated


def duplicate_keys(text: str) -> list[tuple[str, int]]:
    """(key, line) of every key that repeats within one JSONC object.

    pyjson5 keeps the last of duplicate keys silently; for skclaw's own config a repeated key is
    a trap (a second ``"protectedEnvironments": []`` would unprotect production), so it is found
    here with a small tokenizer that knows strings, comments and nesting.
    """
    if not _may_repeat_a_key(text):
        return []
    found: list[tuple[str, int]] = []
    stack: list[set[str] | None] = []  # a set per open object, None per open array
    pending: tuple[str, int] | None = None  # the last string or bare word, and where it starts
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if token.startswith(("//", "/*")):
            continue
        if token == ":":
            if pending is not None and stack and stack[-1] is not None:
                key, offset = pending
                if key in stack[-1]:
                    found.append((key, _line_of(text, offset)))  # linear: only for duplicates
                stack[-1].add(key)
            pending = None
            continue
        pending = None
        if token == "{":
            stack.append(set())
        elif token == "[":
            stack.append(None)
        elif token in "}]":
            if stack:
                stack.pop()
        elif token[0] in "\"'":
            pending = (token[1:-1], match.start())
        else:  # a run: what precedes a ':' is its last word (a bare JSON5 key)
            word = _LAST_WORD_RE.search(token)
            if word is not None:
                pending = (word.group(), match.start() + word.start())
    return found


def load_jsonc(path: Path, *, what: str, unique_keys: bool = False) -> Any:
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
        data = pyjson5.decode(text)
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
    if unique_keys:
        repeated = duplicate_keys(text)
        if repeated:
            listed = ", ".join(f"{key!r} (line {line})" for key, line in repeated[:5])
            raise ConfigError(
                f"{what} {path} repeats key(s) {listed}; only the last would count.",
                hint="Keep one of each key: a repeated key silently replaces the first.",
            )
    return data
