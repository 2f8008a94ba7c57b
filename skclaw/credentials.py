"""Where wrangler will find Cloudflare credentials (names and paths only, never values)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from skclaw.errors import FailedError
from skclaw.project import DEFAULT_ENV
from skclaw.secrets.dotenv import parse_dotenv

LOGIN_HINT = "Set CLOUDFLARE_API_TOKEN (CI) or run `wrangler login`."


def dotenv_names(directory: Path, env: str) -> set[str]:
    """Variable names in the `.env*` files wrangler loads into its own environment, read with
    wrangler's own parser (skclaw.secrets.dotenv); the values are not kept."""
    files = [".env", ".env.local"]
    if env != DEFAULT_ENV:
        files += [f".env.{env}", f".env.{env}.local"]
    names: set[str] = set()
    for name in files:
        try:
            text = (directory / name).read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        names.update(parse_dotenv(text, filename=name, strict=False).values)
    return names


def oauth_state(environ: Mapping[str, str]) -> Path | None:
    home = Path(environ.get("HOME") or Path.home())
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    for base in (home / ".wrangler", xdg / ".wrangler"):
        candidate = base / "config" / "default.toml"
        if candidate.is_file():
            return candidate
    return None


def credentials_origin(environ: Mapping[str, str], wrangler_cwd: Path, env: str) -> str | None:
    """Where wrangler will find credentials, or None: API token, API key + email (in our
    environment or a `.env*` file wrangler loads), or the OAuth state of `wrangler login`."""
    for names, where in (
        (set(k for k, v in environ.items() if v), "environment"),
        (dotenv_names(wrangler_cwd, env), ".env file"),
    ):
        if "CLOUDFLARE_API_TOKEN" in names or "CF_API_TOKEN" in names:
            return f"API token ({where})"
        if {"CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL"} <= names:
            return f"API key and email ({where})"
    oauth = oauth_state(environ)
    return f"wrangler login ({oauth})" if oauth else None


def require_credentials(environ: Mapping[str, str], wrangler_cwd: Path, env: str, *, outcome: str,
                        hint: str = "") -> str:
    """Where the credentials come from; without any, exit 1 before wrangler runs. ``outcome``
    says what did not happen ("nothing was deployed")."""
    origin = credentials_origin(environ, wrangler_cwd, env)
    if origin is None:
        raise FailedError(
            "wrangler has no Cloudflare credentials: no CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY and "
            f"CLOUDFLARE_EMAIL) and no `wrangler login` state; {outcome}.",
            hint=" ".join(part for part in (LOGIN_HINT, hint) if part),
        )
    return origin
