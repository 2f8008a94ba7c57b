"""Typed facade over the real wrangler CLI: the only place wrangler's argv and output formats are
known. :class:`Wrangler` is one executable bound to one project; its commands come from the
modules of this package (secrets, d1, deployments, versions) on top of :mod:`skclaw.wrangler.core`."""

from __future__ import annotations

from skclaw.wrangler.core import (
    INSTALL_HINT,
    MINIMUM_VERSION,
    WranglerResult,
    WranglerVersion,
    check_argv,
    classify_failure,
    error_summary,
    find_wrangler,
    flag,
    is_worker_not_found,
    positional,
    strip_ansi,
)
from skclaw.wrangler.d1 import D1Commands
from skclaw.wrangler.deployments import DeploymentCommands
from skclaw.wrangler.secrets import SecretCommands
from skclaw.wrangler.versions import VersionCommands


class Wrangler(SecretCommands, D1Commands, DeploymentCommands, VersionCommands):
    """wrangler, with every command skclaw uses."""


__all__ = [
    "INSTALL_HINT",
    "MINIMUM_VERSION",
    "Wrangler",
    "WranglerResult",
    "WranglerVersion",
    "check_argv",
    "classify_failure",
    "error_summary",
    "find_wrangler",
    "flag",
    "is_worker_not_found",
    "positional",
    "strip_ansi",
]
