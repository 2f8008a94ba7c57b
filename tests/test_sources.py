"""Secret sources against their real backends: one contract every source passes, then what is
particular to each (how it fails, where it keeps the previous value, its settings).

Backends: gnome-keyring's Secret Service on a private D-Bus (keyring), an OpenBao dev server
(vault), files in a temporary project (envfile), a plain dict as the process environment
(environ). See tests/backends.py.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from skclaw.errors import SourceError, SourceUnavailableError, UsageError
from skclaw.secrets.dotenv import format_dotenv
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SecretSource, SourceContext, open_source
from skclaw.sources.envfile import EnvfileSource
from skclaw.sources.environ import EnvironSource
from skclaw.sources.keyring_source import KeyringSource
from skclaw.sources.vault import VaultSource

if TYPE_CHECKING:
    from tests.backends import OpenBao, SecretService



# Values no message may ever contain. Each test run gets fresh ones.
CANARY = f"canary-{secrets.token_hex(8)}"

AWKWARD: dict[str, str] = {
    "UNICODE": "pässwörd-密码-🔑-\u00a0-\u2028-end",
    "QUOTES": 'it\'s "double" and `tick`',
    "EQUALS": "a=b==c=",
    "NEWLINES": "line1\nline2\r\nline3\n",
    "BACKSLASHES": "C:\\path\\n\\t\\\\ \\",
    "SPACES": "  padded\t ",
    "HASH": "value # not a comment",
    "JSON": '{"k": [1, "two"], "s": "x=y"}',
    "DOLLAR": "$HOME ${X} $(id) `id`",
    "CANARY": CANARY,
}


def revealed(values: Mapping[str, SecretValue]) -> dict[str, str]:
    return {key: value.reveal() for key, value in values.items()}


def assert_no_secret(exc: BaseException, *values: str) -> None:
    text = f"{exc}\n{exc!r}"
    for value in (CANARY, *values):
        assert value not in text


@pytest.fixture
def worker() -> str:
    """A Worker name of its own for each test, so tests never see each other's secrets."""
    return f"w-{secrets.token_hex(6)}"


# ------------------------------------------------------------------------------- the contract


class SourceContract:
    """What every source promises. A subclass supplies the ``source`` fixture and ``seed``,
    which puts values into the backend without going through the source."""

    enumerates: ClassVar[bool]
    writable: ClassVar[bool] = True

    def seed(self, source: Any, values: dict[str, str]) -> None:
        raise NotImplementedError

    def test_declares_what_it_can_do(self, source: SecretSource) -> None:
        assert source.can_enumerate is self.enumerates
        assert source.writable is self.writable
        assert source.unavailable_reason() is None
        source.check()

    def test_reads_named_keys_and_omits_missing_ones(self, source: SecretSource) -> None:
        self.seed(source, {"ALPHA": "one", "BETA": "two", "GAMMA": "three"})
        values = source.read(["ALPHA", "GAMMA", "MISSING"])
        assert revealed(values) == {"ALPHA": "one", "GAMMA": "three"}

    def test_missing_key_is_absent_not_an_error(self, source: SecretSource) -> None:
        self.seed(source, {"PRESENT": "x"})
        assert source.read(["NOPE"]) == {}

    def test_awkward_values_read_back_exactly(self, source: SecretSource) -> None:
        self.seed(source, AWKWARD)
        assert revealed(source.read(list(AWKWARD))) == AWKWARD

    def test_empty_value_is_read_as_empty_string(self, source: SecretSource) -> None:
        self.seed(source, {"EMPTY": "", "OTHER": "x"})
        values = source.read(["EMPTY", "OTHER"])
        assert revealed(values) == {"EMPTY": "", "OTHER": "x"}

    def test_read_all_only_when_the_source_can_enumerate(self, source: SecretSource) -> None:
        self.seed(source, {"ALPHA": "one", "BETA": ""})
        if self.enumerates:
            assert revealed(source.read(None)) == {"ALPHA": "one", "BETA": ""}
        else:
            with pytest.raises(UsageError, match="cannot list its keys"):
                source.read(None)

    def test_results_and_description_do_not_show_values(self, source: SecretSource) -> None:
        self.seed(source, {"CANARY": CANARY})
        values = source.read(["CANARY"])
        assert CANARY not in repr(values) and CANARY not in str(values)
        assert CANARY not in source.describe()

    def test_open_source_by_name(self, source: SecretSource) -> None:
        reopened = open_source(source.name, source.settings, source.context)
        assert type(reopened) is type(source)


