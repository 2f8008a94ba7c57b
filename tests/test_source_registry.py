"""Source registry: built-ins by name, third-party sources from entry points, loaded lazily."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest

from skclaw.errors import ConfigError, SourceUnavailableError
from skclaw.secrets.value import SecretValue
from skclaw.sources import base
from skclaw.sources.base import SecretSource, SourceContext, known_source_names, open_source


class MemorySource(SecretSource):
    name = "memory"
    can_enumerate = True
    store: ClassVar[dict[str, str]] = {"PLUGIN_KEY": "plugin-value-123"}

    def describe(self) -> str:
        return "memory (test plugin)"

    def read(self, keys: Sequence[str] | None) -> dict[str, SecretValue]:
        wanted = self.store if keys is None else {k: self.store[k] for k in keys if k in self.store}
        return {k: SecretValue(v) for k, v in wanted.items()}


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> dict[str, EntryPoint]:
    module = type(sys)("skclaw_test_plugin")
    module.MemorySource = MemorySource  # type: ignore[attr-defined]
    module.NotASource = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "skclaw_test_plugin", module)
    points = {
        "memory": EntryPoint("memory", "skclaw_test_plugin:MemorySource", base.ENTRY_POINT_GROUP),
        "bogus": EntryPoint("bogus", "skclaw_test_plugin:NotASource", base.ENTRY_POINT_GROUP),
        "broken": EntryPoint("broken", "skclaw_missing_module:Thing", base.ENTRY_POINT_GROUP),
    }
    monkeypatch.setattr(base, "_entry_points", lambda: points)
    return points


def context(tmp_path: Path) -> SourceContext:
    return SourceContext(env="staging", worker="w-staging", project_dir=tmp_path, environ={})


def test_builtins_are_not_imported_until_named(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from skclaw.sources.base import SourceContext, known_source_names, open_source\n"
        "assert {'keyring', 'vault', 'envfile', 'environ'} <= set(known_source_names())\n"
        "assert 'skclaw.sources.vault' not in sys.modules and 'hvac' not in sys.modules\n"
        "ctx = SourceContext(env='staging', worker='w', project_dir=Path('.'), environ={})\n"
        "assert open_source('environ', {}, ctx).name == 'environ'\n"
        "assert 'skclaw.sources.vault' not in sys.modules and 'keyring' not in sys.modules\n"
        "print('LAZY-OK')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.strip() == "LAZY-OK", done.stderr


def test_entry_point_plugins_load_when_named(plugin: dict[str, EntryPoint], tmp_path: Path) -> None:
    assert {"memory", "bogus", "broken"} <= set(known_source_names())
    source = open_source("memory", {}, context(tmp_path))
    assert source.read(["PLUGIN_KEY"])["PLUGIN_KEY"].reveal() == "plugin-value-123"
    with pytest.raises(SourceUnavailableError, match="not a SecretSource"):
        open_source("bogus", {}, context(tmp_path))
    with pytest.raises(SourceUnavailableError, match="failed to load"):
        open_source("broken", {}, context(tmp_path))
    with pytest.raises(ConfigError, match="Unknown secret source") as info:
        open_source("floppy", {}, context(tmp_path))
    assert "memory" in str(info.value)


def test_a_plugin_source_can_be_configured(plugin: dict[str, EntryPoint], tmp_path: Path) -> None:
    from skclaw.config import load_config

    (tmp_path / ".skclaw.jsonc").write_text('{"secrets": {"source": "memory"}, "sources": {"memory": {}}}')
    assert load_config(tmp_path, None).source_for("staging") == "memory"


def test_secret_value_never_shows_itself() -> None:
    value = SecretValue("hunter2-canary-xyz")
    for text in (repr(value), str(value), f"{value}", f"{value!r}", str([value]),
                 str({"k": value})):
        assert "hunter2" not in text
    assert value.reveal() == "hunter2-canary-xyz"
    assert value == SecretValue("hunter2-canary-xyz") and len(value) == 18
    with pytest.raises(AttributeError):
        value._value = "x"  # type: ignore[misc]
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(value)

    import logging

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "value=%s", (value,), None)
    assert "hunter2" not in record.getMessage()
