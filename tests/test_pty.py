"""Every prompt in a real pseudo-terminal (pexpect, the installed `.venv/bin/skclaw`).

test_deploy.py and test_migrate.py already drive deploy's y/N and migrate's y/N and typed name;
this file covers the rest: the secrets y/N gates (yes, no, Ctrl-C, Ctrl-D), typing the env's
name for a destructive step (right, wrong, Ctrl-D), the hidden `secrets set` prompt asked twice,
and the `init` wizard and its overwrite question.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from skclaw.secrets.dotenv import parse_dotenv
from tests.cfemu import CloudflareEmulator
from tests.conftest import SampleProject
from tests.hardening import SKCLAW_BIN, changes, crash_logs, use_envfile

pytestmark = pytest.mark.pty

DOWN, UP, SPACE, ENTER, CTRL_C, CTRL_D = "\x1b[B", "\x1b[A", " ", "\r", "\x03", "\x04"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class Term:
    project: SampleProject
    emulator: CloudflareEmulator
    wrangler: Path
    env: dict[str, str]
    state_home: Path

    def spawn(self, *args: str, timeout: float = 30) -> Any:
        argv = ["-C", str(self.project.path), "--wrangler", str(self.wrangler), *args]
        child = pexpect.spawn(
            str(SKCLAW_BIN), argv, env=self.env, encoding="utf-8", timeout=timeout, dimensions=(40, 120)
        )
        child.logfile_read = io.StringIO()
        return child

    def envfile(self, env: str) -> dict[str, str]:
        path = self.project.path / ".secrets" / f"{env}.env"
        return parse_dotenv(path.read_text(), filename=path.name).values if path.exists() else {}


def finish(child: Any) -> tuple[int, str]:
    """Wait for the end (bounded by the child's timeout); exit code and the whole transcript."""
    child.expect(pexpect.EOF)
    child.close()
    transcript = child.logfile_read.getvalue()
    assert "Traceback" not in transcript, transcript
    assert child.signalstatus is None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus), ANSI.sub("", transcript)


