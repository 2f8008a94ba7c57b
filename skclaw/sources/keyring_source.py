"""The ``keyring`` source: the OS keyring (macOS Keychain, Secret Service, Windows) via keyring.

Settings: ``service`` (default ``skclaw:{worker}``; placeholders allowed) and ``timeout`` (seconds
one keyring call may take, default 15). The username of an entry is the secret's name.

- ``keyring`` is imported only inside methods: ``skclaw --help`` never loads it.
- Backends that do not keep secrets safely or at all are refused with an instruction: the
  ``fail`` and ``null`` backends and the plaintext/file backends of keyrings.alt.
- A locked Secret Service collection is refused at once (SourceUnavailableError) instead of
  letting the backend raise an unlock prompt that a CI job or an SSH session would wait on;
  every keyring call is also bounded by ``timeout``.
- The value before a write that changed it is kept under the service ``<service>:previous``
  with the same username (``read_previous()``). Writing the value a key already has changes
  nothing. An empty value is stored and read back as ``""``.
- The keyring cannot list its entries: name the secrets in the config's manifest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar, TypeVar

from skclaw import redact
from skclaw.errors import SourceError, SourceUnavailableError, UsageError
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource

DEFAULT_SERVICE = "skclaw:{worker}"
PREVIOUS_SERVICE_SUFFIX = ":previous"
DEFAULT_TIMEOUT = 15.0

_T = TypeVar("_T")

_REFUSED_BACKENDS = {
    "keyring.backends.fail.Keyring": "no usable keyring backend was found",
    "keyring.backends.null.Keyring": "the null keyring backend stores nothing",
}
# keyrings.alt keeps secrets in files: in plain text, or encrypted with a password it asks for
# on the terminal (which would hang a CI job).
_REFUSED_MODULE_PREFIXES = ("keyrings.alt.file", "keyrings.alt.pyfs", "keyrings.alt.escape")
_INSTRUCTION = (
    "Install and unlock an OS keyring (macOS Keychain, or gnome-keyring / KWallet with the "
    "Secret Service on Linux), or choose another source with --source or `source` in "
    ".skclaw.jsonc (vault, envfile, environ)."
)


def _qualified_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class KeyringSource(SecretSource):
    name: ClassVar[str] = "keyring"
    can_enumerate: ClassVar[bool] = False
    writable: ClassVar[bool] = True

    @property
    def service(self) -> str:
        service = self.settings.get("service", DEFAULT_SERVICE)
        if not isinstance(service, str) or not service:
            raise UsageError("sources.keyring.service must be a non-empty string.")
        return self.context.expand(service)

    @property
    def previous_service(self) -> str:
        return self.service + PREVIOUS_SERVICE_SUFFIX

    @property
    def timeout(self) -> float:
        timeout = self.settings.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise UsageError("sources.keyring.timeout must be a positive number of seconds.")
        return float(timeout)

    def describe(self) -> str:
        return f"keyring service {self.service}"

    # -- availability --------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        try:
            import keyring
        except ImportError:
            return f"the keyring package is not installed. {_INSTRUCTION}"
        try:
            backend = self._bounded(keyring.get_keyring, "find the keyring backend")
        except SourceError as exc:
            return exc.message
        backends = _chained_backends(backend)
        if not backends:
            return f"no usable keyring backend was found. {_INSTRUCTION}"
        # The first backend is the one a write goes to.
        first = backends[0]
        reason = _refusal(first)
        if reason:
            return f"{reason}. {_INSTRUCTION}"
        for candidate in backends:
            if type(candidate).__module__ == "keyring.backends.SecretService":
                try:
                    problem = self._bounded(partial(_secret_service_problem, candidate), "check the Secret Service")
                except SourceError as exc:
                    return exc.message
                if problem:
                    return problem
        return None

    # -- reading and writing -------------------------------------------------------------------

    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        if keys is None:
            raise UsageError(
                "The keyring source cannot list its keys.",
                hint="Name the secrets in the config's secrets.required / secrets.optional.",
            )
        self.check()
        service = self.service
        found: dict[str, SecretValue] = {}
        for key in keys:
            value = self._get(service, key)
            if value is not None:
                found[key] = SecretValue(value)
        return found

    def read_previous(self, key: str) -> SecretValue | None:
        self.check()
        value = self._get(self.previous_service, key)
        return None if value is None else SecretValue(value)

    def write(self, key: str, value: SecretValue) -> None:
        self.check()
        service = self.service
        old = self._get(service, key)
        new = value.reveal()
        if old == new:
            return
        if old is not None:
            self._set(self.previous_service, key, old)
        self._set(service, key, new)

    # -- keyring calls -------------------------------------------------------------------------

    def _get(self, service: str, key: str) -> str | None:
        import keyring

        value = self._call(lambda: keyring.get_password(service, key), f"read {key} from {service}")
        if value is not None and not isinstance(value, str):
            raise SourceError(f"The keyring returned a non-text value for {key} in {service}.")
        return value

    def _set(self, service: str, key: str, value: str) -> None:
        import keyring

        self._call(lambda: keyring.set_password(service, key, value), f"store {key} in {service}")

    def _call(self, function: Callable[[], _T], action: str) -> _T:
        import keyring.errors

        try:
            return self._bounded(function, action)
        except keyring.errors.KeyringLocked:
            raise SourceUnavailableError(
                f"Cannot {action}: the keyring is locked.",
                hint="Unlock it (log in to the desktop session or unlock it in your keyring "
                "manager) and retry, or choose another source with --source.",
            ) from None
        except keyring.errors.NoKeyringError:
            raise SourceUnavailableError(f"Cannot {action}: no usable keyring backend.", hint=_INSTRUCTION) from None
        except SourceError:
            raise
        except Exception as exc:  # backends raise anything: D-Bus, OS and library errors
            detail = redact.redact(str(exc))
            raise SourceError(f"Cannot {action}: {type(exc).__name__}" + (f": {detail}" if detail else "")) from None

    def _bounded(self, function: Callable[[], _T], action: str) -> _T:
        """Run ``function`` with a deadline: a keyring backend that waits for an unlock prompt
        or a dead D-Bus peer must not hang skclaw. The worker thread is a daemon, so one left
        blocked does not keep the process alive."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function()
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="skclaw-keyring", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise SourceUnavailableError(
                f"Cannot {action}: the keyring did not answer within {self.timeout:g} s "
                "(is it waiting for an unlock prompt?).",
                hint="Unlock the keyring and retry, or choose another source with --source.",
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]  # type: ignore[no-any-return]


