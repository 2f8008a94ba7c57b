"""`wrangler secret list | bulk | put | delete`: values on stdin only, never in argv."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from skclaw.errors import UsageError, WranglerError
from skclaw.redact import redact
from skclaw.secrets.value import SecretValue
from skclaw.wrangler.core import WranglerCore, WranglerResult, flag, json_after_logs, positional, unreported

#: The line each write prints once the API has taken it (the same from 4.86 to the newest 4.x;
#: before 3.101 bulk's read "Finished processing secrets JSON file:"). `secret bulk` also exits 0
#: on input it could not read. A sync must not remember values as pushed without it.
BULK_DONE = "Finished processing secrets"
PUT_DONE = "Success! Uploaded secret "
DELETE_DONE = "Success! Deleted secret "


def confirmed(done: WranglerResult, marker: str, what: str, env: str) -> WranglerResult:
    """``done`` if its stdout carries the write's success line; otherwise a WranglerError."""
    if marker in done.stdout:
        return done
    raise unreported(
        f"{what} exited 0 without reporting success (its process may have been killed): whether the "
        f"change reached {env} is unknown. Run it again: sending the same values twice is harmless.",
        done,
    )


class SecretCommands(WranglerCore):
    def secret_names(self, env: str) -> list[str]:
        """Names of the secrets on the env's Worker. Raises WranglerError code 10007 if missing."""
        done = self.call(["secret", "list", flag("--format", "json")], env=env, what="wrangler secret list")
        try:
            data = json_after_logs(done.stdout, "[")
        except ValueError:
            raise WranglerError(
                "wrangler secret list printed no JSON list", detail=redact(done.stdout[:500])
            ) from None
        return sorted(str(item["name"]) for item in data if isinstance(item, dict) and "name" in item)

    def secret_bulk(
        self, env: str, values: Mapping[str, SecretValue], deletes: Sequence[str] = ()
    ) -> WranglerResult:
        """One `secret bulk` call: one new Worker version. Values as one JSON line on stdin."""
        if deletes and not self.version.bulk_null_deletes:
            raise ValueError("this wrangler cannot delete keys through secret bulk")
        payload: dict[str, str | None] = {key: value.reveal() for key, value in values.items()}
        payload.update({key: None for key in deletes})
        # One line: wrangler 4.86 concatenates stdin lines without a separator.
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        done = self.call(["secret", "bulk"], env=env, stdin=data, what="wrangler secret bulk")
        return confirmed(done, BULK_DONE, "wrangler secret bulk", env)

    def secret_put(self, env: str, key: str, value: SecretValue) -> WranglerResult:
        raw = value.reveal()
        if raw != raw.rstrip():
            raise UsageError(
                f"The value of {key} ends with whitespace, which `wrangler secret put` trims.",
                hint="Use --method bulk (the default), which sends the value exactly.",
            )
        done = self.call(
            ["secret", "put", positional(key, "secret name")], env=env, stdin=raw.encode("utf-8"),
            what=f"wrangler secret put {key}",
        )
        return confirmed(done, PUT_DONE + key, f"wrangler secret put {key}", env)

    def secret_delete(self, env: str, key: str) -> WranglerResult:
        done = self.call(["secret", "delete", positional(key, "secret name")], env=env,
                         what=f"wrangler secret delete {key}")
        return confirmed(done, DELETE_DONE + key, f"wrangler secret delete {key}", env)
