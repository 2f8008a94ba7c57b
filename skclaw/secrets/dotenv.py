"""Dotenv files: skclaw's own dialect (the ``envfile`` source) and wrangler's (``.dev.vars.<env>``).

skclaw's dialect, read by :func:`parse_dotenv` and written by :func:`format_dotenv`:

- ``KEY=VALUE`` lines; ``export KEY=VALUE`` too. Keys are ``[A-Za-z_][A-Za-z0-9_.-]*``. Spaces
  around ``=`` are ignored. Blank lines and lines starting with ``#`` are comments.
- Unquoted values are trimmed; a ``#`` at the start of the value or after whitespace starts a
  comment (``a#b`` is a value, ``a #b`` is ``a``). An unquoted value may not start with a quote.
- Single quotes (``'...'``) and backticks are literal and may span lines; they cannot contain
  their own quote character.
- ``"double"`` quotes may span lines and understand ``\\n``, ``\\r``, ``\\t``, ``\\"`` and ``\\\\``;
  any other backslash is kept as it is.
- After a closing quote only whitespace and a ``# comment`` may follow on that line.
- CRLF and CR line ends are read as LF; a leading byte-order mark is ignored.
- The last of duplicate keys wins; the repeated keys are reported in ``DotenvParse.duplicates``.

:func:`format_dotenv` writes every value double-quoted with escapes, so any ``str`` that can be
encoded as UTF-8 reads back exactly.

wrangler reads ``.dev.vars.<env>`` with the npm ``dotenv`` package's ``parse`` (16.3.1 is bundled
in wrangler 4): ``\\r\\n`` and ``\\r`` become ``\\n``; a value is unquoted (trimmed, cut at ``#``,
one line) or wrapped in a single quote, double quote or backtick (may span lines, no escape for
the quote itself); inside double quotes only ``\\n`` and ``\\r`` are expanded.
:func:`format_dev_vars` picks, per value, a form that this parser gives back exactly, and refuses
(naming the key, never the value) a value that has no such form. ``tests/test_dotenv.py``
proves this against wrangler's own code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from skclaw.errors import UsageError

__all__ = [
    "DotenvParse",
    "format_dev_vars",
    "format_dotenv",
    "is_dotenv_key",
    "parse_dotenv",
    "update_dotenv",
]

_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
_KEY_RE = re.compile(_KEY)
_ASSIGNMENT_RE = re.compile(rf"[ \t]*(?:export[ \t]+)?({_KEY})[ \t]*=[ \t]*")
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_QUOTES = ("'", '"', "`")


@dataclass
class DotenvParse:
    # repr=False: a parse result holds secrets and must not show them in a traceback or log.
    values: dict[str, str] = field(default_factory=dict, repr=False)
    #: Keys that appeared more than once (each listed once, in order of first repetition).
    duplicates: list[str] = field(default_factory=list)
    #: ``(key, start, end)`` of every assignment in ``text``: the line(s) it spans, without the
    #: final line break. Used by :func:`update_dotenv` to keep the rest of a file as it was.
    assignments: list[tuple[str, int, int]] = field(default_factory=list)
    #: The parsed text with LF line ends and no byte-order mark.
    text: str = field(default="", repr=False)


def is_dotenv_key(key: str) -> bool:
    return _KEY_RE.fullmatch(key) is not None


def _invalid(filename: str, line: int, what: str) -> UsageError:
    # Never quote the line: it may hold a secret.
    return UsageError(
        f"{filename}, line {line}: {what}.",
        hint="Lines must look like KEY=value, KEY='value', KEY=\"value\" or # comment.",
    )


def parse_dotenv(text: str, *, filename: str) -> DotenvParse:
    """Parse skclaw's dotenv dialect (see the module docstring). Raises UsageError naming the
    file and line of the first invalid line; the message never contains a value."""
    text = _normalize(text)
    result = DotenvParse(text=text)
    pos, line, end = 0, 1, len(text)
    while pos < end:
        eol = text.find("\n", pos)
        if eol < 0:
            eol = end
        stripped = text[pos:eol].strip()
        if not stripped or stripped.startswith("#"):
            pos, line = eol + 1, line + 1
            continue
        match = _ASSIGNMENT_RE.match(text, pos, eol)
        if match is None:
            raise _invalid(filename, line, "expected KEY=value (a key is letters, digits, _ . -)")
        key = match.group(1)
        value_start = match.end()
        quote = text[value_start] if value_start < eol else ""
        if quote in _QUOTES:
            value, after = _scan_quoted(text, value_start, quote, filename=filename, line=line)
            line += text.count("\n", value_start, after)
            eol = text.find("\n", after)
            if eol < 0:
                eol = end
            rest = text[after:eol].strip()
            if rest and not rest.startswith("#"):
                raise _invalid(filename, line, f"unexpected text after the quoted value of {key}")
        else:
            value = _strip_comment(text[value_start:eol]).strip()
        if key in result.values and key not in result.duplicates:
            result.duplicates.append(key)
        result.values.pop(key, None)  # a repeated key moves to its last position
        result.values[key] = value
        result.assignments.append((key, pos, eol))
        pos, line = eol + 1, line + 1
    return result


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[1:] if text.startswith("\ufeff") else text


def _strip_comment(raw: str) -> str:
    for index, char in enumerate(raw):
        if char == "#" and (index == 0 or raw[index - 1] in " \t"):
            return raw[:index]
    return raw


def _scan_quoted(text: str, start: int, quote: str, *, filename: str, line: int) -> tuple[str, int]:
    """The value of the quoted string opening at ``start`` and the index after its closing quote."""
    if quote != '"':
        close = text.find(quote, start + 1)
        if close < 0:
            raise _invalid(filename, line, f"the {quote} quote opened here is never closed")
        return text[start + 1 : close], close + 1
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            chars.append(_DOUBLE_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        chars.append(char)
        index += 1
    raise _invalid(filename, line, 'the " quote opened here is never closed')


def _check_key(key: str, *, pattern: re.Pattern[str], target: str) -> None:
    if not isinstance(key, str) or pattern.fullmatch(key) is None:
        raise UsageError(
            f"Cannot write the key {key!r} to {target}: "
            "a key is letters, digits and _ . - (not starting with a digit, . or -).",
        )


def _check_encodable(key: str, value: str, *, target: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"The value of {key} cannot be written to {target}: it is not valid Unicode text "
            "(it holds a lone surrogate).",
        ) from None


def _comment_lines(header: str | None) -> list[str]:
    if not header:
        return []
    return [f"# {line}".rstrip() for line in header.splitlines()]


def _format_assignment(key: str, value: str) -> str:
    _check_key(key, pattern=_KEY_RE, target="a dotenv file")
    _check_encodable(key, value, target="a dotenv file")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'{key}="{escaped}"'


def format_dotenv(values: Mapping[str, str], *, header: str | None = None) -> str:
    """skclaw's dialect: every value double-quoted with escapes, so parse_dotenv gives it back
    exactly. ``header`` becomes ``#`` comment lines at the top."""
    lines = _comment_lines(header)
    lines.extend(_format_assignment(key, value) for key, value in values.items())
    return "".join(line + "\n" for line in lines)


