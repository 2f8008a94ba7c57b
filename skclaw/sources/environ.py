"""The ``environ`` source: secrets from the process environment (CI jobs).

Settings: ``prefix`` (default ``""``; placeholders allowed): key ``K`` is read from the variable
``<prefix>K``. A variable that is set to the empty string is the value ``""``; an unset variable is
a missing key. Read-only, and it cannot list its keys: name them in the config's manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from skclaw.errors import SourceError, UsageError
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource


class EnvironSource(SecretSource):
    name: ClassVar[str] = "environ"
    can_enumerate: ClassVar[bool] = False
    writable: ClassVar[bool] = False

    @property
    def prefix(self) -> str:
        prefix = self.settings.get("prefix", "")
        if not isinstance(prefix, str):
            raise UsageError("sources.environ.prefix must be a string.")
        return self.context.expand(prefix)

    def describe(self) -> str:
        prefix = self.prefix
        return f"environment variables {prefix}*" if prefix else "environment variables"

    def variable_name(self, key: str) -> str:
        return self.prefix + key

    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        if keys is None:
            raise UsageError(
                "The environ source cannot list its keys.",
                hint="Name the secrets in the config's secrets.required / secrets.optional.",
            )
        environ = self.context.environ
        found: dict[str, SecretValue] = {}
        for key in keys:
            value = environ.get(self.variable_name(key))
            if value is not None:
                found[key] = SecretValue(value)
        return found

    def write(self, key: str, value: SecretValue) -> None:
        raise SourceError(
            f"The environ source is read-only: cannot store {key}.",
            hint=(
                f"Set {self.variable_name(key)} in the job's environment, or store the value in "
                "another source with --source keyring|vault|envfile."
            ),
        )
