"""Root command group, global options, lazily loaded subcommands, and the error boundary."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from skclaw import __version__
from skclaw.errors import Cancelled, ExitCode, InterruptedRun, SkclawError
from skclaw.options import ActionOptions, GlobalOptions

if TYPE_CHECKING:
    from skclaw.results import CommandResult

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# name -> "module:attribute"; imported only when the command runs or its help is shown.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("skclaw.commands.init:init", "Write .skclaw.jsonc for this Worker project."),
    "doctor": ("skclaw.commands.doctor:doctor", "Check wrangler, node, auth, config and sources."),
    "secrets": ("skclaw.commands.secrets:secrets", "Sync, set, rotate and list Worker secrets."),
    "deploy": ("skclaw.commands.deploy:deploy", "Build and deploy an environment's Worker."),
    "status": ("skclaw.commands.status:status", "Show the live deployment of each environment."),
    "rollback": ("skclaw.commands.rollback:rollback", "Roll an environment back to an earlier version."),
    "migrate": ("skclaw.commands.migrate:migrate", "Apply D1 migrations, safely."),
    "release": ("skclaw.commands.release:release",
                "Migrate, upload and shift traffic in verified steps; roll back on a failed verify."),
    "ci": ("skclaw.commands.ci:ci", "CI helpers: the environment matrix for a per-env job fan-out."),
    "apply": ("skclaw.commands.apply:apply", "Apply a saved plan (--plan-out), or refuse if anything moved."),
}


def _available(spec: str) -> bool:
    module = spec.partition(":")[0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        lazy = [name for name, (spec, _) in LAZY_COMMANDS.items() if _available(spec)]
        return sorted({*eager, *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            spec = LAZY_COMMANDS[cmd_name][0]
            if not _available(spec):
                return None
            module_name, _, attr = spec.partition(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module (keeps --help fast).
        rows = [(name, LAZY_COMMANDS[name][1]) for name in self.list_commands(ctx) if name in LAZY_COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_paths() -> list[list[str]]:
    """Every subcommand as its words, e.g. ["secrets", "sync"] (for docs and help tests)."""
    ctx = click.Context(cli)
    paths: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return paths


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--config", "config_path", metavar="PATH", help="skclaw config file [env: SKCLAW_CONFIG].")
@click.option(
    "-C",
    "project_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if started in DIR (the Worker project).",
)
@click.option("--wrangler", metavar="PATH", help="wrangler executable [env: SKCLAW_WRANGLER].")
@click.option("-v", "--verbose", count=True, help="More detail (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings, errors and results.")
@click.option("--no-color", is_flag=True, help="No colour in output (NO_COLOR is respected too).")
@click.version_option(__version__, "--version", prog_name="skclaw")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    project_dir: Path | None,
    wrangler: str | None,
    verbose: int,
    quiet: bool,
    no_color: bool,
) -> None:
    """skclaw ships Cloudflare Workers through the real wrangler: secrets from your keyring or
    vault, D1 migrations and deploys, with consent before anything touches production."""
    if project_dir is not None and not project_dir.is_dir():
        raise click.BadParameter(f"{project_dir} is not a directory", param_hint="-C")
    ctx.obj = GlobalOptions(
        config=config_path,
        project_dir=(project_dir or Path.cwd()).resolve(),
        wrangler=wrangler,
        verbosity=-1 if quiet else verbose,
        color=not no_color,
    )
    if verbose:
        _configure_logging(verbose)


def _configure_logging(verbosity: int) -> None:
    from skclaw.redact import redact

    class _Redacting(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Redacting("skclaw %(name)s: %(message)s"))
    root = logging.getLogger("skclaw")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)


# -- shared options and the per-command boundary -------------------------------------------------


class _Seconds(click.FloatRange):
    """0..3600 seconds; ``nan`` and ``inf`` are refused (a NaN compares false to both bounds)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:  # NaN
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return number


SECONDS = _Seconds(0, 3600)


