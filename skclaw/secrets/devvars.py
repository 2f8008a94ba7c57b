"""`.dev.vars.<env>` files: what `wrangler dev` reads, written atomically with mode 0600."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from skclaw.project import DEFAULT_ENV
from skclaw.secrets.value import SecretValue


def dev_vars_path(config_dir: Path, env: str) -> Path:
    # wrangler dev loads .dev.vars.<env> for --env E, and .dev.vars for the top level.
    return config_dir / (".dev.vars" if env == DEFAULT_ENV else f".dev.vars.{env}")


def check_dev_vars_target(path: Path) -> None:
    """The file must be replaceable: a directory (or other non-file) there is bad input, found
    before any env's file is written."""
    from skclaw.errors import UsageError

    if path.is_symlink() or not path.exists():
        return  # a symlink is replaced, never followed
    if not path.is_file():
        raise UsageError(f"{path.name} exists and is not a file; skclaw writes the env's secrets there.",
                         hint=f"Move {path} away, then re-run.")


def write_dev_vars(path: Path, values: Mapping[str, SecretValue]) -> None:
    """Render first (a value the dialect cannot hold is exit 2 naming the key), then replace."""
    from skclaw.secrets.dotenv import format_dev_vars

    text = format_dev_vars({key: value.reveal() for key, value in values.items()})
    fd, tmp = tempfile.mkstemp(prefix=".dev.vars.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
