"""`skclaw init` and the per-environment lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skclaw.config import load_config
from skclaw.errors import FailedError
from skclaw.lock import EnvLocks
from tests.conftest import SampleProject
from tests.skrun import skclaw


def test_init_from_flags_writes_a_loadable_commented_config(sample_project: SampleProject) -> None:
    run = skclaw(["init", "--moltworker-defaults", "--source", "vault", "--env-source", "staging=envfile",
                  "--json"], project=sample_project.path)
    assert run.code == 0, run.stderr
    text = (sample_project.path / ".skclaw.jsonc").read_text()
    assert text.startswith("// skclaw configuration")
    cfg = load_config(sample_project.path, None)
    assert cfg.protected_environments == ("production",)
    assert "MOLTBOT_GATEWAY_TOKEN" in cfg.required and cfg.optional == ("CF_AI_GATEWAY_MODEL",)
    assert cfg.source_for("staging") == "envfile" and cfg.source_for("production") == "vault"
    gitignore = (sample_project.path / ".gitignore").read_text().splitlines()
    assert {".dev.vars*", ".secrets/", ".skclaw/"} <= set(gitignore)
    assert run.envelope["result"]["gitignoreAdded"] == [".dev.vars*", ".secrets/", ".skclaw/", ".wrangler/"]


def test_init_never_overwrites_without_consent(sample_project: SampleProject) -> None:
    config = sample_project.path / ".skclaw.jsonc"
    config.write_text('{"build": "keep me"}')
    refused = skclaw(["init", "--source", "envfile"], project=sample_project.path)
    assert refused.code == 3 and config.read_text() == '{"build": "keep me"}'
    done = skclaw(["init", "--source", "envfile", "--yes"], project=sample_project.path)
    assert done.code == 0 and load_config(sample_project.path, None).default_source == "envfile"
    again = skclaw(["init", "--yes"], project=sample_project.path)
    assert again.code == 0
    assert (sample_project.path / ".gitignore").read_text().count(".secrets/") == 1


def test_init_rejects_bad_flags(sample_project: SampleProject) -> None:
    assert skclaw(["init", "--env-source", "nope=vault"], project=sample_project.path).code == 2
    assert skclaw(["init", "--required", "9BAD"], project=sample_project.path).code == 2
    assert skclaw(["init", "--protected", "prod"], project=sample_project.path).code == 2
    assert not (sample_project.path / ".skclaw.jsonc").exists()


def test_lock_blocks_a_second_holder_and_names_it(tmp_path: Path) -> None:
    first = EnvLocks(tmp_path, "secrets sync", timeout=0)
    first.acquire("production")
    second = EnvLocks(tmp_path, "deploy", timeout=0.5)
    start = time.monotonic()
    with pytest.raises(FailedError) as info:
        second.acquire("production")
    assert time.monotonic() - start >= 0.4
    assert "secrets sync" in info.value.message and str(os.getpid()) in info.value.message
    second.acquire("staging")  # other envs are independent
    first.release_all()
    second.acquire("production")
    second.release_all()


def test_stale_lock_of_a_dead_process_is_recovered(tmp_path: Path) -> None:
    code = (
        "import sys, os\n"
        "from pathlib import Path\n"
        "from skclaw.lock import EnvLocks\n"
        f"EnvLocks(Path({str(tmp_path)!r}), 'migrate', 0).acquire('production')\n"
        "os._exit(9)  # dies holding the lock\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=30)
    holder = json.loads((tmp_path / ".skclaw" / "locks" / "production.lock").read_text())
    assert holder["command"] == "migrate"
    locks = EnvLocks(tmp_path, "deploy", timeout=0)
    locks.acquire("production")  # the kernel dropped the dead holder's lock
    locks.release_all()


def test_a_second_skclaw_run_waits_then_gives_up(sample_project: SampleProject) -> None:
    (sample_project.path / ".skclaw.jsonc").write_text('{"secrets": {"source": "envfile"}}')
    holder = EnvLocks(sample_project.path, "secrets sync", timeout=0)
    holder.acquire("staging")
    try:
        run = skclaw(["secrets", "set", "K_ONE", "-e", "staging", "--push", "--lock-timeout", "0.3"],
                     project=sample_project.path, input="value-1234")
    finally:
        holder.release_all()
    assert run.code == 1
    assert "locked by another skclaw run" in run.stderr and "secrets sync" in run.stderr
    assert not (sample_project.path / ".secrets" / "staging.env").exists()


def test_init_yes_replaces_a_broken_config(sample_project: SampleProject) -> None:
    config = sample_project.path / ".skclaw.jsonc"
    config.write_text("{ this is not json")
    refused = skclaw(["init", "--source", "envfile"], project=sample_project.path)
    assert refused.code == 3 and "broken" in refused.stderr
    done = skclaw(["init", "--source", "envfile", "--yes"], project=sample_project.path)
    assert done.code == 0, done.stderr
    assert load_config(sample_project.path, None).default_source == "envfile"


def test_wrangler_timeout_is_configurable(sample_project: SampleProject, tmp_path: Path) -> None:
    hang = tmp_path / "wrangler"
    hang.write_text("#!/bin/sh\ncase \"$1\" in --version) echo 4.86.0;; *) sleep 60;; esac\n")
    hang.chmod(0o755)
    (sample_project.path / ".skclaw.jsonc").write_text('{"secrets": {"source": "envfile"}}')
    (sample_project.path / ".secrets").mkdir()
    (sample_project.path / ".secrets" / "staging.env").write_text("A=1\n")
    bad = skclaw(["secrets", "list", "-e", "staging"], project=sample_project.path, wrangler=hang,
                 env={"SKCLAW_WRANGLER_TIMEOUT": "soon"})
    assert bad.code == 2 and "SKCLAW_WRANGLER_TIMEOUT" in bad.stderr
    start = time.monotonic()
    run = skclaw(["secrets", "list", "-e", "staging"], project=sample_project.path, wrangler=hang,
                 env={"SKCLAW_WRANGLER_TIMEOUT": "1"})
    assert run.code == 1 and "timed out" in run.stderr
    assert time.monotonic() - start < 30
