"""The only importer of questionary. Every prompt answers or raises; none can hang in CI
because callers ask only when the run is interactive."""

from __future__ import annotations

from typing import Any

from skclaw.errors import InterruptedRun, RefusedError, UsageError


def _ask(question: Any) -> Any:
    try:
        return question.unsafe_ask()
    except KeyboardInterrupt:
        raise InterruptedRun("Interrupted at the prompt; nothing was changed.") from None
    except EOFError:
        raise RefusedError("No answer (end of input); nothing was changed.") from None


def confirm(message: str) -> bool:
    import questionary
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    question = questionary.confirm(message, default=False, auto_enter=False)
    # questionary's y/N swallows every other key, Ctrl-D included: end of input must refuse
    # (exit 3), never leave the prompt waiting.
    eof = KeyBindings()

    @eof.add("c-d", eager=True)
    def _(event: Any) -> None:
        event.app.exit(exception=EOFError())

    app = question.application
    app.key_bindings = merge_key_bindings([eof, app.key_bindings]) if app.key_bindings else eof
    return bool(_ask(question))


def text(message: str, default: str = "") -> str:
    import questionary

    return str(_ask(questionary.text(message, default=default)))


def select(message: str, choices: list[str], default: str | None = None) -> str:
    import questionary

    return str(_ask(questionary.select(message, choices=choices, default=default)))


def checkbox(message: str, choices: list[str], checked: set[str] | None = None) -> list[str]:
    import questionary

    items = [questionary.Choice(c, checked=c in (checked or set())) for c in choices]
    return list(_ask(questionary.checkbox(message, choices=items)))


def secret_twice(name: str) -> str:
    """A hidden value, asked twice."""
    import questionary

    first = _ask(questionary.password(f"Value for {name}:"))
    second = _ask(questionary.password(f"Repeat the value for {name}:"))
    if first != second:
        raise UsageError(f"The two values for {name} differ; nothing was stored.")
    return str(first)