class ReadOnlySourceContract(SourceContract):
    writable = False

    def test_write_is_refused_without_the_value(self, source: SecretSource) -> None:
        with pytest.raises(SourceError, match="read-only") as caught:
            source.write("KEY", SecretValue(CANARY))
        assert_no_secret(caught.value)


class WritableSourceContract(SourceContract):
    """Writes: every value comes back exactly, other keys are kept, and the value before the
    last change stays retrievable."""

    writable = True

    def test_write_then_read(self, source: SecretSource) -> None:
        source.write("KEY", SecretValue("first"))
        assert revealed(source.read(["KEY"])) == {"KEY": "first"}

    def test_awkward_values_written_and_read_back(self, source: SecretSource) -> None:
        for key, value in AWKWARD.items():
            source.write(key, SecretValue(value))
        source.write("EMPTY", SecretValue(""))
        assert revealed(source.read([*AWKWARD, "EMPTY"])) == {**AWKWARD, "EMPTY": ""}

    def test_overwrite_keeps_the_previous_value(self, source: SecretSource) -> None:
        source.write("TOKEN", SecretValue("old\nvalue"))
        assert source.read_previous("TOKEN") is None
        source.write("TOKEN", SecretValue("new"))
        source.write("OTHER", SecretValue("unrelated"))  # a later write of another key
        assert revealed(source.read(["TOKEN"])) == {"TOKEN": "new"}
        previous = source.read_previous("TOKEN")
        assert previous is not None and previous.reveal() == "old\nvalue"

    def test_writing_the_same_value_keeps_the_previous_one(self, source: SecretSource) -> None:
        source.write("TOKEN", SecretValue("v1"))
        source.write("TOKEN", SecretValue("v2"))
        source.write("TOKEN", SecretValue("v2"))
        previous = source.read_previous("TOKEN")
        assert previous is not None and previous.reveal() == "v1"

    def test_write_keeps_other_keys(self, source: SecretSource) -> None:
        self.seed(source, {"KEEP": "kept", "CHANGE": "before"})
        source.write("CHANGE", SecretValue("after"))
        source.write("ADDED", SecretValue(""))
        values = revealed(source.read(["KEEP", "CHANGE", "ADDED"]))
        assert values == {"KEEP": "kept", "CHANGE": "after", "ADDED": ""}

    def test_empty_value_written_and_read_back(self, source: SecretSource) -> None:
        source.write("EMPTY", SecretValue(""))
        assert revealed(source.read(["EMPTY"])) == {"EMPTY": ""}
        source.write("EMPTY", SecretValue("now set"))
        previous = source.read_previous("EMPTY")
        assert previous is not None and previous.reveal() == ""


# ------------------------------------------------------------------------------------ environ


class TestEnvironSource(ReadOnlySourceContract):
    enumerates = False

    @pytest.fixture
    def source(self, worker: str, tmp_path: Path) -> EnvironSource:
        context = SourceContext("staging", worker, tmp_path, environ={"UNRELATED": "x"})
        return EnvironSource({"prefix": "PROD_"}, context)

    def seed(self, source: Any, values: dict[str, str]) -> None:
        environ = source.context.environ
        assert isinstance(environ, dict)
        environ.update({f"PROD_{key}": value for key, value in values.items()})

    def test_reads_only_prefixed_variables(self, source: EnvironSource) -> None:
        self.seed(source, {"A": "prefixed"})
        assert isinstance(source.context.environ, dict)
        source.context.environ["B"] = "not prefixed"
        assert revealed(source.read(["A", "B"])) == {"A": "prefixed"}
        assert source.variable_name("A") == "PROD_A"

    def test_unset_is_missing_and_empty_is_a_value(self, tmp_path: Path) -> None:
        context = SourceContext("staging", "w", tmp_path, environ={"SET_EMPTY": ""})
        source = EnvironSource({}, context)
        assert revealed(source.read(["SET_EMPTY", "UNSET"])) == {"SET_EMPTY": ""}

    def test_prefix_placeholders(self, tmp_path: Path) -> None:
        context = SourceContext("staging", "w", tmp_path, environ={"staging_K": "v"})
        source = EnvironSource({"prefix": "{env}_"}, context)
        assert revealed(source.read(["K"])) == {"K": "v"}
        assert "staging_" in source.describe()

    def test_write_is_refused_with_the_variable_to_set(self, source: EnvironSource) -> None:
        with pytest.raises(SourceError) as caught:
            source.write("KEY", SecretValue(CANARY))
        assert "PROD_KEY" in str(caught.value)
        assert_no_secret(caught.value)

    def test_read_previous_is_none(self, source: EnvironSource) -> None:
        self.seed(source, {"A": "x"})
        assert source.read_previous("A") is None


