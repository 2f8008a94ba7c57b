"""Per-environment secret resolution: which source, which keys (the manifest), which values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from skclaw.config import validate_secret_name
from skclaw.context import AppContext
from skclaw.errors import SourceError, UsageError
from skclaw.project import EnvTarget
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource, SourceContext, open_source

MAX_VALUE_BYTES = 5 * 1024  # Cloudflare's limit for one secret


@dataclass
class EnvSecrets:
    env: str
    target: EnvTarget
    source: SecretSource
    required: list[str]
    optional: list[str]
    values: dict[str, SecretValue] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # held by the source, not in the manifest

    @property
    def manifest(self) -> list[str]:
        return [*self.required, *self.optional]

    @property
    def missing_required(self) -> list[str]:
        return [k for k in self.required if k not in self.values]

    @property
    def missing_optional(self) -> list[str]:
        return [k for k in self.optional if k not in self.values]

    @property
    def bad_values(self) -> list[str]:
        """Keys whose value must never be pushed: empty (an unset CI secret expands to ""),
        containing NUL, or not UTF-8 text."""
        return [f"{key} ({why})" for key, value in self.values.items() if (why := value_problem(value.reveal()))]


def value_problem(raw: str) -> str | None:
    if raw == "":
        return "empty"
    if "\0" in raw:
        return "contains a NUL character"
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes kept as surrogates
        return "not UTF-8 text"
    return None


def open_env_source(app: AppContext, target: EnvTarget, override: str | None = None) -> SecretSource:
    name = override or app.config.source_for(target.name)
    context = SourceContext(
        env=target.name, worker=target.worker, project_dir=app.project_dir, environ=app.environ
    )
    return open_source(name, app.config.source_settings(name), context)


def read_env_secrets(
    app: AppContext,
    env: str,
    *,
    source_override: str | None = None,
    only: Sequence[str] = (),
    enumerate_extra: bool = True,
) -> EnvSecrets:
    """Resolve an env's manifest and read its values. Raises on an unusable source; missing keys
    are reported by the caller (so it can name all of them at once)."""
    target = app.target(env)
    required, optional = app.manifest(target)
    for key in only:
        validate_secret_name(key, where="--only")
    source = open_env_source(app, target, source_override)
    source.check()
    if not required and not optional:
        if not source.can_enumerate:
            raise UsageError(
                f"No secrets manifest for {env}, and the {source.name} source cannot list its keys.",
                hint="List the names in secrets.required / secrets.optional of .skclaw.jsonc "
                "(or env.<E>.secrets.required in the wrangler config).",
            )
        values = source.read(None)
        for key in values:
            validate_secret_name(key, where=source.describe())
        required = sorted(values)
        extra: list[str] = []
    else:
        if source.can_enumerate and enumerate_extra:
            values = source.read(None)
            manifest = set(required) | set(optional)
            extra = sorted(k for k in values if k not in manifest)
            values = {k: v for k, v in values.items() if k in manifest}
        else:
            values = source.read([*required, *optional])
            extra = []
    if only:
        unknown = [k for k in only if k not in required and k not in optional]
        if unknown:
            raise UsageError(
                f"--only names keys that are not in the manifest of {env}: {', '.join(unknown)}."
            )
        required = [k for k in required if k in only]
        optional = [k for k in optional if k in only]
        values = {k: v for k, v in values.items() if k in only}
    for key, value in values.items():
        if len(value.reveal().encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:  # named even if not UTF-8
            raise UsageError(
                f"The value of {key} in {source.describe()} is larger than {MAX_VALUE_BYTES} bytes, "
                "Cloudflare's limit for a secret."
            )
    return EnvSecrets(
        env=env, target=target, source=source, required=required, optional=optional,
        values=values, extra=extra,
    )


def store_hint(sources: Sequence[Any], env: str = "ENV") -> str:
    """How to add missing secrets: `secrets set` writes a source, but not a read-only one."""
    read_only = sorted({s.name for s in sources if not getattr(s, "writable", True)})
    if read_only and len(read_only) == len({s.name for s in sources}):
        return (f"The {', '.join(read_only)} source is read-only: set them in the process environment "
                "(e.g. your CI's secret variables), then re-run.")
    hint = f"Store them with `skclaw secrets set KEY --env {env}` (or fix the source), then re-run."
    if read_only:
        hint += f" ({', '.join(read_only)} is read-only: set those in the process environment.)"
    return hint


def require_complete(secrets: EnvSecrets) -> None:
    if secrets.bad_values:
        raise UsageError(
            f"{secrets.env}: bad secret value(s) in {secrets.source.describe()}: {', '.join(secrets.bad_values)}; "
            "nothing was changed.",
            hint="An empty value is usually an unset CI secret; fix the value in the source.",
        )
    missing = secrets.missing_required
    if missing:
        raise SourceError(
            f"{secrets.env}: required secret(s) {', '.join(missing)} missing from {secrets.source.describe()}.",
            hint=store_hint([secrets.source], secrets.env),
        )
