"""Dotenv files, in one dialect: wrangler's (the npm ``dotenv`` package's ``parse``, 16.3.1 is
bundled in wrangler 4). skclaw reads its ``envfile`` source, the ``.env*`` files wrangler loads
(:mod:`skclaw.credentials`) and nothing else with :func:`parse_dotenv`, and writes ``.dev.vars``
(:func:`format_dev_vars`) and env files (:func:`format_dotenv`, :func:`update_dotenv`) in forms
that parser gives back exactly. ``tests/test_dotenv.py`` proves both against wrangler's own code.

The dialect (what :func:`parse_dotenv` reads, exactly as dotenv 16.3.1 does):

- ``KEY=VALUE`` (or ``KEY: VALUE``), optionally after ``export``. A key is ``[A-Za-z0-9_.-]+``.
  CR and CRLF line ends are read as LF. Lines that are not assignments are ignored by dotenv;
  :func:`parse_dotenv` reports them (``strict``) unless they are blank or ``#`` comments.
- Unquoted values end at the first ``#`` (``a#b`` is ``a``) or the line end and are trimmed.
- ``'single'``, ``"double"`` and `` `backtick` `` quoted values may span lines and may be
  followed by whitespace and a ``# comment``. There are no escapes, except that inside double
  quotes ``\\n`` and ``\\r`` become a line feed and a carriage return: ``\\"``, ``\\\\`` and ``\\t``
  stay as typed. A quoted value ends at its closing quote; a backslash before it does not
  escape it, except that a value may then run on to a later quote (so skclaw never writes one).
- No ``$VAR`` expansion (wrangler expands only the ``.env*`` files it loads into its own
  environment, never ``.dev.vars``); the last of duplicate keys wins.

skclaw 0.1.0 and earlier read env files in a dialect of its own (double-quote escapes ``\\"``,
``\\\\``, ``\\t``; ``#`` a comment only after whitespace). :func:`legacy_differences` finds the
keys of a file that the two dialects read differently, so that the ``envfile`` source refuses
such a file instead of pushing a changed secret; :func:`format_dotenv` writes only forms both
read the same, so skclaw never refuses a file it wrote.
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
    "legacy_differences",
    "parse_dotenv",
    "update_dotenv",
]

_QUOTES = ("'", '"', "`")

# --- the parser: npm dotenv 16.3.1 `parse`, its JavaScript regexes spelled for Python ---------

# JavaScript's \s and String.prototype.trim(): WhiteSpace and LineTerminator (not Python's \s).
_JS_SPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_SPACE_CHARS = "".join(sorted(_JS_SPACE))
# Where a JavaScript multiline regex sees a line end (`^`, `$` and `.` under the m flag).
_JS_LINE_TERMINATORS = frozenset("\n\r\u2028\u2029")
_S = "[" + "".join(re.escape(char) for char in _JS_SPACE_CHARS) + "]"
_BOL = r"(?:(?<=[\n\r\u2028\u2029])|(?<![\s\S]))"  # ^ with the m flag
_EOL = r"(?=[\n\r\u2028\u2029]|\Z)"  # $ with the m flag
_DOT = r"[^\n\r\u2028\u2029]"  # . in JavaScript
# dotenv: /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|
#          \s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg
# \w without the u flag is ASCII.
_LINE_RE = re.compile(
    rf"{_BOL}{_S}*(?:export{_S}+)?([A-Za-z0-9_.-]+)(?:{_S}*={_S}*?|:{_S}+?)"
    rf"({_S}*'(?:\\'|[^'])*'|{_S}*\"(?:\\\"|[^\"])*\"|{_S}*`(?:\\`|[^`])*`|[^#\r\n]+)?"
    rf"{_S}*(?:#{_DOT}*)?{_EOL}"
)
# dotenv: value.replace(/^(['"`])([\s\S]*)\1$/mg, "$2")
_UNQUOTE_RE = re.compile(rf"{_BOL}(['\"`])([\s\S]*)\1{_EOL}")

_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
#: The keys skclaw writes (and asks of secret names in an env file): a dotenv key that does not
#: start with a digit, a dot or a dash.
_KEY_RE = re.compile(_KEY)


@dataclass
class DotenvParse:
    # repr=False: a parse result holds secrets and must not show them in a traceback or log.
    values: dict[str, str] = field(default_factory=dict, repr=False)
    #: Keys that appeared more than once (each listed once, in order of first repetition).
    duplicates: list[str] = field(default_factory=list)
    #: ``(key, start, end)`` of every assignment in ``text``: the line(s) it spans, without the
    #: final line break. Used by :func:`update_dotenv` to keep the rest of a file as it was.
    assignments: list[tuple[str, int, int]] = field(default_factory=list)
    #: Line numbers (1-based) of lines dotenv ignores that are neither blank nor ``#`` comments.
    ignored: list[int] = field(default_factory=list)
    #: ``(key, line)`` of values that start with a quote dotenv did not take as closing it
    #: (``A='x`` or ``A='x'y``): dotenv keeps the quote as part of the value.
    unclosed: list[tuple[str, int]] = field(default_factory=list)
    #: The parsed text with LF line ends.
    text: str = field(default="", repr=False)


def is_dotenv_key(key: str) -> bool:
    return _KEY_RE.fullmatch(key) is not None


def _invalid(filename: str, line: int, what: str) -> UsageError:
    # Never quote the line: it may hold a secret.
    return UsageError(
        f"{filename}, line {line}: {what}.",
        hint="Lines must look like KEY=value, KEY='value', KEY=\"value\" or # comment "
        "(wrangler's dotenv dialect: see README, Env files).",
    )


def _normalize(text: str) -> str:
    # dotenv: lines.replace(/\r\n?/mg, "\n")
    return re.sub(r"\r\n?", "\n", text)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def parse_dotenv(text: str, *, filename: str, strict: bool = True) -> DotenvParse:
    """The values wrangler's dotenv ``parse`` reads from ``text`` (see the module docstring).

    With ``strict`` (the default), a line dotenv would silently ignore, or a value that opens a
    quote dotenv keeps as part of the value, is a UsageError naming the file and line, never the
    value. Without it, the result says what dotenv read and lists those lines.
    """
    text = _normalize(text)
    result = DotenvParse(text=text)
    covered: list[tuple[int, int]] = []
    pos = 0
    while (match := _LINE_RE.search(text, pos)) is not None:
        key = match.group(1)
        raw = match.group(2) or ""
        value = raw.strip(_JS_SPACE_CHARS)
        maybe_quote = value[:1]
        unquoted = _UNQUOTE_RE.sub(lambda quoted: quoted.group(2), value)
        if maybe_quote in _QUOTES and unquoted == value:
            result.unclosed.append((key, _line_of(text, match.start(1))))
        value = unquoted
        if maybe_quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        if key in result.values and key not in result.duplicates:
            result.duplicates.append(key)
        result.values.pop(key, None)  # a repeated key moves to its last position
        result.values[key] = value
        # The assignment's lines: from the key's line to the end of the value's last line (the
        # match itself may begin with blank lines and end with a following comment line).
        start = max(match.start(), text.rfind("\n", 0, match.start(1)) + 1)
        value_end = match.end(2) if match.group(2) is not None else match.end(1)
        line_end = text.find("\n", value_end)
        end = min(match.end(), line_end if line_end >= 0 else len(text))
        end = max(end, value_end)
        result.assignments.append((key, start, end))
        covered.append((start, end))
        pos = match.end()
    result.ignored = _ignored_lines(text, covered)
    if strict:
        problems = [(line, "expected KEY=value (a key is letters, digits, _ . -)") for line in result.ignored]
        problems += [
            (line, f"the value of {key} opens a quote that does not close at its end "
                   "(wrangler would keep the quote as part of the value)")
            for key, line in result.unclosed
        ]
        if problems:
            line, what = min(problems)
            raise _invalid(filename, line, what)
    return result


def _ignored_lines(text: str, covered: list[tuple[int, int]]) -> list[int]:
    ignored: list[int] = []
    spans = iter(covered)
    span = next(spans, None)
    pos, line = 0, 1
    while pos <= len(text):
        eol = text.find("\n", pos)
        if eol < 0:
            eol = len(text)
        while span is not None and span[1] < pos:
            span = next(spans, None)
        inside = span is not None and span[0] <= eol and pos <= span[1]
        stripped = text[pos:eol].strip(_JS_SPACE_CHARS)
        if not inside and stripped and not stripped.startswith("#"):
            ignored.append(line)
        pos, line = eol + 1, line + 1
    return ignored


# --- writing -----------------------------------------------------------------------------------


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


def _dev_vars_forms(value: str) -> list[str]:
    """Every text after ``KEY=`` that dotenv's parse() turns back into exactly ``value``, best
    first, in any context (whatever lines follow).

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
    forms: list[str] = []
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
            forms.append('"' + value.replace("\r", "\\r") + '"')
        else:
            forms.append(quote + value + quote)
    if (
        value
        and value[0] not in _JS_SPACE
        and value[-1] not in _JS_SPACE
        and value[0] not in _QUOTES
        and "#" not in value
        and not any(char in _JS_LINE_TERMINATORS for char in value)
    ):
        forms.append(value)
    return forms