def common_options(*, multiple_env: bool = False, acts: bool = True, env: bool = True) -> Callable[[Any], Any]:
    """--env/-e, --json, and for commands that act: --yes/-y, --confirm-env, --non-interactive."""

    def decorate(func: Any) -> Any:
        func = click.option("--json", "json_output", is_flag=True, help="One JSON object on stdout.")(func)
        if acts:
            func = click.option(
                "--non-interactive", is_flag=True, help="Never prompt (also: --json, CI, no TTY)."
            )(func)
            func = click.option(
                "--confirm-env", metavar="ENV", help="With --yes: consent to destructive steps on ENV."
            )(func)
            func = click.option("-y", "--yes", is_flag=True, help="Consent without a prompt (CI).")(func)
            func = click.option(
                "--lock-timeout", type=SECONDS, default=30.0, show_default=True,
                metavar="SECONDS", help="How long to wait for another skclaw run on the same env.",
            )(func)
        if env:
            if multiple_env:
                func = click.option(
                    "-e", "--env", "envs", multiple=True, metavar="ENV",
                    help="Environment (repeatable) [env: SKCLAW_ENV; default: top level]."
                )(func)
            else:
                func = click.option(
                    "-e", "--env", "env", metavar="ENV",
                    help="Environment [env: SKCLAW_ENV; default: top level]."
                )(func)
        return func

    return decorate


def run_command(name: str) -> Callable[[Callable[..., CommandResult]], Callable[..., int]]:
    """Wrap a command body: build the AppContext, run, render its result, map errors to codes."""

    def decorate(body: Callable[..., CommandResult]) -> Callable[..., int]:
        @functools.wraps(body)
        def wrapper(**kwargs: Any) -> int:
            from skclaw.context import AppContext

            options: GlobalOptions = click.get_current_context().find_root().obj or GlobalOptions()
            action = ActionOptions(
                yes=kwargs.pop("yes", False),
                confirm_env=kwargs.pop("confirm_env", None),
                non_interactive=kwargs.pop("non_interactive", False),
                json=kwargs.pop("json_output", False),
                lock_timeout=kwargs.pop("lock_timeout", 30.0),
            )
            app = AppContext(options, action, command=name)

            def call() -> CommandResult:
                from skclaw.context import check_env_options

                # A bad env name is exit 2 before any config is read or file written.
                given = kwargs.get("envs") or ([kwargs["env"]] if kwargs.get("env") is not None else [])
                check_env_options(list(given), app.environ)
                return body(app, **kwargs)

            try:
                return execute(app, name, call)
            except BrokenPipeError:  # before click's own EPIPE handling, which exits 1 silently
                return _broken_pipe()
            finally:
                app.close()

        return wrapper

    return decorate


def execute(app: Any, name: str, call: Callable[[], CommandResult]) -> int:
    """Run a command body. Its result is rendered for people, audited and put in the envelope,
    here and only here; an error is mapped to its exit code (with what it finished, if it says)."""
    from skclaw import audit, process
    from skclaw.render import render

    out = app.output
    try:
        outcome = call()
        # What changed is recorded first: a closed stdout or a renderer's bug must not lose it.
        audit.record_result(app.project_dir, outcome)
        render(outcome, out)
    except BrokenPipeError:
        raise  # run_command reports it (the result could not be delivered)
    except SkclawError as exc:
        code = int(exc.exit_code)
        if isinstance(exc, InterruptedRun):
            process.kill_all_children()
            code = process.interrupted_exit_code()
        if isinstance(exc, Cancelled):
            out.info(exc.message, always=True)
        else:
            out.error(exc.message)
        detail = getattr(exc, "detail", "")
        if detail and app.globals.verbosity >= 1:
            out.detail(detail)
        elif detail:
            excerpt = error_excerpt(exc.message, detail)
            if excerpt:  # wrangler's own diagnostic (a build error's file and line), without -v too
                out.info(excerpt, always=True)
        if exc.hint:
            out.info(exc.hint)
        partial, reveal = _partial_result(app, exc)
        _finish(app, name, code, partial, {"kind": exc.kind, "message": str(exc)}, reveal_values=reveal)
        return code
    except KeyboardInterrupt as exc:
        process.kill_all_children()
        signame = process.signal_name()
        out.error(f"Interrupted ({signame}); wrangler was stopped.")
        partial, reveal = _partial_result(app, exc)  # a command may attach what it finished
        _finish(app, name, process.interrupted_exit_code(), partial,
                {"kind": "interrupted", "message": f"interrupted by {signame}"}, reveal_values=reveal)
        return process.interrupted_exit_code()
    except Exception as exc:  # the boundary: a bug, reported briefly, with the traceback on disk
        path = write_crash_log(exc)
        out.error(f"skclaw hit an unexpected error ({type(exc).__name__}). Details: {path}")
        out.envelope(name, 1, None, {"kind": "failed", "message": f"internal error; see {path}"})
        return int(ExitCode.FAILED)
    verdict = outcome.verdict()
    _finish(app, name, verdict.exit_code, outcome.to_json(), verdict.error(), reveal_values=outcome.reveal_values)
    return verdict.exit_code


