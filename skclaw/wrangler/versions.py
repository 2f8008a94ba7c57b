"""`wrangler versions upload | deploy`: a new version that serves no traffic yet, and a traffic split.

`versions deploy` takes ``<id>@<percentage>`` specs and, with ``-y``, asks nothing (4.86 accepts the
defaults its prompts would show; 4.88+ skips them). Cloudflare splits traffic between at most two
versions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from skclaw.errors import FailedError
from skclaw.wrangler.core import WranglerCore, flag, positional, unreported

WORKER_VERSION_RE = re.compile(r"Worker Version ID:\s*([0-9a-fA-F-]{32,36})")
#: What `versions deploy` prints once the deployment exists (then its `version-deploy` record).
DEPLOYED_RE = re.compile(r"SUCCESS\W+Deployed ")
MAX_VERSIONS_PER_DEPLOYMENT = 2


def percent_text(percentage: float) -> str:
    """``10`` for 10.0, ``12.5`` for 12.5: what `versions deploy` reads after the ``@``."""
    return f"{percentage:.3f}".rstrip("0").rstrip(".")


class VersionCommands(WranglerCore):
    def versions_upload(self, env: str, *, message: str | None = None, secrets_file: Path | None = None) -> str:
        """Upload the env's code (and secrets) as a new version that serves nothing yet; its id."""
        args = ["versions", "upload"]
        if message:
            args.append(flag("--message", message))
        if secrets_file is not None:
            args.append(flag("--secrets-file", str(secrets_file)))
        # No retry: a failed upload may already have created a version (wrangler retries 5xx itself).
        done = self.call(args, env=env, what="wrangler versions upload", retry=False)
        record = done.record("version-upload") or {}
        version = record.get("version_id")
        if isinstance(version, str) and version:
            return version
        match = WORKER_VERSION_RE.search(done.stdout)
        if match:
            return match[1]
        raise FailedError("wrangler versions upload finished without reporting the new version's id.",
                          hint="`wrangler versions list` shows the versions of the Worker.")

    def versions_deploy(self, env: str, traffic: Sequence[tuple[str, float]], *, message: str | None = None) -> None:
        """Route traffic: ``[(version, percentage), ...]`` adding up to 100, at most two versions."""
        if not 1 <= len(traffic) <= MAX_VERSIONS_PER_DEPLOYMENT:
            raise ValueError(f"a deployment routes to 1 or {MAX_VERSIONS_PER_DEPLOYMENT} versions")
        if abs(sum(p for _, p in traffic) - 100.0) > 1e-6:
            raise ValueError("the percentages of a deployment add up to 100")
        args = ["versions", "deploy"]
        args += [positional(f"{version}@{percent_text(p)}", "version spec") for version, p in traffic]
        args.append("--yes")
        if message:
            args.append(flag("--message", message))
        # No retry: wrangler's POST may have landed; the caller re-reads the live deployment.
        done = self.call(args, env=env, what="wrangler versions deploy", retry=False)
        # Both signs come only once the deployment exists (see `unreported`).
        if done.record("version-deploy") is None and not DEPLOYED_RE.search(done.stdout):
            raise unreported(
                "wrangler versions deploy exited 0 without reporting the deployment (its process may have "
                f"been killed): whether traffic moved on {env} is unknown",
                done, hint=f"See what is live with `skclaw status --env {env}`.",
            )
