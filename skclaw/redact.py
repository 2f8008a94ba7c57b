"""Masking of known secret values in any text skclaw prints, logs or relays.

Over-redacting is reversible, a leak is not: every value that enters skclaw as a secret is
registered here, and every line of output passes through :func:`redact`.
"""

from __future__ import annotations

import threading

MASK = "******"
# Very short values would mask ordinary words; they are still never printed by skclaw itself.
_MIN_LEN = 4

_lock = threading.Lock()
_known: set[str] = set()


def register(value: str) -> None:
    if len(value) < _MIN_LEN:
        return
    with _lock:
        _known.add(value)
        # wrangler trims trailing whitespace; mask what it may echo back too.
        stripped = value.strip()
        if len(stripped) >= _MIN_LEN:
            _known.add(stripped)
        for line in value.splitlines():
            if len(line.strip()) >= 8:
                _known.add(line.strip())


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_bytes(data: bytes) -> str:
    return redact(data.decode("utf-8", errors="replace"))


def forget_all() -> None:
    """For tests: start from an empty registry."""
    with _lock:
        _known.clear()