def _partial_result(app: Any, exc: BaseException) -> tuple[Any, bool]:
    """What a failed run did before it failed (``exc.partial_result``): audited here, and its JSON
    (with whether it may carry values) for the envelope. Not rendered: the error line says it."""
    from skclaw import audit
    from skclaw.results import CommandResult

    partial = getattr(exc, "partial_result", None)
    if not isinstance(partial, CommandResult):
        return None, False
    audit.record_result(app.project_dir, partial)
    return partial.to_json(), partial.reveal_values


def _finish(app: Any, name: str, code: int, result: Any, error: dict[str, str] | None, *,
            reveal_values: bool = False) -> None:
    """Every run ends here: the --json envelope, GitHub's summary and annotations, audit warnings."""
    from skclaw import github

    app.output.envelope(name, code, result, error, reveal_values=reveal_values)
    github.report(app.environ, app.output.stderr, name, code, result, error)
    _warn_audit_failures(app)


EXCERPT_LINES = 15


def error_excerpt(message: str, detail: str) -> str:
    """The lines of wrangler's error block that the one-line message leaves out (bounded)."""
    lines = [line.rstrip() for line in detail.strip().splitlines()]
    while lines and (not lines[0].strip() or lines[0].strip() in message):
        lines.pop(0)
    if not lines:
        return ""
    shown = lines[:EXCERPT_LINES]
    if len(lines) > EXCERPT_LINES:
        shown.append(f"… ({len(lines) - EXCERPT_LINES} more lines with -v)")
    return "\n".join("  " + line for line in shown)


def _warn_audit_failures(app: Any) -> None:
    from skclaw import audit

    for problem in audit.take_failures():
        app.output.warn(f"the audit trail could not be written ({problem}); this run is not recorded")


def write_crash_log(exc: BaseException) -> Path:
    from skclaw.redact import redact

    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "skclaw" / "logs"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        import tempfile

        base = Path(tempfile.gettempdir())
    path = base / f"crash-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.log"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(redact(text))
    return path


_GLOBAL_OPTIONS_WITH_VALUE = {"--config", "-C", "--wrangler"}


def command_name(args: Sequence[str]) -> str:
    """The command words of argv ("secrets sync"), for an envelope written before click parsed it."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if arg != "secrets":
                break
    return " ".join(words[:2])


def main(argv: Sequence[str] | None = None) -> int:
    from skclaw import process

    restore_signals = process.install_signal_handlers()
    try:
        return _main(argv)
    finally:
        restore_signals()


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="skclaw", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        if "--json" in args:
            import json

            sys.stdout.write(json.dumps({
                "ok": False, "command": command_name(args),
                "exitCode": 2, "result": None, "error": {"kind": "usage", "message": exc.format_message()},
            }) + "\n")
        return int(ExitCode.USAGE)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        return int(ExitCode.INTERRUPTED)
    except (KeyboardInterrupt, InterruptedRun):
        from skclaw.process import interrupted_exit_code, kill_all_children

        kill_all_children()
        sys.stderr.write("Interrupted.\n")
        return interrupted_exit_code()
    except BrokenPipeError:
        return _broken_pipe()
    if isinstance(result, int):
        return result
    return 0


def _broken_pipe() -> int:
    """stdout was closed by its reader (`skclaw ... | head`): say so on stderr and exit 1 (the
    result could not be delivered), never a silent exit or a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.write("skclaw: stdout was closed before the whole result was written (broken pipe).\n")
    except OSError:
        pass
    return int(ExitCode.FAILED)
