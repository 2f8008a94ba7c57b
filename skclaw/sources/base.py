"""The source interface and its registry."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from skclaw.errors import ConfigError, SourceError, SourceUnavailableError
from skclaw.secrets.value import SecretValue

ENTRY_POINT_GROUP = "skclaw.sources"

# name -> "module:Class"; imported lazily so `skclaw --help` never loads keyring or hvac.
BUILTIN_SOURCES: dict[str, str] = {
    "keyring": "skclaw.sources.keyring_source:KeyringSource",
    "vault": "skclaw.sources.vault:VaultSource",
    "envfile": "skclaw.sources.envfile:EnvfileSource",
    "environ": "skclaw.sources.environ:EnvironSource",
}


@dataclass(frozen=True)
class SourceContext:
    """What a source may use to find an environment's secrets.

    ``placeholders`` fills ``{env}``, ``{worker}`` and ``{project}`` in the source's settings.
    ``environ`` is the process environment (injected so tests need not touch os.environ).
    """

    env: str
    worker: str
    project_dir: Path
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def placeholders(self) -> dict[str, str]:
        return {"env": self.env, "worker": self.worker, "project": self.project_dir.name}

    def expand(self, template: str) -> str:
        import string

        try:
            # Plain names only: str.format would also follow "{env.attr}" and "{env[0]}".
            for _text, name, spec, conversion in string.Formatter().parse(template):
                if name is not None and (name not in self.placeholders or spec or conversion):
                    raise KeyError(name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else ""))
            return template.format(**self.placeholders)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"Bad placeholder in source setting {template!r}: {exc}",
                hint="Use only {env}, {worker} and {project}.",
            ) from None


class SecretSource(ABC):
    """One place that holds secret values for one environment.

    Implementations never put a value in an exception message, a log line or ``describe()``.
    """

    name: ClassVar[str]
    #: read(None) returns every key the source holds (vault, envfile); keyring/environ cannot.
    can_enumerate: ClassVar[bool] = False
    #: write() is supported.
    writable: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], context: SourceContext) -> None:
        self.settings = dict(settings)
        self.context = context

    @abstractmethod
    def describe(self) -> str:
        """Where the values live, for messages: e.g. ``vault http://127.0.0.1:8200 secret/skclaw/w``."""

    def unavailable_reason(self) -> str | None:
        """None when the source can work here, else why not and what to do (no network I/O
        beyond a cheap check)."""
        return None

    @abstractmethod
    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        """Values of ``keys`` that exist (absent keys are simply missing from the result).

        ``keys=None`` means every key the source holds, only when ``can_enumerate``.
        Raises SourceError / SourceUnavailableError with a message naming the location.
        """

    def write(self, key: str, value: SecretValue) -> None:
        """Store ``value`` under ``key``, keeping the previous value retrievable where the
        source can (vault KV v2 versions, a ``previous`` entry for keyring and envfile)."""
        raise SourceError(f"The {self.name} source is read-only: cannot store {key}.")

    def read_previous(self, key: str) -> SecretValue | None:
        """The value ``key`` had before the last write(), when the source keeps one."""
        return None

    def check(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise SourceUnavailableError(f"The {self.name} source cannot be used here: {reason}")


@cache
def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_source_names() -> list[str]:
    return sorted(set(BUILTIN_SOURCES) | set(_entry_points()))


def load_source_class(name: str) -> type[SecretSource]:
    if name in BUILTIN_SOURCES:
        module_name, _, class_name = BUILTIN_SOURCES[name].partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
    elif name in _entry_points():
        try:
            cls = _entry_points()[name].load()
        except Exception as exc:  # a broken plugin is the user's environment, not our bug
            raise SourceUnavailableError(
                f"The source plugin {name!r} failed to load: {type(exc).__name__}: {exc}"
            ) from None
    else:
        raise ConfigError(
            f"Unknown secret source {name!r}.",
            hint=f"Known sources: {', '.join(known_source_names())}.",
        )
    if not (isinstance(cls, type) and issubclass(cls, SecretSource)):
        raise SourceUnavailableError(f"The source plugin {name!r} is not a SecretSource.")
    return cls


def open_source(
    name: str, settings: Mapping[str, Any], context: SourceContext
) -> SecretSource:
    return load_source_class(name)(settings, context)