def update_dotenv(
    text: str,
    updates: Mapping[str, str],
    *,
    filename: str,
    place_after: Mapping[str, str] | None = None,
) -> str:
    """``text`` with each key of ``updates`` set, everything else (comments, order, other keys,
    their quoting) kept. An updated key's last assignment is replaced in place and its earlier
    duplicates are removed; a new key goes after the key ``place_after[new_key]`` names when
    that key is in the file, else at the end. Line ends come out as LF.
    """
    parsed = parse_dotenv(text, filename=filename)
    source = parsed.text
    last_index = {key: index for index, (key, _, _) in enumerate(parsed.assignments)}
    following: dict[str, list[str]] = {}
    for new_key, anchor in (place_after or {}).items():
        if new_key in updates and new_key not in last_index and anchor in last_index:
            following.setdefault(anchor, []).append(new_key)
    placed = {key for keys in following.values() for key in keys}
    out: list[str] = []
    pos = 0
    for index, (key, start, end) in enumerate(parsed.assignments):
        is_last = last_index[key] == index
        if key in updates:
            out.append(source[pos:start])
            if not is_last:
                # An earlier duplicate of an updated key: drop it with its line break.
                pos = end + 1 if source.startswith("\n", end) else end
                continue
            out.append(_format_assignment(key, updates[key]))
            pos = end
        if is_last and key in following:
            out.append(source[pos:end])
            out.extend("\n" + _format_assignment(new, updates[new]) for new in following[key])
            pos = end
    out.append(source[pos:])
    result = "".join(out)
    appended = [key for key in updates if key not in last_index and key not in placed]
    if appended:
        if result and not result.endswith("\n"):
            result += "\n"
        result += "".join(_format_assignment(key, updates[key]) + "\n" for key in appended)
    return result


