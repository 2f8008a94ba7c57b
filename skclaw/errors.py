"""Errors a user can cause or meet, each with its exit code from DESIGN.md.

Tracebacks are for bugs: everything a user can trigger is a ``SkclawError`` whose message says
what happened and, in ``hint``, what to do next.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skclaw.results import CommandResult


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    PARTIAL = 4
    DRIFT = 5  # `secrets status --check` only
    INTERRUPTED = 130


class SkclawError(Exception):
    """Base of every expected failure. ``kind`` is the JSON envelope's ``error.kind``."""

    exit_code: ExitCode = ExitCode.FAILED
    kind: str = "failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: what was done before the failure: audited, and the JSON envelope's ``result``
        self.partial_result: CommandResult | None = None

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class FailedError(SkclawError):
    """Exit 1: a wrangler call, the API, a source or a check failed."""


class UsageError(SkclawError):
    """Exit 2: bad input (usage, config, unknown env, invalid secret name or value)."""

    exit_code = ExitCode.USAGE
    kind = "usage"


class ConfigError(UsageError):
    """A broken .skclaw.jsonc or wrangler config."""


class RefusedError(SkclawError):
    """Exit 3: the safety policy refused, or consent was declined or could not be asked."""

    exit_code = ExitCode.REFUSED
    kind = "refused"


class Cancelled(RefusedError):
    """Exit 3: the user said no. Their own choice, not an error: shown without ``error:``."""


class SourceError(FailedError):
    """A secret source could not be read or written."""


class SourceUnavailableError(SourceError):
    """A secret source cannot work on this machine (missing backend, locked keyring, ...)."""


class InterruptedRun(SkclawError):
    exit_code = ExitCode.INTERRUPTED
    kind = "interrupted"


class WranglerError(FailedError):
    """wrangler exited non-zero, timed out or could not be started.

    ``code`` is the Cloudflare API error code (from ``[code: N]`` on stderr or wrangler's ND-JSON
    ``command-failed`` record); ``transient`` says whether retrying may help (429, 5xx, network).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        transient: bool = False,
        detail: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.transient = transient
        self.detail = detail


class WranglerNotFoundError(FailedError):
    """No usable wrangler executable."""
