"""The ``vault`` source: HashiCorp Vault or OpenBao, KV version 2, through hvac.

Settings (placeholders allowed in ``mount`` and ``path``):

- ``url`` (default ``http://127.0.0.1:8200``); ``VAULT_ADDR``, then ``BAO_ADDR``, override it.
- ``mount`` (default ``secret``) and ``path`` (default ``skclaw/{worker}``): one KV v2 secret per
  environment, one field per secret name.
- ``approle_mount`` (default ``approle``): where AppRole logs in.
- ``timeout`` (seconds per HTTP request, default 10). Requests are not retried.

The token is never read from the config (a ``token`` setting is a usage error). It comes from
``VAULT_TOKEN``, then ``BAO_TOKEN``, then ``~/.vault-token``, then an AppRole login with
``VAULT_ROLE_ID`` / ``VAULT_SECRET_ID``. ``VAULT_NAMESPACE`` (or ``BAO_NAMESPACE``) selects a
namespace; ``VAULT_CACERT`` / ``VAULT_SKIP_VERIFY`` (or the ``BAO_`` names) control TLS checks.

A write reads the secret, sets one field and writes it back with check-and-set, so other fields
are kept and KV keeps the previous version; ``read_previous()`` walks back through the versions
to the newest one where the field had another value. Writing the value a field already has
changes nothing. Field values that are not strings (written by other tools) read as JSON text.
The policy a token needs: ``read`` on ``<mount>/data/<path>`` to read, plus ``create`` and
``update`` to write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from skclaw import redact
from skclaw.errors import SourceError, SourceUnavailableError, UsageError
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource, SourceContext

DEFAULT_URL = "http://127.0.0.1:8200"
DEFAULT_MOUNT = "secret"
DEFAULT_PATH = "skclaw/{worker}"
DEFAULT_APPROLE_MOUNT = "approle"
DEFAULT_TIMEOUT = 10.0
# How many older versions read_previous() looks at (KV keeps 10 by default).
_MAX_VERSIONS_BACK = 50
_CAS_ATTEMPTS = 3

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Secret:
    data: dict[str, str]
    version: int  # 0 when there is no secret yet


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class VaultSource(SecretSource):
    name: ClassVar[str] = "vault"
    can_enumerate: ClassVar[bool] = True
    writable: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], context: SourceContext) -> None:
        super().__init__(settings, context)
        if "token" in self.settings:
            raise UsageError(
                "sources.vault.token is not allowed: a token in a config file ends up in git.",
                hint="Remove it and export VAULT_TOKEN (or BAO_TOKEN), or log in with "
                "`bao login` / `vault login`, which writes ~/.vault-token.",
            )
        self._client: Any = None

    # -- settings ------------------------------------------------------------------------------

    def _setting(self, key: str, default: str) -> str:
        value = self.settings.get(key, default)
        if not isinstance(value, str) or not value.strip("/"):
            raise UsageError(f"sources.vault.{key} must be a non-empty string.")
        return value

    @property
    def url(self) -> str:
        url = _first(self.context.environ, "VAULT_ADDR", "BAO_ADDR") or self._setting("url", DEFAULT_URL)
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"The Vault address {url!r} must start with http:// or https://.")
        return url.rstrip("/")

    @property
    def mount(self) -> str:
        return self.context.expand(self._setting("mount", DEFAULT_MOUNT)).strip("/")

    @property
    def path(self) -> str:
        return self.context.expand(self._setting("path", DEFAULT_PATH)).strip("/")

    @property
    def timeout(self) -> float:
        timeout = self.settings.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise UsageError("sources.vault.timeout must be a positive number of seconds.")
        return float(timeout)

    @property
    def api_path(self) -> str:
        """The path a policy names: ``<mount>/data/<path>``."""
        return f"{self.mount}/data/{self.path}"

    def describe(self) -> str:
        return f"vault {self.url} {self.mount}/{self.path}"

    def _token_file(self) -> Path:
        home = self.context.environ.get("HOME")
        return (Path(home) if home else Path.home()) / ".vault-token"

    def _token(self) -> str | None:
        token = _first(self.context.environ, "VAULT_TOKEN", "BAO_TOKEN")
        if token:
            return token
        try:
            token = self._token_file().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return token or None

    def _approle(self) -> tuple[str, str] | None:
        role_id = _first(self.context.environ, "VAULT_ROLE_ID", "BAO_ROLE_ID")
        secret_id = _first(self.context.environ, "VAULT_SECRET_ID", "BAO_SECRET_ID")
        return (role_id, secret_id) if role_id and secret_id else None

    def _verify(self) -> bool | str:
        environ = self.context.environ
        skip = _first(environ, "VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY")
        if skip and skip.lower() not in ("0", "false", "no"):
            return False
        return _first(environ, "VAULT_CACERT", "BAO_CACERT") or True

    # -- availability --------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        # Bad settings are bad input (exit 2) whether or not a token is at hand.
        _ = (self.url, self.mount, self.path, self.timeout)
        try:
            import hvac  # noqa: F401
        except ImportError:
            return "the hvac package is not installed (pip install hvac)."
        if self._token() is None and self._approle() is None:
            return (
                "no Vault token: export VAULT_TOKEN (or BAO_TOKEN), log in with `bao login` / "
                f"`vault login` (writes {self._token_file()}), or set VAULT_ROLE_ID and "
                "VAULT_SECRET_ID for an AppRole login."
            )
        return None

    # -- reading and writing -------------------------------------------------------------------

    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        secret = self._read_secret(version=None, expected=keys)
        wanted = secret.data if keys is None else {k: secret.data[k] for k in keys if k in secret.data}
        return {key: SecretValue(value) for key, value in wanted.items()}

    def read_previous(self, key: str) -> SecretValue | None:
        current = self._read_secret(version=None, expected=None, missing_ok=True)
        if key not in current.data:
            return None
        value = current.data[key]
        oldest = max(current.version - _MAX_VERSIONS_BACK, 1)
        for version in range(current.version - 1, oldest - 1, -1):
            older = self._read_secret(version=version, expected=None, missing_ok=True)
            if older.version == 0:  # pruned by max_versions: nothing older is left
                return None
            if not older.data and older.version < 0:  # deleted or destroyed version
                continue
            if key not in older.data:
                return None
            if older.data[key] != value:
                return SecretValue(older.data[key])
        return None

    def write(self, key: str, value: SecretValue) -> None:
        new = value.reveal()
        for _attempt in range(_CAS_ATTEMPTS):
            current = self._read_secret(version=None, expected=None, missing_ok=True)
            if current.data.get(key) == new:
                return
            data = {**current.data, key: new}
            if self._write_secret(data, cas=current.version):
                return
        raise SourceError(
            f"Cannot store {key} at {self.api_path} on {self.url}: the secret kept changing "
            f"while skclaw wrote it ({_CAS_ATTEMPTS} attempts).",
            hint="Retry when no one else is writing it.",
        )

    # -- hvac ----------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import hvac
        import hvac.exceptions

        reason = self.unavailable_reason()
        if reason:
            raise SourceUnavailableError(f"The vault source cannot be used here: {reason}")
        namespace = _first(self.context.environ, "VAULT_NAMESPACE", "BAO_NAMESPACE")
        token = self._token()
        client = hvac.Client(
            url=self.url,
            token=token or "",  # never let hvac read VAULT_TOKEN from os.environ itself
            namespace=namespace,
            timeout=self.timeout,
            verify=self._verify(),
        )
        if token is None:
            approle = self._approle()
            assert approle is not None  # unavailable_reason() said so
            mount = self._setting("approle_mount", DEFAULT_APPROLE_MOUNT).strip("/")
            try:
                self._request(
                    lambda: client.auth.approle.login(role_id=approle[0], secret_id=approle[1], mount_point=mount),
                    action=f"log in with AppRole at auth/{mount}",
                    needs=(),
                )
            except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath) as exc:
                raise SourceError(
                    f"AppRole login at auth/{mount} on {self.url} failed: {_vault_errors(exc)}.",
                    hint="Check VAULT_ROLE_ID / VAULT_SECRET_ID (a secret ID can expire or run "
                    "out of uses) and sources.vault.approle_mount.",
                ) from None
        self._client = client
        return client

    def _read_secret(self, *, version: int | None, expected: Sequence[str] | None, missing_ok: bool = False) -> _Secret:
        """The secret (at ``version``, default the newest). A missing secret is ``version 0``
        when ``missing_ok``; a deleted or destroyed version has empty data and ``version -1``."""
        import hvac.exceptions

        client = self._connect()
        try:
            response = self._request(
                lambda: client.secrets.kv.v2.read_secret_version(
                    path=self.path,
                    mount_point=self.mount,
                    version=version,
                    raise_on_deleted_version=False,
                ),
                action=f"read {self.api_path}",
                needs=("read",),
            )
        except hvac.exceptions.InvalidPath:
            if missing_ok:
                return _Secret({}, 0)
            message = f"No secret at {self.api_path} on {self.url}"
            if expected:
                message += f"; expected the keys {', '.join(expected)} there"
            raise SourceError(
                message + ".",
                hint="Store them with `skclaw secrets set KEY --env "
                f"{self.context.env} --source vault`, or check sources.vault.mount/path.",
            ) from None
        body = response.get("data") or {}
        data = body.get("data")
        metadata = body.get("metadata") or {}
        if data is None:  # a deleted or destroyed version
            if version is None and not missing_ok:
                raise SourceError(
                    f"The newest version of {self.api_path} on {self.url} is deleted.",
                    hint="Undelete it (`bao kv undelete`) or store the secrets again.",
                )
            return _Secret({}, -1 if version is not None else int(metadata.get("version", 0)))
        return _Secret({str(k): _as_text(v) for k, v in data.items()}, int(metadata.get("version", 0)))

    def _write_secret(self, data: dict[str, str], *, cas: int) -> bool:
        """Write ``data`` as a new version if the newest is still ``cas``; False if it is not."""
        import hvac.exceptions

        client = self._connect()
        try:
            self._request(
                lambda: client.secrets.kv.v2.create_or_update_secret(
                    path=self.path, secret=data, cas=max(cas, 0), mount_point=self.mount
                ),
                action=f"write {self.api_path}",
                needs=("read", "create", "update"),
            )
        except hvac.exceptions.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                return False
            raise SourceError(f"Cannot write {self.api_path} on {self.url}: {_vault_errors(exc)}.") from None
        return True

    def _request(self, call: Callable[[], _T], *, action: str, needs: tuple[str, ...]) -> _T:
        """Run one hvac call, turning transport and HTTP errors into SourceErrors that name the
        server and the path. InvalidPath (404) and InvalidRequest (400) pass through for the
        caller to explain."""
        import hvac.exceptions
        import requests.exceptions

        url = self.url
        try:
            return call()
        except (hvac.exceptions.InvalidPath, hvac.exceptions.InvalidRequest):
            raise
        except requests.exceptions.Timeout:
            raise SourceError(
                f"Cannot {action}: Vault at {url} did not answer within {self.timeout:g} s.",
                hint="Check VAULT_ADDR and that the server is up, or raise sources.vault.timeout.",
            ) from None
        except requests.exceptions.SSLError:
            raise SourceError(
                f"Cannot {action}: the TLS certificate of {url} was not accepted.",
                hint="Point VAULT_CACERT at the CA that signed it.",
            ) from None
        except requests.exceptions.ConnectionError:
            raise SourceError(
                f"Cannot {action}: Vault at {url} cannot be reached (connection failed).",
                hint="Check VAULT_ADDR (or sources.vault.url) and that the server is running.",
            ) from None
        except hvac.exceptions.Forbidden:
            if not needs:
                raise SourceError(f"Cannot {action} on {url}: permission denied (403).") from None
            quoted = ", ".join(f'"{capability}"' for capability in needs)
            raise SourceError(
                f"Cannot {action} on {url}: permission denied (403). The token's policies do "
                f"not grant {' + '.join(needs)} on {self.api_path}.",
                hint=f'Add to its policy: path "{self.api_path}" {{ capabilities = [{quoted}] }} '
                "(Vault also answers 403 when the token is expired or invalid).",
            ) from None
        except hvac.exceptions.Unauthorized:
            raise SourceError(
                f"Cannot {action} on {url}: the token was rejected (expired or invalid).",
                hint="Renew it: export a fresh VAULT_TOKEN or `bao login` / `vault login`.",
            ) from None
        except hvac.exceptions.VaultDown:
            raise SourceError(f"Cannot {action}: Vault at {url} is sealed or down.") from None
        except hvac.exceptions.VaultError as exc:
            raise SourceError(f"Cannot {action} on {url}: {_vault_errors(exc)}.") from None
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"Cannot {action} on {url}: {type(exc).__name__}.") from None


def _vault_errors(exc: Any) -> str:
    errors = getattr(exc, "errors", None)
    text = "; ".join(str(e) for e in errors) if errors else type(exc).__name__
    return redact.redact(text)