_DEV_VARS_HINT = (
    "wrangler's dotenv dialect has no escapes: a value cannot hold all of ' \" ` "
    "together with a line break, a #, or leading/trailing whitespace; nor a "
    'carriage return together with " or a literal \\n; nor end with a backslash '
    "unless it fits on one plain line."
)


def _format_assignment(key: str, value: str) -> str:
    """``KEY=form`` for an env file: a form wrangler's parser gives back exactly and that skclaw
    0.1.0's reader read the same (so :func:`legacy_differences` never objects to it)."""
    _check_key(key, pattern=_KEY_RE, target="a dotenv file")
    _check_encodable(key, value, target="a dotenv file")
    for form in _dev_vars_forms(value):
        if _parse_legacy(f"{key}={form}\n") == {key: value}:
            return f"{key}={form}"
    raise UsageError(
        f"The value of {key} cannot be written to an env file so that it reads back unchanged.",
        hint=_DEV_VARS_HINT + " Change the value or keep it in another source (keyring, vault).",
    )


def format_dotenv(values: Mapping[str, str], *, header: str | None = None) -> str:
    """An env file :func:`parse_dotenv` reads back as exactly ``values``. ``header`` becomes
    ``#`` comment lines at the top. A value with no such form is a UsageError naming its key."""
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
    formatted = {key: _format_assignment(key, value) for key, value in updates.items()}
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
            out.append(formatted[key])
            pos = end
        if is_last and key in following:
            out.append(source[pos:end])
            out.extend("\n" + formatted[new] for new in following[key])
            pos = end
    out.append(source[pos:])
    result = "".join(out)
    appended = [key for key in updates if key not in last_index and key not in placed]
    if appended:
        if result and not result.endswith("\n"):
            result += "\n"
        result += "".join(formatted[key] + "\n" for key in appended)
    return result


