"""`wrangler deploy`, `deployments status | list`, `rollback`, and their output."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from skclaw.errors import FailedError
from skclaw.wrangler.core import WranglerCore, WranglerResult, flag, json_after_logs, positional

CURRENT_VERSION_RE = re.compile(r"Current Version ID:\s*([0-9a-fA-F-]{32,36})")
TOTAL_UPLOAD_RE = re.compile(r"Total Upload:\s*([\d.]+ \w+)\s*/\s*gzip:\s*([\d.]+ \w+)")
# wrangler 4.x: `deploy --strict` turns its non-interactive "yes" to dashboard drift and to vars
# shadowing secrets into an abort (exit 1) instead of a silent overwrite.
STRICT_MINIMUM = (4, 0, 0)
# 4.86 says "deployment operation", newer 4.x "upload operation".
STRICT_ABORT_RE = re.compile(r"Aborting the \w+ operation because of conflicts")
# esbuild's bundling failed: nothing was uploaded.
#: wrangler's refusal of a deploy that lacks secrets of the config's `secrets.required`
REQUIRED_SECRETS_RE = re.compile(r"The following required secrets have not been set: ([^\n]+)")
BUILD_FAILED_RE = re.compile(r"Build failed with \d+ errors?")


def version_id_from(records_version: Any, stdout: str) -> str | None:
    """The new version: ND-JSON's ``version_id``, else `Current Version ID:` on stdout."""
    if isinstance(records_version, str) and records_version:
        return records_version
    match = CURRENT_VERSION_RE.search(stdout)
    if match and match[1].lower() != "null":
        return match[1]
    return None


class DeploymentCommands(WranglerCore):
    def deploy(self, env: str, *, message: str | None = None, secrets_file: Path | None = None) -> WranglerResult:
        args = ["deploy"]
        if self.version.at_least(*STRICT_MINIMUM):
            args.append("--strict")
        if message:
            args.append(flag("--message", message))
        if secrets_file is not None:
            args.append(flag("--secrets-file", str(secrets_file)))
        # No retry: a failed deploy may already have created a version; wrangler itself retries
        # the upload on 5xx.
        return self.call(args, env=env, what="wrangler deploy", retry=False)

    def deploy_dry_run(self, env: str, outdir: Path) -> WranglerResult:
        return self.call(["deploy", "--dry-run", flag("--outdir", str(outdir))], env=env,
                         what="wrangler deploy --dry-run", retry=False)

    def deployments_status(self, env: str) -> dict[str, Any]:
        """The live deployment, as the API returns it."""
        done = self.call(["deployments", "status", "--json"], env=env, what="wrangler deployments status")
        try:
            raw = json_after_logs(done.stdout, "{")
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            raise FailedError("wrangler deployments status printed no JSON object.")
        return raw

    def deployed_version(self, env: str) -> str | None:
        """The version at 100 % of the env's Worker (None during a split deployment)."""
        for item in self.deployments_status(env).get("versions") or []:
            if isinstance(item, dict) and float(item.get("percentage") or 0) >= 100:
                return str(item.get("version_id"))
        return None

    def deployments_list(self, env: str) -> list[dict[str, Any]]:
        done = self.call(["deployments", "list", "--json"], env=env, what="wrangler deployments list")
        try:
            raw = json_after_logs(done.stdout, "[")
        except ValueError:
            raise FailedError("wrangler deployments list printed no JSON list.") from None
        return [d for d in raw if isinstance(d, dict)] if isinstance(raw, list) else []

    def rollback(self, env: str, version_id: str, message: str | None) -> WranglerResult:
        args = ["rollback", positional(version_id, "version id")]
        if message:
            args.append(flag("--message", message))
        return self.call(args, env=env, what="wrangler rollback", retry=False)
