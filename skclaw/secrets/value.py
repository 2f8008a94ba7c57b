"""A secret value that does not show itself.

``repr``, ``str``, f-strings, logging and tracebacks (which use ``repr`` for locals) all see a mask.
The only way to the value is ``reveal()``, and every reveal site is a place a reviewer should read.
Revealed values are registered with :mod:`skclaw.redact` so output is masked even if one slips.
"""

from __future__ import annotations

from typing import Any, NoReturn

from skclaw import redact

MASK = "******"


class SecretValue:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretValue wraps a str")
        object.__setattr__(self, "_value", value)
        redact.register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretValue):
            return bool(self._value == other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("SecretValue", self._value))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretValue cannot be pickled")