# --- wrangler's dialect (npm dotenv 16 `parse`) -----------------------------------------------

# npm dotenv's key is `[\w.-]+` in a JavaScript regex without the u flag: ASCII only.
_DEV_VARS_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+")
# JavaScript's \s and String.prototype.trim(): WhiteSpace and LineTerminator.
_JS_SPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# Where a JavaScript multiline regex sees a line end.
_JS_LINE_TERMINATORS = frozenset("\n\r\u2028\u2029")


def _dev_vars_form(value: str) -> str | None:
    """The text after ``KEY=`` that dotenv's parse() turns back into exactly ``value``, or None.

    Why each condition (dotenv 16.3.1 `parse`, LINE regex and post-processing):
    - The file's CR and CRLF become LF before parsing, so a raw CR cannot survive; inside
      double quotes ``\\r`` is expanded to CR, and there is no other way to write one.
    - A quoted value cannot contain its own quote (the regex has no escape that is removed).
    - A quoted value may not end with a backslash: the regex's ``\\\\'`` alternative would then
      let the value run past its closing quote into the following lines.
    - In double quotes every ``\\n`` / ``\\r`` pair is expanded, and ``\\\\`` is not an escape,
      so a value holding a literal backslash-n or backslash-r cannot be double-quoted.
    - Unquoted values end at ``#`` or a line end, are trimmed, and must not start with a quote.
    """
    if value.endswith("\\"):
        quotable: tuple[str, ...] = ()
    elif "\r" in value:
        quotable = ('"',)
    else:
        quotable = _QUOTES
    for quote in quotable:
        if quote in value:
            continue
        if quote == '"':
            if "\\n" in value or "\\r" in value:
                continue
            return '"' + value.replace("\r", "\\r") + '"'
        return quote + value + quote
    if (
        value
        and value[0] not in _JS_SPACE
        and value[-1] not in _JS_SPACE
        and value[0] not in _QUOTES
        and "#" not in value
        and not any(char in _JS_LINE_TERMINATORS for char in value)
    ):
        return value
    return None


def format_dev_vars(values: Mapping[str, str], *, header: str | None = None) -> str:
    """The ``.dev.vars.<env>`` text wrangler reads back as exactly ``values``.

    Raises UsageError naming the first key whose value the dialect cannot represent (the value
    is never in the message); nothing is returned then, so no partial file is written.
    """
    lines = _comment_lines(header)
    for key, value in values.items():
        _check_key(key, pattern=_DEV_VARS_KEY_RE, target=".dev.vars")
        _check_encodable(key, value, target=".dev.vars")
        form = _dev_vars_form(value)
        if form is None:
            raise UsageError(
                f"The value of {key} cannot be written to .dev.vars so that wrangler reads it back unchanged.",
                hint=(
                    "wrangler's dotenv dialect has no escapes: a value cannot hold all of ' \" ` "
                    "together with a line break, a #, or leading/trailing whitespace; nor a "
                    'carriage return together with " or a literal \\n; nor end with a backslash '
                    "unless it fits on one plain line. Change the value or use `wrangler dev` "
                    "with secrets from another source."
                ),
            )
        lines.append(f"{key}={form}")
    return "".join(line + "\n" for line in lines)