@pytest.fixture
def term(
    sample_project: SampleProject,
    emulator: CloudflareEmulator,
    wrangler_bin: Path,
    cf_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[Term]:
    values = {env: {"API_TOKEN": f"source-{env}-token-0001"} for env in sample_project.envs}
    use_envfile(sample_project, values, required=["API_TOKEN"])
    for env in sample_project.envs:
        emulator.seed_worker(sample_project.worker(env), secrets={"API_TOKEN": "old", "STALE": "gone-soon"})
    emulator.clear_requests()
    env = {k: v for k, v in cf_env.items() if k != "CI"}
    env.update(TERM="xterm", COLUMNS="120", LINES="40", PROMPT_TOOLKIT_NO_CPR="1",
               XDG_STATE_HOME=str(tmp_path / "state"))
    yield Term(sample_project, emulator, wrangler_bin, env, tmp_path / "state")
    assert crash_logs(tmp_path / "state") == []


# ----------------------------------------------------------------------------- y/N


@pytest.mark.wrangler
@pytest.mark.parametrize("answer", ["y", "n"])
def test_sync_on_production_asks_y_n_after_showing_the_target(answer: str, term: Term) -> None:
    worker = term.project.worker("production")
    child = term.spawn("secrets", "sync", "--env", "production")
    # The account as `wrangler whoami` names it, with the id and where the id comes from.
    child.expect(re.escape(f"account: Test Account ({term.emulator.account_id}) from CLOUDFLARE_ACCOUNT_ID"))
    child.expect(f"worker: +{worker}")
    child.expect(r"overwrite \(1\): API_TOKEN")
    child.expect(r"Proceed with secrets sync on protected environment production\?")
    child.send(answer)
    child.send(ENTER)
    code, transcript = finish(child)
    assert "(y/N)" in transcript
    if answer == "y":
        assert code == 0, transcript
        assert term.emulator.secrets(worker)["API_TOKEN"] == "source-production-token-0001"
    else:
        assert code == 3, transcript
        assert "nothing was changed" in transcript
        assert changes(term.emulator) == [] and term.emulator.secrets(worker)["API_TOKEN"] == "old"


@pytest.mark.wrangler
def test_ctrl_c_at_the_y_n_prompt_is_130_and_changes_nothing(term: Term) -> None:
    worker = term.project.worker("production")
    before = term.envfile("production")
    child = term.spawn("secrets", "rotate", "API_TOKEN", "--env", "production")
    child.expect(r"Proceed with secrets rotate on protected environment production\?")
    child.send(CTRL_C)
    code, transcript = finish(child)
    assert code == 130, transcript
    assert "nothing was changed" in transcript
    assert term.envfile("production") == before  # not even stored in the source
    assert changes(term.emulator) == [] and term.emulator.secrets(worker)["API_TOKEN"] == "old"


def test_ctrl_d_at_the_y_n_prompt_changes_nothing(term: Term) -> None:
    before = term.envfile("production")
    child = term.spawn("secrets", "set", "API_TOKEN", "--env", "production", "--push")
    child.expect(f"worker: +{term.project.worker('production')}")
    child.expect(r"Proceed with secrets set --push on protected environment production\?")
    child.send(CTRL_D)
    code, transcript = finish(child)
    assert code == 3, transcript  # end of input refuses; it never keeps waiting
    assert "No answer (end of input); nothing was changed." in transcript
    assert "Value for API_TOKEN" not in transcript  # the value is never asked for
    assert term.envfile("production") == before
    assert changes(term.emulator) == []  # only reads (whoami names the account in the plan)


@pytest.mark.wrangler
def test_destructive_step_on_an_unprotected_env_asks_y_n(term: Term) -> None:
    worker = term.project.worker("staging")
    child = term.spawn("secrets", "sync", "--env", "staging", "--prune")
    child.expect(r"DELETE \(1\): STALE")
    child.expect("destructive: deletes STALE")
    child.expect(r"Proceed with secrets sync on environment staging \(deletes STALE\)\?")
    child.send("n")
    child.send(ENTER)
    code, transcript = finish(child)
    assert code == 3, transcript
    assert "(y/N)" in transcript and "Type the environment name" not in transcript
    assert changes(term.emulator) == [] and "STALE" in term.emulator.secrets(worker)


# ----------------------------------------------------------------------------- typing the env's name

TYPE_NAME = r"Type the environment name \(production\) to continue:"


@pytest.mark.wrangler
def test_yes_alone_at_a_terminal_still_needs_the_typed_name_for_a_protected_prune(term: Term) -> None:
    worker = term.project.worker("production")
    child = term.spawn("secrets", "sync", "--env", "production", "--prune", "--yes")
    child.expect(r"DELETE \(1\): STALE")
    child.expect(TYPE_NAME)
    child.send("staging" + ENTER)
    code, transcript = finish(child)
    assert code == 3, transcript
    assert "did not match production" in transcript
    assert changes(term.emulator) == [] and "STALE" in term.emulator.secrets(worker)


@pytest.mark.wrangler
def test_piping_stdout_through_tee_still_asks(term: Term) -> None:
    """Prompts and plans are on stderr: `skclaw ... | tee log` at a terminal is interactive."""
    worker = term.project.worker("production")
    log = term.project.path / "tee.log"
    argv = " ".join(["-C", str(term.project.path), "--wrangler", str(term.wrangler)])
    line = f"set -o pipefail; {SKCLAW_BIN} {argv} secrets sync --env production | tee {log}"
    child = pexpect.spawn("bash", ["-c", line], env=term.env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    child.logfile_read = io.StringIO()
    child.expect(r"Proceed with secrets sync on protected environment production\?")
    child.send("n" + ENTER)
    code, transcript = finish(child)
    assert code == 3, transcript
    assert "Cancelled: secrets sync on protected environment production; nothing was changed." in transcript
    assert "error:" not in transcript  # the user's own choice is not an error
    assert term.emulator.secrets(worker)["API_TOKEN"] == "old"


@pytest.mark.wrangler
def test_quiet_still_shows_the_target_before_the_question(term: Term) -> None:
    worker = term.project.worker("production")
    child = term.spawn("-q", "secrets", "sync", "--env", "production")
    child.expect(f"worker: +{worker}")
    child.expect(r"Proceed with secrets sync on protected environment production\?")
    child.send("n" + ENTER)
    code, transcript = finish(child)
    assert code == 3 and f"account: Test Account ({term.emulator.account_id})" in transcript


@pytest.mark.wrangler
@pytest.mark.parametrize("typed", ["production", "prod"])
def test_prune_on_production_needs_the_typed_name(typed: str, term: Term) -> None:
    worker = term.project.worker("production")
    child = term.spawn("secrets", "sync", "--env", "production", "--prune")
    child.expect(r"DELETE \(1\): STALE")
    child.expect(TYPE_NAME)
    child.send(typed + ENTER)
    code, transcript = finish(child)
    assert "(y/N)" not in transcript  # typing the name replaces the y/N question
    if typed == "production":
        assert code == 0, transcript
        assert term.emulator.secrets(worker) == {"API_TOKEN": "source-production-token-0001"}
    else:
        assert code == 3, transcript
        assert "did not match production" in transcript
        assert changes(term.emulator) == [] and "STALE" in term.emulator.secrets(worker)


@pytest.mark.wrangler
@pytest.mark.parametrize("key", [CTRL_D, CTRL_C], ids=["ctrl-d", "ctrl-c"])
def test_leaving_the_typed_name_prompt_rolls_nothing_back(key: str, term: Term) -> None:
    worker = term.project.worker("production")
    term.emulator.put_secret(worker, "API_TOKEN", "newer")
    live = term.emulator.current_version_id(worker)
    term.emulator.clear_requests()
    child = term.spawn("rollback", "--env", "production")
    child.expect("live now:")
    child.expect("D1 is not rolled back")
    child.expect(TYPE_NAME)
    child.send(key)
    code, transcript = finish(child)
    assert code == (130 if key == CTRL_C else 3), transcript
    assert term.emulator.current_version_id(worker) == live
    assert changes(term.emulator) == []


# ----------------------------------------------------------------------------- hidden value, twice


def test_set_asks_twice_hides_the_value_and_stores_it(term: Term) -> None:
    value = "hunter2 with spaces & ünïcode"
    child = term.spawn("secrets", "set", "API_TOKEN", "--env", "staging")
    child.expect("Value for API_TOKEN:")
    child.send(value + ENTER)
    child.expect("Repeat the value for API_TOKEN:")
    child.send(value + ENTER)
    code, transcript = finish(child)
    assert code == 0, transcript
    assert term.envfile("staging")["API_TOKEN"] == value
    assert term.envfile("staging")["API_TOKEN__PREVIOUS"] == "source-staging-token-0001"
    assert value not in transcript and "hunter2" not in transcript  # nothing echoed back
    assert term.emulator.requests == []  # no --push: Cloudflare is not touched


def test_set_with_two_different_values_stores_nothing(term: Term) -> None:
    before = (term.project.path / ".secrets" / "staging.env").read_bytes()
    child = term.spawn("secrets", "set", "API_TOKEN", "--env", "staging")
    child.expect("Value for API_TOKEN:")
    child.send("first-value" + ENTER)
    child.expect("Repeat the value for API_TOKEN:")
    child.send("second-value" + ENTER)
    code, transcript = finish(child)
    assert code == 2, transcript
    assert "The two values for API_TOKEN differ; nothing was stored." in transcript
    assert "first-value" not in transcript and "second-value" not in transcript
    assert (term.project.path / ".secrets" / "staging.env").read_bytes() == before


def test_ctrl_c_in_the_hidden_prompt_stores_nothing(term: Term) -> None:
    before = (term.project.path / ".secrets" / "staging.env").read_bytes()
    child = term.spawn("secrets", "set", "API_TOKEN", "--env", "staging")
    child.expect("Value for API_TOKEN:")
    child.send("half-typed")
    child.send(CTRL_C)
    code, transcript = finish(child)
    assert code == 130, transcript
    assert "half-typed" not in transcript
    assert (term.project.path / ".secrets" / "staging.env").read_bytes() == before


# ----------------------------------------------------------------------------- init


def test_init_wizard_writes_what_was_chosen(term: Term) -> None:
    config = term.project.path / ".skclaw.jsonc"
    config.unlink()
    child = term.spawn("init")
    child.expect("Environments of this project:")
    child.expect("default")  # the last choice is drawn: the list is complete
    child.send(ENTER)  # the env blocks stay checked; the top level (not an env here) stays out
    child.expect("Protected environments:")
    child.expect("staging")
    child.send(DOWN + SPACE + ENTER)  # production stays checked (inferred); staging is added
    child.expect("Default secret source:")
    child.expect("environ")
    child.send(DOWN + DOWN + ENTER)  # keyring -> vault -> envfile
    child.expect("Source for production:")
    child.send(UP + ENTER)  # from the default (envfile) up to vault
    child.expect("Source for staging:")
    child.send(ENTER)
    child.expect(r"Required secret names \(comma-separated, empty for none\):")
    child.send("API_TOKEN, EXTRA_ONE" + ENTER)
    child.expect(r"Optional secret names \(comma-separated, empty for none\):")
    child.send("CF_AI_GATEWAY_MODEL" + ENTER)
    child.expect("Next:")
    code, transcript = finish(child)
    assert code == 0, transcript
    assert "Source for default" not in transcript and "moltworker" not in transcript.lower()
    assert "skclaw secrets set API_TOKEN --env production" in transcript and "skclaw doctor" in transcript

    import pyjson5

    written = pyjson5.decode(config.read_text())
    assert written["envs"] == ["production", "staging"]
    assert written["protectedEnvironments"] == ["production", "staging"]
    assert written["secrets"]["source"] == "envfile"
    assert written["environments"] == {"production": {"source": "vault"}}
    assert written["secrets"]["required"] == ["API_TOKEN", "EXTRA_ONE"]
    assert written["secrets"]["optional"] == ["CF_AI_GATEWAY_MODEL"]
    assert ".secrets/" in (term.project.path / ".gitignore").read_text()


def test_init_asks_before_overwriting_and_keeps_the_file_on_no(term: Term) -> None:
    config = term.project.path / ".skclaw.jsonc"
    before = config.read_text()
    child = term.spawn("init")
    child.expect(r"\.skclaw\.jsonc exists\. Overwrite it\?")
    child.send("n" + ENTER)
    code, transcript = finish(child)
    assert code == 3, transcript
    assert "nothing was written" in transcript
    assert config.read_text() == before and json.loads(before)["secrets"]["source"] == "envfile"


# ----------------------------------------------------------------------------- progress


@pytest.mark.wrangler
def test_each_wrangler_call_shows_a_live_line_with_env_elapsed_and_retries(term: Term) -> None:
    worker = term.project.worker("staging")
    # Slow answers, so each call is on screen long enough to be seen, however fast wrangler starts.
    term.emulator.inject_fault("GET", r"/secrets$", status=200, delay_seconds=1.0, times=1)
    term.emulator.inject_fault("GET", r"/settings$", status=200, delay_seconds=1.5, times=1)
    term.emulator.inject_fault("PATCH", r"/(settings|secrets-bulk)$", status=503, code=10013,
                               message="Service unavailable", times=1)
    term.emulator.inject_fault("PATCH", r"/(settings|secrets-bulk)$", status=200, delay_seconds=1.0, times=1)
    child = term.spawn("secrets", "sync", "--env", "staging", "--yes")
    child.expect(r"staging · wrangler secret list · \d+\.\ds")
    child.expect(r"staging · wrangler secret bulk · \d+\.\ds")
    child.expect(r"retrying 2/3")
    code, transcript = finish(child)
    assert code == 0, transcript
    assert term.emulator.secrets(worker)["API_TOKEN"] == "source-staging-token-0001"


@pytest.mark.wrangler
def test_no_color_keeps_the_spinner(term: Term) -> None:
    term.env["NO_COLOR"] = "1"
    term.emulator.inject_fault("GET", r"/secrets$", status=200, delay_seconds=1.0, times=1)
    child = term.spawn("secrets", "list", "--env", "staging")
    child.expect(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] staging · wrangler secret list · \d+\.\ds")
    code, transcript = finish(child)
    assert code == 0, transcript
    colour = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7]|4[0-8])(?:;\d+)*m")  # foreground/background
    assert not colour.search(child.logfile_read.getvalue())


@pytest.mark.wrangler
@pytest.mark.parametrize("answer", ["y", "n"])
def test_release_on_production_asks_once_after_the_plan(answer: str, term: Term) -> None:
    worker = term.project.worker("production")
    term.project.create_databases(term.emulator)
    live = term.emulator.current_version_id(worker)
    child = term.spawn("release", "--env", "production", "--gradual", "50", timeout=120)
    child.expect(r"RELEASE · production · PROTECTED")
    child.expect(re.escape(f"live:     version {live} at 100%"))
    child.expect(r"traffic:  50% → 100%")
    child.expect(r"Proceed with release on protected environment production\?")
    child.send(answer)
    child.send(ENTER)
    code, transcript = finish(child)
    assert transcript.count("(y/N)") == 1  # one question for migrations, upload and both steps
    if answer == "y":
        assert code == 0, transcript
        new = term.emulator.current_version_id(worker)
        assert new != live and term.emulator.traffic(worker) == {new: 100.0}
        assert term.emulator.versions(worker)[-1]["secrets"]["API_TOKEN"] == "source-production-token-0001"
    else:
        assert code == 3, transcript
        assert changes(term.emulator) == [] and term.emulator.traffic(worker) == {live: 100.0}
