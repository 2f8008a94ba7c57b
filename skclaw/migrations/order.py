"""Migration files as wrangler 4.86 sees them: their order, their bytes, their text."""

from __future__ import annotations

import hashlib
import os
import string
from pathlib import Path

from skclaw.errors import UsageError


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}",
            hint="Check the file exists and is readable.",
        ) from exc
    return digest.hexdigest()


# --- file order, as wrangler 4.86 applies it ---------------------------------------------------

# ECMAScript StrWhiteSpaceChar, which parseInt skips.
_JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


def _js_parse_int(text: str) -> float | None:
    """JavaScript ``parseInt(text)`` without a radix; ``None`` stands for NaN."""
    i = 0
    while i < len(text) and text[i] in _JS_WHITESPACE:
        i += 1
    sign = 1
    if i < len(text) and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    radix, digits = 10, string.digits
    if text[i : i + 2] in ("0x", "0X"):
        radix, digits, i = 16, string.hexdigits, i + 2
    j = i
    while j < len(text) and text[j] in digits:
        j += 1
    if j == i:
        return None
    try:
        return sign * float(int(text[i:j], radix))
    except OverflowError:  # JS gives Infinity
        return sign * float("inf")


def _utf16_key(name: str) -> bytes:
    # Array.prototype.toSorted() compares UTF-16 code units, not code points.
    return name.encode("utf-16-be", "surrogatepass")


def list_migration_files(migrations_dir: Path) -> list[str]:
    """Names of the migration files in the order wrangler 4.86 applies them.

    Like wrangler: every entry whose name ends in ``.sql``, sorted by name, then (stably) by
    ``parseInt`` of the part before the first ``_``. Names without a numeric prefix (NaN in
    wrangler, whose comparator then answers "equal" and leaves them where the engine's sort puts
    them) are placed after all numbered ones, in name order.
    """
    try:
        with os.scandir(migrations_dir) as entries:
            names = [entry.name for entry in entries if entry.name.endswith(".sql")]
    except FileNotFoundError as exc:
        raise UsageError(
            f"No migrations present at {migrations_dir}.",
            hint="Create the directory or set migrations_dir in the wrangler config.",
        ) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot read the migrations directory {migrations_dir}: {exc.strerror or exc}",
            hint="Check that migrations_dir in the wrangler config names a readable directory.",
        ) from exc
    names.sort(key=_utf16_key)

    def number_key(name: str) -> tuple[int, float]:
        number = _js_parse_int(name.split("_")[0])
        return (1, 0.0) if number is None else (0, number)

    names.sort(key=number_key)
    return names


def read_migration(migrations_dir: Path, name: str, role: str) -> str:
    """The text of migration ``name`` (``role``: "applied" or "pending", for messages).

    A name that is not a plain file name, a missing or unreadable file, bytes that are not UTF-8
    and a NUL are :class:`UsageError`: the lint cannot vouch for what it could not read.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(
            f"{role} migration name {name!r} is not a file name in {migrations_dir}",
            hint="Migration names are plain file names such as 0001_init.sql.",
        )
    path = migrations_dir / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        hint = (
            "The database lists it as applied; restore the file so its schema can be replayed."
            if role == "applied"
            else "Run the lint on the files that are in the migrations directory."
        )
        raise UsageError(f"{role} migration {name} is not in {migrations_dir}", hint=hint) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot read migration {name}: {exc.strerror or exc}",
            hint=f"Check {path} is a readable file.",
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"migration {name} is not valid UTF-8 (byte {exc.start})",
            hint="Save the file as UTF-8.",
        ) from exc
    if "\0" in text:
        raise UsageError(
            f"migration {name} contains a NUL character", hint="Remove it from the file."
        )
    return text
