"""Secret sources: where an environment's secret values live (keyring, vault, envfile, environ).

Built-ins are named in ``BUILTIN_SOURCES`` and imported only when used; third-party sources are
entry points in the group ``skclaw.sources``, loaded only when named.
"""

from __future__ import annotations

from skclaw.sources.base import (
    BUILTIN_SOURCES,
    SecretSource,
    SourceContext,
    known_source_names,
    load_source_class,
    open_source,
)

__all__ = [
    "BUILTIN_SOURCES",
    "SecretSource",
    "SourceContext",
    "known_source_names",
    "load_source_class",
    "open_source",
]