# npm dotenv's key is `[\w.-]+` in a JavaScript regex without the u flag: ASCII only.
_DEV_VARS_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+")


def format_dev_vars(values: Mapping[str, str], *, header: str | None = None) -> str:
    """The ``.dev.vars.<env>`` text wrangler reads back as exactly ``values``.

    Raises UsageError naming the first key whose value the dialect cannot represent (the value
    is never in the message); nothing is returned then, so no partial file is written.
    """
    lines = _comment_lines(header)
    for key, value in values.items():
        _check_key(key, pattern=_DEV_VARS_KEY_RE, target=".dev.vars")
        _check_encodable(key, value, target=".dev.vars")
        forms = _dev_vars_forms(value)
        if not forms:
            raise UsageError(
                f"The value of {key} cannot be written to .dev.vars so that wrangler reads it back unchanged.",
                hint=_DEV_VARS_HINT + " Change the value or use `wrangler dev` with secrets from another source.",
            )
        lines.append(f"{key}={forms[0]}")
    return "".join(line + "\n" for line in lines)


# --- skclaw 0.1.0's own dialect, kept only to find files it read differently -------------------

_LEGACY_ASSIGNMENT_RE = re.compile(rf"[ \t]*(?:export[ \t]+)?({_KEY})[ \t]*=[ \t]*")
_LEGACY_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _parse_legacy(text: str) -> dict[str, str] | None:
    """The values skclaw 0.1.0's envfile reader gave for ``text``, or None where it refused the
    file (such a file never reached a secret, so no value of it can change)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text[1:] if text.startswith("\ufeff") else text
    values: dict[str, str] = {}
    pos, end = 0, len(text)
    while pos < end:
        eol = text.find("\n", pos)
        if eol < 0:
            eol = end
        stripped = text[pos:eol].strip()
        if not stripped or stripped.startswith("#"):
            pos = eol + 1
            continue
        match = _LEGACY_ASSIGNMENT_RE.match(text, pos, eol)
        if match is None:
            return None
        key, value_start = match.group(1), match.end()
        quote = text[value_start] if value_start < eol else ""
        if quote in _QUOTES:
            scanned = _scan_legacy_quoted(text, value_start, quote)
            if scanned is None:
                return None
            value, after = scanned
            eol = text.find("\n", after)
            if eol < 0:
                eol = end
            rest = text[after:eol].strip()
            if rest and not rest.startswith("#"):
                return None
        else:
            raw = text[value_start:eol]
            for index, char in enumerate(raw):
                if char == "#" and (index == 0 or raw[index - 1] in " \t"):
                    raw = raw[:index]
                    break
            value = raw.strip()
        values.pop(key, None)
        values[key] = value
        pos = eol + 1
    return values


def _scan_legacy_quoted(text: str, start: int, quote: str) -> tuple[str, int] | None:
    if quote != '"':
        close = text.find(quote, start + 1)
        return None if close < 0 else (text[start + 1 : close], close + 1)
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            chars.append(_LEGACY_DOUBLE_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        chars.append(char)
        index += 1
    return None


def legacy_differences(text: str, values: Mapping[str, str]) -> list[str]:
    """The keys whose value in ``values`` (what :func:`parse_dotenv` read from ``text``) is not
    what skclaw 0.1.0 read from the same text, in file order: a key read by one and missing
    from the other counts. Empty when 0.1.0 refused the file."""
    legacy = _parse_legacy(text)
    if legacy is None:
        return []
    differing = [key for key, value in legacy.items() if values.get(key) != value]
    differing += [key for key in values if key not in legacy]
    return differing