# ------------------------------------------------------------------------------------ envfile


class TestEnvfileSource(WritableSourceContract):
    enumerates = True

    @pytest.fixture
    def source(self, worker: str, tmp_path: Path) -> EnvfileSource:
        return EnvfileSource({}, SourceContext("staging", worker, tmp_path))

    def seed(self, source: Any, values: dict[str, str]) -> None:
        path = source.path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(format_dotenv(values), encoding="utf-8")
        path.chmod(0o600)

    def test_default_path(self, source: EnvfileSource, tmp_path: Path) -> None:
        assert source.path == tmp_path / ".secrets" / "staging.env"
        assert source.describe() == "envfile .secrets/staging.env"  # relative to the project

    def test_path_setting_with_placeholders_and_absolute(self, tmp_path: Path) -> None:
        context = SourceContext("prod", "demo-prod", tmp_path / "project")
        relative = EnvfileSource({"path": "env/{worker}.{env}"}, context)
        assert relative.path == tmp_path / "project" / "env" / "demo-prod.prod"
        absolute = EnvfileSource({"path": str(tmp_path / "x" / "{env}.env")}, context)
        assert absolute.path == tmp_path / "x" / "prod.env"

    def test_missing_file_says_how_to_create_it(self, source: EnvfileSource) -> None:
        with pytest.raises(SourceError) as caught:
            source.read(["A"])
        message = str(caught.value)
        assert str(source.path) in message
        assert "skclaw secrets set KEY --env staging --source envfile" in message
        assert source.read_previous("A") is None

    def test_write_creates_private_directories_and_file(self, source: EnvfileSource, tmp_path: Path) -> None:
        old_umask = os.umask(0o022)
        try:
            source.write("KEY", SecretValue("value"))
        finally:
            os.umask(old_umask)
        assert stat.S_IMODE(source.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(source.path.parent.stat().st_mode) == 0o700
        assert sorted(p.name for p in source.path.parent.iterdir()) == ["staging.env"]
        assert source.warnings == []

    def test_write_keeps_comments_order_and_formatting(self, source: EnvfileSource) -> None:
        self.seed(source, {})
        source.path.write_text(
            "# team secrets\nexport FIRST='one' # note\n\nSECOND=two\nTHIRD=\"3\"\n",
            encoding="utf-8",
        )
        source.write("SECOND", SecretValue("2"))
        source.write("FOURTH", SecretValue("4"))
        assert source.path.read_text(encoding="utf-8") == (
            "# team secrets\nexport FIRST='one' # note\n\n"
            "SECOND='2'\nSECOND__PREVIOUS='two'\nTHIRD=\"3\"\nFOURTH='4'\n"
        )

    def test_previous_values_are_not_listed_and_not_writable(self, source: EnvfileSource) -> None:
        source.write("A", SecretValue("1"))
        source.write("A", SecretValue("2"))
        assert revealed(source.read(None)) == {"A": "2"}
        assert revealed(source.read(["A__PREVIOUS"])) == {"A__PREVIOUS": "1"}
        with pytest.raises(UsageError, match="previous values"):
            source.write("B__PREVIOUS", SecretValue("x"))

    def test_loose_permissions_are_a_warning(self, source: EnvfileSource) -> None:
        self.seed(source, {"A": "1"})
        source.path.chmod(0o644)
        assert revealed(source.read(["A"])) == {"A": "1"}
        assert len(source.warnings) == 1
        assert "chmod 600" in source.warnings[0] and str(source.path) in source.warnings[0]
        source.read(["A"])
        assert len(source.warnings) == 1  # not repeated

    def test_duplicate_keys_are_a_warning_and_the_last_wins(self, source: EnvfileSource) -> None:
        self.seed(source, {})
        source.path.write_text(f"A={CANARY}\nA=last\n", encoding="utf-8")
        assert revealed(source.read(["A"])) == {"A": "last"}
        assert any("A is set more than once" in w for w in source.warnings)
        assert all(CANARY not in w for w in source.warnings)
        source.write("A", SecretValue("new"))
        assert source.path.read_text(encoding="utf-8") == "A='new'\nA__PREVIOUS='last'\n"

    def test_not_utf8_names_the_file_and_key_as_bad_input(self, source: EnvfileSource) -> None:
        self.seed(source, {})
        source.path.write_bytes(b"OK=fine\nA=caf\xe9\n")
        with pytest.raises(UsageError, match="not UTF-8") as caught:
            source.read(["A"])
        assert str(source.path) in str(caught.value) and "the value of A" in str(caught.value)
        assert "line 2" in str(caught.value) and caught.value.exit_code == 2

    def test_syntax_error_names_file_and_line_not_value(self, source: EnvfileSource) -> None:
        self.seed(source, {})
        source.path.write_text(f"A=1\n\nthis is {CANARY}\n", encoding="utf-8")
        with pytest.raises(UsageError) as caught:
            source.read(["A"])
        assert f"{source.path}, line 3" in str(caught.value)
        assert_no_secret(caught.value)
        with pytest.raises(UsageError):  # a broken file is never overwritten
            source.write("A", SecretValue("2"))
        assert CANARY in source.path.read_text(encoding="utf-8")

    def test_write_through_a_symlink_updates_its_target(self, source: EnvfileSource, tmp_path: Path) -> None:
        target = tmp_path / "elsewhere.env"
        target.write_text("A=1\n", encoding="utf-8")
        source.path.parent.mkdir(mode=0o700)
        source.path.symlink_to(target)
        source.write("A", SecretValue("2"))
        assert source.path.is_symlink()
        assert target.read_text(encoding="utf-8") == "A='2'\nA__PREVIOUS='1'\n"

    def test_a_directory_is_not_a_secrets_file(self, source: EnvfileSource) -> None:
        source.path.mkdir(parents=True)
        with pytest.raises(SourceError, match="is a directory"):
            source.read(["A"])


# ------------------------------------------------------------------------------------ keyring


@contextmanager
def keyring_backend(backend: Any) -> Iterator[None]:
    import keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _backend_class(module: str, name: str, **methods: Any) -> Any:
    from keyring.backend import KeyringBackend

    def unsupported(self: Any, *args: Any) -> None:
        raise NotImplementedError

    namespace = {
        "__module__": module,
        "priority": 1,
        "get_password": unsupported,
        "set_password": unsupported,
        "delete_password": unsupported,
        **methods,
    }
    return type(name, (KeyringBackend,), namespace)


@pytest.mark.keyring
class TestKeyringSource(WritableSourceContract):
    enumerates = False

    @pytest.fixture
    def source(self, secret_service: SecretService, worker: str, tmp_path: Path) -> KeyringSource:
        return KeyringSource({}, SourceContext("staging", worker, tmp_path))

    def seed(self, source: Any, values: dict[str, str]) -> None:
        import keyring

        for key, value in values.items():
            keyring.set_password(source.service, key, value)

    def test_service_and_previous_service(self, source: KeyringSource, worker: str) -> None:
        import keyring

        assert source.service == f"skclaw:{worker}"
        source.write("A", SecretValue("1"))
        source.write("A", SecretValue("2"))
        assert keyring.get_password(f"skclaw:{worker}", "A") == "2"
        assert keyring.get_password(f"skclaw:{worker}:previous", "A") == "1"

    def test_service_setting(self, secret_service: SecretService, tmp_path: Path) -> None:
        source = KeyringSource({"service": "team:{env}:{project}"}, SourceContext("prod", "w", tmp_path / "proj"))
        assert source.service == "team:prod:proj"

    def test_locked_keyring_fails_fast(self, source: KeyringSource, secret_service: SecretService) -> None:
        self.seed(source, {"A": "1"})
        secret_service.lock()
        try:
            started = time.monotonic()
            with pytest.raises(SourceUnavailableError, match="locked") as caught:
                source.read(["A"])
            assert_no_secret(caught.value)
            with pytest.raises(SourceUnavailableError, match="locked") as caught:
                source.write("A", SecretValue(CANARY))
            assert_no_secret(caught.value)
            assert time.monotonic() - started < 5
            assert "locked" in (source.unavailable_reason() or "")
        finally:
            secret_service.unlock()
        assert revealed(source.read(["A"])) == {"A": "1"}

    @pytest.mark.parametrize(
        ("backend", "expected"),
        [
            ("keyring.backends.fail.Keyring", "no usable keyring backend"),
            ("keyring.backends.null.Keyring", "stores nothing"),
            ("keyrings.alt.file.PlaintextKeyring", "keeps secrets in a file"),
            ("keyrings.alt.file.EncryptedKeyring", "keeps secrets in a file"),
        ],
    )
    def test_refused_backends(self, source: KeyringSource, backend: str, expected: str) -> None:
        module, _, name = backend.rpartition(".")
        if module.startswith("keyrings.alt"):
            instance = _backend_class(module, name)()
        else:
            import importlib

            instance = getattr(importlib.import_module(module), name)()
        with keyring_backend(instance):
            reason = source.unavailable_reason()
            assert reason is not None and expected in reason
            assert "--source" in reason
            with pytest.raises(SourceUnavailableError, match=expected):
                source.read(["A"])
            with pytest.raises(SourceUnavailableError) as caught:
                source.write("A", SecretValue(CANARY))
            assert_no_secret(caught.value)

    def test_a_keyring_that_does_not_answer_is_bounded(self, tmp_path: Path) -> None:
        release = threading.Event()

        def get_password(self: Any, service: str, username: str) -> str | None:
            release.wait(30)
            return None

        backend = _backend_class("tests.hanging", "HangingKeyring", get_password=get_password)()
        source = KeyringSource({"timeout": 0.3}, SourceContext("staging", "w", tmp_path))
        with keyring_backend(backend):
            started = time.monotonic()
            try:
                with pytest.raises(SourceUnavailableError, match="did not answer"):
                    source.read(["A"])
            finally:
                release.set()
            assert time.monotonic() - started < 3

    def test_backend_errors_become_source_errors_without_values(self, tmp_path: Path) -> None:
        def set_password(self: Any, service: str, username: str, password: str) -> None:
            raise RuntimeError(f"backend exploded while storing {password}")

        def get_password(self: Any, service: str, username: str) -> str | None:
            return None

        backend = _backend_class(
            "tests.broken", "BrokenKeyring", get_password=get_password, set_password=set_password
        )()
        source = KeyringSource({}, SourceContext("staging", "w", tmp_path))
        with keyring_backend(backend), pytest.raises(SourceError, match="RuntimeError") as caught:
            source.write("A", SecretValue(CANARY))
        assert_no_secret(caught.value)


# -------------------------------------------------------------------------------------- vault

READ_ONLY_POLICY = 'path "secret/data/skclaw/*" { capabilities = ["read"] }'
READ_WRITE_POLICY = 'path "secret/data/skclaw/*" { capabilities = ["read", "create", "update"] }'


def vault_context(openbao: OpenBao, worker: str, tmp_path: Path, **environ: str) -> SourceContext:
    env = {"VAULT_ADDR": openbao.url, "VAULT_TOKEN": openbao.root_token, "HOME": str(tmp_path)}
    env.update(environ)
    return SourceContext("staging", worker, tmp_path, environ={k: v for k, v in env.items() if v})


@pytest.mark.vault
class TestVaultSource(WritableSourceContract):
    enumerates = True

    @pytest.fixture
    def source(self, openbao: OpenBao, worker: str, tmp_path: Path) -> VaultSource:
        return VaultSource({}, vault_context(openbao, worker, tmp_path))

    def seed(self, source: Any, values: dict[str, str]) -> None:
        import hvac

        client = hvac.Client(url=source.url, token=source.context.environ["VAULT_TOKEN"])
        client.secrets.kv.v2.create_or_update_secret(path=source.path, secret=values, mount_point=source.mount)

    def test_location(self, source: VaultSource, openbao: OpenBao, worker: str) -> None:
        assert source.url == openbao.url
        assert (source.mount, source.path) == ("secret", f"skclaw/{worker}")
        assert source.api_path == f"secret/data/skclaw/{worker}"
        assert source.describe() == f"vault {openbao.url} secret/skclaw/{worker}"

    def test_write_creates_a_new_version_and_keeps_fields_of_other_tools(
        self, source: VaultSource, openbao: OpenBao, worker: str
    ) -> None:
        openbao.put(f"skclaw/{worker}", {"OTHER_TOOL": "kept"})
        source.write("MINE", SecretValue("v"))
        assert openbao.current_version(f"skclaw/{worker}") == 2
        assert revealed(source.read(None)) == {"OTHER_TOOL": "kept", "MINE": "v"}
        source.write("MINE", SecretValue("v"))  # unchanged: no new version
        assert openbao.current_version(f"skclaw/{worker}") == 2

    def test_non_string_fields_read_as_json(self, source: VaultSource, openbao: OpenBao, worker: str) -> None:
        openbao.client().secrets.kv.v2.create_or_update_secret(
            path=f"skclaw/{worker}", secret={"PORT": 8080, "FLAGS": {"a": True}}
        )
        assert revealed(source.read(None)) == {"PORT": "8080", "FLAGS": '{"a": true}'}

    def test_token_in_the_config_is_refused(self, openbao: OpenBao, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="VAULT_TOKEN"):
            VaultSource({"token": CANARY}, vault_context(openbao, "w", tmp_path))

    def test_no_token_is_unavailable(self, openbao: OpenBao, tmp_path: Path) -> None:
        context = vault_context(openbao, "w", tmp_path, VAULT_TOKEN="")
        source = VaultSource({}, context)
        reason = source.unavailable_reason()
        assert reason is not None and "VAULT_TOKEN" in reason
        with pytest.raises(SourceUnavailableError, match="no Vault token"):
            source.read(["A"])

    @pytest.mark.parametrize("settings", [{"url": "ftp://vault"}, {"timeout": -1}, {"mount": ""}])
    def test_bad_settings_are_bad_input_even_without_a_token(
        self, settings: dict[str, object], openbao: OpenBao, tmp_path: Path
    ) -> None:
        context = vault_context(openbao, "w", tmp_path, VAULT_TOKEN="", VAULT_ADDR="")
        source = VaultSource(settings, context)
        with pytest.raises(UsageError) as info:
            source.check()
        assert info.value.exit_code == 2

    def test_address_and_token_precedence(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        openbao.put(f"skclaw/{worker}", {"A": "1"})
        bao_names = SourceContext(
            "staging",
            worker,
            tmp_path,
            environ={"BAO_ADDR": openbao.url, "BAO_TOKEN": openbao.root_token},
        )
        source = VaultSource({"url": "http://127.0.0.1:1"}, bao_names)
        assert source.url == openbao.url
        assert revealed(source.read(["A"])) == {"A": "1"}

    def test_token_file_in_home(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        openbao.put(f"skclaw/{worker}", {"A": "1"})
        (tmp_path / ".vault-token").write_text(openbao.root_token + "\n")
        context = vault_context(openbao, worker, tmp_path, VAULT_TOKEN="")
        assert revealed(VaultSource({}, context).read(["A"])) == {"A": "1"}

    def test_approle_login(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        openbao.put(f"skclaw/{worker}", {"A": "1"})
        role_id, secret_id = openbao.approle(READ_WRITE_POLICY)
        context = vault_context(
            openbao,
            worker,
            tmp_path,
            VAULT_TOKEN="",
            VAULT_ROLE_ID=role_id,
            VAULT_SECRET_ID=secret_id,
        )
        source = VaultSource({}, context)
        assert revealed(source.read(["A"])) == {"A": "1"}
        source.write("B", SecretValue("2"))
        bad = vault_context(openbao, worker, tmp_path, VAULT_TOKEN="", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID="nope")
        with pytest.raises(SourceError, match="AppRole"):
            VaultSource({}, bad).read(["A"])

    def test_namespace(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        namespace = openbao.namespace()
        context = vault_context(openbao, worker, tmp_path, VAULT_NAMESPACE=namespace)
        VaultSource({}, context).write("A", SecretValue("in the namespace"))
        assert revealed(VaultSource({}, context).read(["A"])) == {"A": "in the namespace"}
        root = VaultSource({}, vault_context(openbao, worker, tmp_path))
        with pytest.raises(SourceError, match="No secret at"):
            root.read(["A"])

    def test_server_down_fails_fast_naming_the_url(self, worker: str, tmp_path: Path) -> None:
        from tests.backends import closed_port

        url = f"http://127.0.0.1:{closed_port()}"
        context = SourceContext("staging", worker, tmp_path, environ={"VAULT_ADDR": url, "VAULT_TOKEN": "t"})
        source = VaultSource({}, context)
        started = time.monotonic()
        with pytest.raises(SourceError, match="cannot be reached") as caught:
            source.read(["A"])
        assert url in str(caught.value)
        with pytest.raises(SourceError) as caught:
            source.write("A", SecretValue(CANARY))
        assert url in str(caught.value)
        assert_no_secret(caught.value)
        assert time.monotonic() - started < 5

    def test_forbidden_names_the_path_and_the_capability(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        openbao.put(f"skclaw/{worker}", {"A": CANARY})
        token = openbao.create_token('path "secret/data/elsewhere/*" { capabilities = ["read"] }')
        source = VaultSource({}, vault_context(openbao, worker, tmp_path, VAULT_TOKEN=token))
        with pytest.raises(SourceError, match="permission denied") as caught:
            source.read(["A"])
        message = str(caught.value)
        assert f'path "secret/data/skclaw/{worker}"' in message
        assert '"read"' in message
        assert_no_secret(caught.value)

        reader = openbao.create_token(READ_ONLY_POLICY)
        source = VaultSource({}, vault_context(openbao, worker, tmp_path, VAULT_TOKEN=reader))
        assert revealed(source.read(["A"])) == {"A": CANARY}
        with pytest.raises(SourceError, match="permission denied") as caught:
            source.write("A", SecretValue(f"new-{CANARY}"))
        assert '"create", "update"' in str(caught.value)
        assert_no_secret(caught.value, f"new-{CANARY}")

    def test_missing_secret_lists_the_expected_keys(self, source: VaultSource, worker: str) -> None:
        with pytest.raises(SourceError) as caught:
            source.read(["API_TOKEN", "DB_URL"])
        message = str(caught.value)
        assert f"No secret at secret/data/skclaw/{worker}" in message
        assert "API_TOKEN, DB_URL" in message
        assert source.url in message
        with pytest.raises(SourceError, match="No secret at"):
            source.read(None)
        assert source.read_previous("API_TOKEN") is None

    def test_rejected_token(self, openbao: OpenBao, worker: str, tmp_path: Path) -> None:
        source = VaultSource({}, vault_context(openbao, worker, tmp_path, VAULT_TOKEN="bogus"))
        # Vault answers 403 for an unknown token too, so the message says both.
        with pytest.raises(SourceError, match=r"permission denied \(403\)") as caught:
            source.read(["A"])
        assert "expired or invalid" in str(caught.value)

    def test_previous_skips_versions_that_changed_other_keys(self, source: VaultSource) -> None:
        source.write("A", SecretValue("a1"))
        source.write("B", SecretValue("b1"))
        source.write("A", SecretValue("a2"))
        source.write("B", SecretValue("b2"))
        source.write("C", SecretValue("c1"))
        previous = source.read_previous("A")
        assert previous is not None and previous.reveal() == "a1"
        assert source.read_previous("C") is None


# ------------------------------------------------------------------------------ import costs


def test_source_modules_do_not_import_their_libraries_at_import_time() -> None:
    code = (
        "import sys\n"
        "import skclaw.sources.keyring_source, skclaw.sources.vault\n"
        "import skclaw.sources.envfile, skclaw.sources.environ, skclaw.secrets.dotenv\n"
        "loaded = [m for m in ('keyring', 'hvac', 'secretstorage', 'requests', 'jeepney')"
        " if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