def _chained_backends(backend: Any) -> list[Any]:
    if type(backend).__module__ == "keyring.backends.chainer":
        return list(backend.backends)
    return [backend]


def _refusal(backend: Any) -> str | None:
    name = _qualified_name(backend)
    if name in _REFUSED_BACKENDS:
        return f"{_REFUSED_BACKENDS[name]} ({name})"
    if type(backend).__module__.startswith(_REFUSED_MODULE_PREFIXES):
        return f"the keyring backend {name} keeps secrets in a file, not in an OS keyring"
    return None


def _secret_service_problem(backend: Any) -> str | None:
    """Why the Secret Service collection the backend would use cannot be used without a prompt.

    keyring's SecretService backend calls ``collection.unlock()`` on a locked collection (and
    creates a missing default collection), both of which raise a desktop prompt and wait for it.
    """
    from contextlib import closing

    import secretstorage
    import secretstorage.exceptions

    try:
        with closing(secretstorage.dbus_init()) as connection:
            preferred = getattr(backend, "preferred_collection", None)
            collection = (
                secretstorage.Collection(connection, preferred) if preferred else secretstorage.Collection(connection)
            )
            if collection.is_locked():
                return (
                    "the Secret Service keyring is locked. Unlock it (log in to the desktop "
                    "session, or unlock the 'login' keyring in your keyring manager) and "
                    "retry, or choose another source with --source."
                )
    except secretstorage.exceptions.ItemNotFoundException:
        return (
            "the Secret Service has no default keyring collection. Create one (for example "
            "with seahorse), or choose another source with --source."
        )
    except (secretstorage.exceptions.SecretStorageException, OSError) as exc:
        return f"the Secret Service cannot be reached ({type(exc).__name__}: {exc}). {_INSTRUCTION}"
    return None
