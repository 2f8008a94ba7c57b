"""`skclaw init`: write a commented .skclaw.jsonc from the wrangler config."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from skclaw.cli import common_options, run_command
from skclaw.config import CONFIG_NAMES, validate_secret_name
from skclaw.context import AppContext
from skclaw.errors import Cancelled, ConfigError, RefusedError, UsageError
from skclaw.project import DEFAULT_ENV, load_project
from skclaw.results import InitResult

MOLTWORKER_REQUIRED = (
    "CLOUDFLARE_AI_GATEWAY_API_KEY",
    "CF_AI_GATEWAY_ACCOUNT_ID",
    "CF_AI_GATEWAY_GATEWAY_ID",
    "MOLTBOT_GATEWAY_TOKEN",
)
MOLTWORKER_OPTIONAL = ("CF_AI_GATEWAY_MODEL",)
# .wrangler/ holds wrangler's local state (D1 databases of `migrate`/`wrangler dev`, caches).
GITIGNORE_ENTRIES = (".dev.vars*", ".secrets/", ".skclaw/", ".wrangler/")
SOURCES = ("keyring", "vault", "envfile", "environ")


def render_config(
    *, envs: list[str], protected: list[str], source: str, env_sources: dict[str, str],
    required: list[str], optional: list[str], chosen_envs: list[str] | None = None,
) -> str:
    def arr(values: list[str]) -> str:
        return json.dumps(values)

    env_lines = [f'    {json.dumps(env)}: {{ "source": {json.dumps(src)} }},' for env, src in env_sources.items()]
    lines = [
        "// skclaw configuration (JSONC: comments and trailing commas are fine).",
        "// The wrangler config stays the source of truth for envs, Worker names and D1 bindings.",
        f"// Environments found: {', '.join(envs)}",
        "{",
        "  // The envs skclaw manages (--all-envs, doctor, status); \"default\" is the top level.",
        f'  "envs": {arr(chosen_envs)},' if chosen_envs is not None
        else f'  // "envs": {arr(envs)},',
        "",
        "  // Mutating steps here need consent (--yes in CI; --yes --confirm-env ENV when destructive).",
        f'  "protectedEnvironments": {arr(protected)},',
        "",
        "  // Run before `skclaw deploy` unless --skip-build, e.g. \"npm run build\".",
        '  // "build": "npm run build",',
        "",
        '  "secrets": {',
        "    // Pushed to every env, plus the env's own wrangler `secrets.required`.",
        f'    "required": {arr(required)},',
        f'    "optional": {arr(optional)},',
        "    // Where values live unless an environment says otherwise: keyring | vault | envfile | environ",
        f'    "source": {json.dumps(source)},',
        "  },",
        "",
        "  // Placeholders: {env} {worker} {project}. Tokens are never read from this file.",
        '  "sources": {',
        '    "keyring": { "service": "skclaw:{worker}" },',
        '    "vault": { "url": "http://127.0.0.1:8200", "mount": "secret", "path": "skclaw/{worker}" },',
        '    "envfile": { "path": ".secrets/{env}.env" },',
        '    "environ": { "prefix": "" },',
        "  },",
        "",
        '  "environments": {',
        *env_lines,
        "  },",
        "}",
        "",
    ]
    return "\n".join(lines)


def next_steps(envs: list[str], required: list[str], source: str, env_sources: dict[str, str],
               protected: Sequence[str] = ()) -> list[str]:
    """What to do after init, in order, with the commands (tried first on an unprotected env)."""
    first = next((e for e in envs if e not in protected), envs[0] if envs else DEFAULT_ENV)
    flag = "" if first == DEFAULT_ENV else f" --env {first}"
    lines = ["Next:"]
    if required:
        key = required[0]
        if env_sources.get(first, source) == "environ":
            lines.append(f"  1. export {key}=... in the environment skclaw runs in (for each required secret)")
        else:
            lines.append(f"  1. store each required secret: printf %s \"$VALUE\" | skclaw secrets set {key}{flag}")
    else:
        lines.append("  1. list the secret names the Worker needs under secrets.required in .skclaw.jsonc")
    lines.append("  2. skclaw doctor   (checks wrangler, your token and every env's secrets)")
    lines.append(f"  3. skclaw secrets sync{flag} --dry-run   (the plan, nothing changed), then without --dry-run")
    return lines


def update_gitignore(project_dir: Path) -> list[str]:
    path = project_dir / ".gitignore"
    existing = path.read_text("utf-8").splitlines() if path.exists() else []
    missing = [entry for entry in GITIGNORE_ENTRIES if entry not in existing]
    if missing:
        text = path.read_text("utf-8") if path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        text += "# skclaw: local secrets, audit trail, locks; wrangler's local state\n" + "\n".join(missing) + "\n"
        path.write_text(text, "utf-8")
    return missing


def _parse_env_sources(values: tuple[str, ...], envs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        env, sep, source = item.partition("=")
        if not sep or env not in envs or source not in SOURCES:
            raise UsageError(
                f"--env-source {item!r}: expected ENV=SOURCE with ENV in {', '.join(envs)} "
                f"and SOURCE in {', '.join(SOURCES)}."
            )
        parsed[env] = source
    return parsed


@click.command("init")
@common_options(env=False)
@click.option("--protected", "protected", multiple=True, metavar="ENV",
              help="A protected environment (repeatable; default: inferred from the env names).")
@click.option("--source", type=click.Choice(SOURCES), help="Default secret source [default: keyring].")
@click.option("--env-source", multiple=True, metavar="ENV=SOURCE", help="Source of one env (repeatable).")
@click.option("--required", multiple=True, metavar="KEY", help="A required secret (repeatable).")
@click.option("--optional", multiple=True, metavar="KEY", help="An optional secret (repeatable).")
@click.option("--moltworker-defaults", is_flag=True, help="Add the moltworker secrets to the manifest.")
@click.option("-e", "--env", "envs", multiple=True, metavar="ENV",
              help="Manage only this env (repeatable; written as `envs`) [default: every env].")
@run_command("init")
def init(app: AppContext, protected: tuple[str, ...], source: str | None, env_source: tuple[str, ...],
         required: tuple[str, ...], optional: tuple[str, ...], moltworker_defaults: bool,
         envs: tuple[str, ...]) -> InitResult:
    """Write .skclaw.jsonc for this Worker project (questions, or flags for scripts)."""
    try:
        app.config  # noqa: B018 - loads (and validates) the current .skclaw.jsonc
    except ConfigError as exc:
        # A broken .skclaw.jsonc is what init may be here to replace: read wrangler's config alone.
        app.output.warn(f"the current skclaw config is broken: {exc.message}")
        project = load_project(app.start_dir, None)
    else:
        project = app.project
    chosen = list(dict.fromkeys(envs)) or None
    for env in chosen or ():
        project.check_env(env)  # an env the wrangler config lacks (or an unnamed top level): exit 2
    all_envs = chosen or project.defined_envs
    del envs
    target = app.project_dir / CONFIG_NAMES[0]
    existing = [app.project_dir / n for n in CONFIG_NAMES if (app.project_dir / n).exists()]
    if existing:
        if app.interactive and not app.action.yes:
            from skclaw import prompts

            if not prompts.confirm(f"{existing[0].name} exists. Overwrite it?"):
                raise Cancelled(f"Cancelled; kept {existing[0].name} as it is, nothing was written.")
        elif not app.action.yes:
            raise RefusedError(
                f"{existing[0].name} already exists; nothing was written.",
                hint="Re-run with --yes to overwrite it.",
            )

    req = list(dict.fromkeys(required))
    opt = list(dict.fromkeys(optional))
    if moltworker_defaults:
        req = list(dict.fromkeys([*req, *MOLTWORKER_REQUIRED]))
        opt = list(dict.fromkeys([*opt, *MOLTWORKER_OPTIONAL]))
    env_sources = _parse_env_sources(env_source, all_envs)
    from skclaw import policy

    inferred = [e for e in policy.infer_protected(project.env_names) if e in all_envs]
    protected_envs = list(protected) or inferred
    default_source = source or "keyring"

    asked_anything = bool(protected or source or env_source or required or optional or moltworker_defaults
                          or chosen)
    if app.interactive and not asked_anything:
        from skclaw import prompts

        # The top level is an env only when there are no env blocks, or the user says so: a first
        # `doctor` then checks what the project really has.
        suggested = set(project.env_names) or set(project.defined_envs)
        picked_envs = prompts.checkbox("Environments of this project:", project.defined_envs, checked=suggested)
        if not picked_envs:
            raise UsageError("No environment was chosen; nothing was written.")
        chosen = all_envs = picked_envs
        inferred = [e for e in policy.infer_protected(project.env_names) if e in all_envs]
        protected_envs = prompts.checkbox("Protected environments:", all_envs, checked=set(inferred))
        default_source = prompts.select("Default secret source:", list(SOURCES), default="keyring")
        for env in all_envs:
            choice = prompts.select(f"Source for {env}:", list(SOURCES), default=default_source)
            if choice != default_source:
                env_sources[env] = choice
        names = prompts.text("Required secret names (comma-separated, empty for none):")
        req = list(dict.fromkeys(k.strip() for k in names.split(",") if k.strip()))
        names = prompts.text("Optional secret names (comma-separated, empty for none):")
        opt = [k for k in dict.fromkeys(k.strip() for k in names.split(",") if k.strip()) if k not in req]
    for name in [*req, *opt]:
        validate_secret_name(name, where="init")
    unknown = [e for e in protected_envs if e not in project.defined_envs]
    if unknown:
        raise UsageError(f"--protected names unknown environment(s) {', '.join(unknown)}; "
                         f"available: {', '.join(project.defined_envs)}.")

    text = render_config(envs=all_envs, protected=protected_envs, source=default_source,
                         env_sources=env_sources, required=req, optional=opt, chosen_envs=chosen)
    target.write_text(text, "utf-8")
    for path in existing:
        if path != target:
            path.unlink()
    ignored = update_gitignore(app.project_dir)
    return InitResult(
        path=str(target), environments=tuple(all_envs), protected_environments=tuple(protected_envs),
        source=default_source, environment_sources=env_sources, required=tuple(req), optional=tuple(opt),
        gitignore_added=tuple(ignored), protection_inferred=not protected and protected_envs == inferred,
        next_steps=tuple(next_steps(all_envs, req, default_source, env_sources, protected_envs)),
    )
