"""The one dotenv dialect, wrangler's: the parser (parse_dotenv), the env-file writer
(format_dotenv, update_dotenv) and the .dev.vars writer (format_dev_vars), each proved against
wrangler's own loader (its bundled npm dotenv), not against a re-implementation; the readers
built on them (envfile source, credentials) agree; files skclaw 0.1.0 read differently are
found (legacy_differences) and refused by the envfile source."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skclaw.credentials import dotenv_names
from skclaw.errors import UsageError
from skclaw.secrets.dotenv import (
    format_dev_vars,
    format_dotenv,
    is_dotenv_key,
    legacy_differences,
    parse_dotenv,
    update_dotenv,
)
from skclaw.secrets.value import SecretValue
from skclaw.sources.base import SourceContext
from skclaw.sources.envfile import EnvfileSource

# What wrangler's own loader reads: the real wrangler, never the double.
pytestmark = pytest.mark.real_wrangler

if TYPE_CHECKING:
    from tests.backends import WranglerDevVars



CANARY = f"canary-{secrets.token_hex(8)}"

# Characters that break naive dotenv writers and readers.
NASTY = [*"'\"`\\=#$ \t\n\r\v\f{}", "\\n", "\\r", "\u00a0", "\u2028", "\u2029", "\ufeff"]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8")), max_size=30).map("".join)
any_text = st.one_of(st.text(), nasty_text)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
LOOSE = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def parse(text: str) -> dict[str, str]:
    return parse_dotenv(text, filename="test.env").values


def loose(text: str) -> dict[str, str]:
    return parse_dotenv(text, filename="test.env", strict=False).values


# ----------------------------------------------------------------- the parser: inputs -> values

#: (file text, what wrangler reads from it). Each row is checked against parse_dotenv and
#: against wrangler's own loader.
DIALECT: list[tuple[str, dict[str, str]]] = [
    ("# a comment\n\n   # indented comment\nexport A=1\n  B = two  \nexport\tC=3\n", {"A": "1", "B": "two", "C": "3"}),
    ("A=  spaced value  \nB=value # comment\nD=\nE= # only a comment\nF=x=y\n",
     {"A": "spaced value", "B": "value", "D": "", "E": "", "F": "x=y"}),
    ("A=a#b\n", {"A": "a"}),  # an unquoted # always starts a comment
    ("A='a#b'\nB=\"a # b\"\n", {"A": "a#b", "B": "a # b"}),
    ("A=$HOME ${X}\n", {"A": "$HOME ${X}"}),  # no expansion
    ("A='x \\n \"y\" # z'\n", {"A": 'x \\n "y" # z'}),  # single quotes are literal
    ('A=`it\'s "quoted"`\n', {"A": 'it\'s "quoted"'}),
    ('A="1\\n2\\r3"\n', {"A": "1\n2\r3"}),  # double quotes: \n and \r only
    ('A="t\\t q\\" b\\\\ x\\x"\n', {"A": 't\\t q\\" b\\\\ x\\x'}),  # ... the rest stays as typed
    ("A='line 1\nline 2' # comment\nB=\"x\n\ny\"\nC=`\n`\nD=after\n",
     {"A": "line 1\nline 2", "B": "x\n\ny", "C": "\n", "D": "after"}),
    ("\ufeffA=1\r\nB='x\r\ny'\r\nC=3\r", {"A": "1", "B": "x\ny", "C": "3"}),
    ("A=1\nB=2\nA=3\n", {"A": "3", "B": "2"}),  # the last one wins
    ("A: colon\nexport B: two\nC :no\nD:no\n", {"A": "colon", "B": "two"}),
    ("A=  'padded'  \n", {"A": "padded"}),
    ("A=' keep spaces '\n", {"A": " keep spaces "}),
    ("A=pässwörd 密码 🔑\n", {"A": "pässwörd 密码 🔑"}),
    ("A=\u00a0nbsp\u00a0\n", {"A": "nbsp"}),  # JavaScript's trim, not Python's
    ("A=\x85x\x85\n", {"A": "\x85x\x85"}),
    ("1A=digit first\nA.b-c=dots\n", {"1A": "digit first", "A.b-c": "dots"}),
    ("A='x\nB=2\n", {"A": "'x", "B": "2"}),  # an unclosed quote is part of the value
    ("A='x'y\n", {"A": "'x'y"}),
    ("not an assignment\nA=1\n", {"A": "1"}),  # other lines are ignored
    ("A=\n'quoted on the next line'\n", {"A": "quoted on the next line"}),
    ("A='C:\\dir\\'\nB=x'\n", {"A": "C:\\dir\\'\nB=x"}),  # a quoted value ending in \ may run on
]


@pytest.mark.parametrize(("text", "values"), DIALECT, ids=[f"row{i}" for i in range(len(DIALECT))])
def test_the_dialect_table(text: str, values: dict[str, str]) -> None:
    assert loose(text) == values


def test_the_dialect_table_is_what_wrangler_reads(wrangler_dev_vars: WranglerDevVars) -> None:
    for text, values in DIALECT:
        assert wrangler_dev_vars.load_text(text) == values, text


def test_duplicates_are_reported() -> None:
    assert parse_dotenv("A=1\nB=2\nA=3\nA=4\nB=5\n", filename="f").duplicates == ["A", "B"]


def test_parse_result_does_not_show_values() -> None:
    parsed = parse_dotenv(f"A={CANARY}\n", filename="f")
    assert CANARY not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (f"A=1\n{CANARY}\n", 2, "expected KEY=value"),
        (f"A=1\n\n+BAD={CANARY}\n", 3, "expected KEY=value"),
        (f"A=1\nB='{CANARY}\n", 2, "the value of B opens a quote"),
        (f'A="{CANARY}\n', 1, "the value of A opens a quote"),
        (f"A=`{CANARY}", 1, "the value of A opens a quote"),
        (f"A='x'{CANARY}\n", 1, "the value of A opens a quote"),
        (f"export {CANARY}\n", 1, "expected KEY=value"),
    ],
    # fixed ids: the canary is random, and xdist needs every worker to collect the same names
    ids=["no-equals", "bad-key", "open-single", "open-double", "open-backtick", "after-quote", "bare-export"],
)
def test_strict_refuses_what_wrangler_would_silently_misread(text: str, line: int, what: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_dotenv(text, filename="/p/.secrets/staging.env")
    message = str(caught.value)
    assert f"/p/.secrets/staging.env, line {line}:" in message
    assert what in message
    assert CANARY not in message and CANARY not in repr(caught.value)
    parse_dotenv(text, filename="f", strict=False)  # not strict: what dotenv reads, no error


# Pieces of dotenv-ish files: every construct the parser distinguishes.
_PIECES = [*NASTY, "A", "B_1", "=", " = ", ": ", ":", "export ", "# c", "'x'", '"y"', "`z`",
           "\\'", '\\"', "\n", "\r\n", "  ", "é", "🔑", "1"]
dotenvish = st.lists(st.one_of(st.sampled_from(_PIECES), st.characters(codec="utf-8")), max_size=40).map("".join)
assignments = st.lists(st.tuples(keys, st.sampled_from(["=", " = ", ": ", "="]), dotenvish), max_size=6).map(
    lambda rows: "\n".join(f"{key}{sep}{value}" for key, sep, value in rows)
)


@LOOSE
@given(st.one_of(dotenvish, assignments))
@example("A=\"x\\\\\"\nB='y'\n")
@example("A='\\'\nB=2'\n")
@example("A=1\u2028B=2\n")
def test_the_parser_reads_any_text_as_wrangler_does(wrangler_dev_vars: WranglerDevVars, text: str) -> None:
    assert loose(text) == wrangler_dev_vars.load_text(text)


# ---------------------------------------------------------------- the env-file writer


@settings(deadline=None)
@given(st.dictionaries(keys, any_text, max_size=8))
@example({"A": "", "B": " ", "C": "\\", "D": '"', "E": "'", "F": "`", "G": "#", "H": "\r\n"})
@example({"A": "\\n", "B": '\\"', "C": "x\\", "D": "\ufeff", "E": "a #b", "F": "=\n="})
@example({"A": "it's \\t", "B": "\x85x", "C": "$X", "D": "密码\n"})
def test_format_then_parse_gives_the_values_back(values: dict[str, str]) -> None:
    writable = {key: value for key, value in values.items() if _env_file_form_exists(value)}
    text = format_dotenv(writable)
    assert parse(text) == writable
    assert legacy_differences(text, writable) == []  # skclaw never refuses a file it wrote
    for key, value in values.items():
        if key not in writable:
            with pytest.raises(UsageError, match=f"value of {key} "):
                format_dotenv({key: value})


def _env_file_form_exists(value: str) -> bool:
    try:
        format_dotenv({"K": value})
    except UsageError:
        # 0.1.0 read a double-quoted \\ or \t, or an unquoted value's outer \x1c-\x1f and \x85 (Python
        # whitespace, not JavaScript's), differently; otherwise only .dev.vars refusals remain.
        python_only_space = "\x1c\x1d\x1e\x1f\x85"
        assert (_dev_vars_refusal_is_expected(value) or "\\" in value
                or value[:1] in python_only_space or value[-1:] in python_only_space)
        return False
    return True


def test_format_writes_a_header_as_comments() -> None:
    text = format_dotenv({"A": "1"}, header="first\nsecond")
    assert text == "# first\n# second\nA='1'\n"
    assert parse(text) == {"A": "1"}


def test_format_refuses_bad_keys_and_unencodable_values() -> None:
    with pytest.raises(UsageError, match="'1BAD'"):
        format_dotenv({"1BAD": "x"})
    with pytest.raises(UsageError, match="value of A") as caught:
        format_dotenv({"A": CANARY + "\ud800"})
    assert CANARY not in str(caught.value)


def test_is_dotenv_key() -> None:
    assert is_dotenv_key("A_B.c-d") and is_dotenv_key("_x")
    assert not is_dotenv_key("1A") and not is_dotenv_key("A B") and not is_dotenv_key("")


def test_update_keeps_everything_else() -> None:
    text = ("# header\nexport A='one' # why\nB=old\n\nC=\"multi\nline\"  # trailing\n# kept\n"
            "B=older-duplicate-is-last\nD=4\n")
    updated = update_dotenv(
        text,
        {"B": "new", "C": "c2", "C__PREVIOUS": "multi\nline", "E": "5"},
        filename="f",
        place_after={"C__PREVIOUS": "C"},
    )
    assert updated == ("# header\nexport A='one' # why\n\nC='c2'\nC__PREVIOUS='multi\nline'\n# kept\n"
                       "B='new'\nD=4\nE='5'\n")
    assert parse(updated) == {"A": "one", "C": "c2", "C__PREVIOUS": "multi\nline", "B": "new", "D": "4", "E": "5"}


def test_update_of_an_empty_or_unterminated_last_line() -> None:
    assert update_dotenv("", {"A": "1"}, filename="f") == "A='1'\n"
    assert update_dotenv("X=1", {"A": "1"}, filename="f") == "X=1\nA='1'\n"
    assert update_dotenv("A=0", {"A": "1"}, filename="f") == "A='1'"


@settings(deadline=None)
@given(
    st.dictionaries(keys, any_text.filter(lambda v: _env_file_form_exists(v)), max_size=6),
    st.dictionaries(keys, any_text.filter(lambda v: _env_file_form_exists(v)), max_size=4),
)
def test_update_then_parse_gives_the_merged_values(before: dict[str, str], updates: dict[str, str]) -> None:
    text = format_dotenv(before, header="comment")
    assert parse(update_dotenv(text, updates, filename="f")) == {**before, **updates}


# ------------------------------------------------- skclaw 0.1.0's dialect: found and refused

#: Files skclaw 0.1.0 read with a different value for a key -> the keys that differ.
LEGACY_DIFFERS: list[tuple[str, list[str]]] = [
    ('A="say \\"hi\\""\n', ["A"]),  # \" was an escape
    ('A="C:\\\\dir"\n', ["A"]),  # \\ was an escape
    ('A="col1\\tcol2"\n', ["A"]),  # \t was an escape
    ("A=a#b\n", ["A"]),  # a # not after whitespace was part of the value
    ("A=\x85x\n", ["A"]),  # Python's strip
    ("OK=1\nA='C:\\dir\\'\nB=x'\n", ["A", "B"]),  # '...\' ended A; now A runs on over B
]
#: Files both read the same (the common ones), and files 0.1.0 refused (nothing to protect).
LEGACY_SAME = [
    "# comment\nexport A=1\nB = two # c\nC='single # \\n'\nD=\"multi\nline\\n\"\nE=`tick`\nF=\nG=$X\n",
    'TOKEN="abc123"\nJSON=\'{"a": "b"}\'\nPEM="-----BEGIN-----\nMIIB\n-----END-----\n"\n',
    "A='x'y\n",  # 0.1.0 refused this file
    "1A=x\n",  # ... and this
]


@pytest.mark.parametrize(("text", "differing"), LEGACY_DIFFERS, ids=[f"row{i}" for i in range(len(LEGACY_DIFFERS))])
def test_legacy_differences_finds_changed_values(text: str, differing: list[str]) -> None:
    assert legacy_differences(text, loose(text)) == differing


@pytest.mark.parametrize("text", LEGACY_SAME, ids=[f"row{i}" for i in range(len(LEGACY_SAME))])
def test_legacy_differences_is_empty_when_nothing_changed(text: str) -> None:
    assert legacy_differences(text, loose(text)) == []


def _envfile(tmp_path: Path, text: str) -> EnvfileSource:
    source = EnvfileSource({}, SourceContext("staging", "demo-staging", tmp_path))
    source.path.parent.mkdir(exist_ok=True)
    source.path.write_text(text, encoding="utf-8")
    source.path.chmod(0o600)
    return source


@pytest.mark.parametrize(("text", "differing"), LEGACY_DIFFERS, ids=[f"row{i}" for i in range(len(LEGACY_DIFFERS))])
def test_envfile_refuses_a_file_whose_values_changed(tmp_path: Path, text: str, differing: list[str]) -> None:
    source = _envfile(tmp_path, text.replace("a#b", f"a#{CANARY}"))
    before = source.path.read_bytes()
    for attempt in (lambda: source.read(None), lambda: source.read_previous("A"),
                    lambda: source.write("NEW", SecretValue("v"))):
        with pytest.raises(UsageError) as caught:
            attempt()
        assert caught.value.exit_code == 2
        message = str(caught.value)
        assert f"{source.path} sets {differing[0]}" in message and "Rewrite that line" in message
        assert CANARY not in message
    assert source.path.read_bytes() == before


# ------------------------------------------- agreement: envfile, credentials, .dev.vars writer

# ---------------------------------------------------------------- wrangler's dialect (.dev.vars)

AWKWARD_DEV_VARS: dict[str, str] = {
    "PLAIN": "abc123",
    "EMPTY": "",
    "SPACES": "  padded  ",
    "SINGLE": "it's",
    "DOUBLE": 'say "hi"',
    "BACKTICK": "run `id`",
    "SINGLE_AND_DOUBLE": 'it\'s "x"',
    "ALL_QUOTES_ONE_LINE": "a'b\"c`d",
    "NEWLINES": "line1\nline2\n\nline4\n",
    "CR": "a\rb\r\nc",
    "CR_AND_SINGLE": "it's\r\n",
    "LITERAL_BACKSLASH_N": "C:\\new\\raw",
    "LITERAL_BACKSLASH_N_AND_QUOTE": "it's C:\\new",
    "ENDS_WITH_BACKSLASH": "C:\\dir\\",
    "ENDS_WITH_BACKSLASH_ONE_LINE": "x'\"`\\",
    "HASH": "a # b",
    "HASH_AND_TWO_QUOTES": "'# b\"",
    "EQUALS": "a=b==",
    "DOLLAR": "$HOME ${X}",
    "UNICODE": "pässwörd 密码 🔑 \u00a0",
    "LINE_SEPARATORS": "a\u2028b\u2029c",
    "JSON": '{"a": [1, 2], "b": "c"}',
    "PEM": "-----BEGIN KEY-----\nMIIB+/=\n-----END KEY-----\n",
    "TRAILING_NEWLINE_SINGLE": "x'\n",
    "DOTTED.KEY-NAME": "dots and dashes in the key",
    "LOOKS_LIKE_ASSIGNMENT": "x\nB=not a key\n# not a comment",
    "BOM": "\ufeffbom",
}


def test_awkward_values_reach_wrangler_unchanged(wrangler_dev_vars: WranglerDevVars) -> None:
    text = format_dev_vars(AWKWARD_DEV_VARS, header="written by skclaw; do not commit")
    assert wrangler_dev_vars.load_text(text) == AWKWARD_DEV_VARS


def test_each_awkward_value_alone(wrangler_dev_vars: WranglerDevVars) -> None:
    for key, value in AWKWARD_DEV_VARS.items():
        assert wrangler_dev_vars.load_text(format_dev_vars({key: value})) == {key: value}, key


def test_a_value_ending_in_backslash_does_not_swallow_the_next_keys(
    wrangler_dev_vars: WranglerDevVars,
) -> None:
    # dotenv's `'(?:\\'|[^'])*'` lets a quoted value that ends in a backslash run on to a later
    # quote at a line end; skclaw must never write such a value quoted.
    values = {"A": "a\\", "B": "x\\'y", "C": "q'\nr", "D": "\\"}
    assert wrangler_dev_vars.load_text(format_dev_vars(values)) == values


def _dev_vars_refusal_is_expected(value: str) -> bool:
    """A necessary condition for a refusal, spelled from the dialect's rules rather than from the
    writer: no quote character is free for the value."""
    free_quotes = [quote for quote in "'\"`" if quote not in value]
    if "\\n" in value or "\\r" in value:
        free_quotes = [quote for quote in free_quotes if quote != '"']
    if "\r" in value:
        free_quotes = [quote for quote in free_quotes if quote == '"']
    return not free_quotes or value.endswith("\\") or "\ud800" <= max(value, default="") <= "\udfff"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), any_text))
def test_what_format_dev_vars_accepts_wrangler_reads_back_exactly(
    wrangler_dev_vars: WranglerDevVars, values: dict[str, str]
) -> None:
    accepted: dict[str, str] = {}
    for key, value in values.items():
        try:
            format_dev_vars({key: value})
        except UsageError:
            assert _dev_vars_refusal_is_expected(value)
            continue
        accepted[key] = value
    text = format_dev_vars(accepted)
    assert wrangler_dev_vars.load_text(text) == accepted
    assert loose(text) == accepted


@pytest.mark.parametrize(
    "template",
    [
        "all 'three\" `quotes\nand a newline {c}",
        " 'leading space and all three\"` {c}",
        "'\"`# {c}",
        "'\"` trailing space {c} ",
        '"\r {c}',  # a carriage return can only be written inside double quotes
        "\\n\r {c}",  # ... where a literal backslash-n would turn into a newline
        "{c} \r\\",  # ... and a value may not end in a backslash
        "multi\nline {c} ending in backslash\\",
        " leading space, {c} ending in backslash\\",
        "lone surrogate {c} \ud800",
    ],
)
def test_unrepresentable_values_are_refused_naming_the_key(template: str) -> None:
    with pytest.raises(UsageError) as caught:
        format_dev_vars({"FINE": "ok", "MY_TOKEN": template.format(c=CANARY)})
    message = str(caught.value)
    assert "MY_TOKEN" in message and "FINE" not in message.split("\n")[0]
    assert CANARY not in message and CANARY not in repr(caught.value)


def test_common_values_are_never_refused(wrangler_dev_vars: WranglerDevVars) -> None:
    # Every value without a carriage return that lacks one of the quote characters and does not
    # end in a backslash has a form; so does any one-line value with no # and no outer spaces.
    # Each is written (not refused) and wrangler reads exactly that value back.
    for value in ["x'\n\"", "`\n'", 'a\\b\n"`', "x'\"`", "#'\"", "a\\"]:
        assert wrangler_dev_vars.load_text(format_dev_vars({"K": value})) == {"K": value}, value


def test_dev_vars_keys_must_be_dotenv_keys() -> None:
    with pytest.raises(UsageError, match="'BAD KEY'"):
        format_dev_vars({"BAD KEY": "x"})


# ------------------------------------------- agreement: envfile, credentials, .dev.vars writer


def test_one_set_of_values_reads_the_same_everywhere(tmp_path: Path, wrangler_dev_vars: WranglerDevVars) -> None:
    """Newlines, quotes, #, $, unicode, outer spaces: written by each writer, read by each reader."""
    values = {key: value for key, value in AWKWARD_DEV_VARS.items() if is_dotenv_key(key)}
    assert {"NEWLINES", "DOUBLE", "HASH", "DOLLAR", "UNICODE", "SPACES"} <= set(values)

    # The envfile source writes each value, then reads them back; wrangler reads its file the same.
    source = EnvfileSource({}, SourceContext("staging", "demo-staging", tmp_path))
    for key, value in values.items():
        source.write(key, SecretValue(value))
    envfile_text = source.path.read_text("utf-8")
    assert {key: value.reveal() for key, value in source.read(None).items()} == values
    assert parse(envfile_text) == values
    assert wrangler_dev_vars.load_text(envfile_text) == values

    # The .dev.vars writer's file: read by the parser, by wrangler, and by the envfile source.
    dev_vars = format_dev_vars(values, header="written by skclaw")
    assert parse(dev_vars) == values
    assert wrangler_dev_vars.load_text(dev_vars) == values
    source.path.write_text(dev_vars, encoding="utf-8")
    assert {key: value.reveal() for key, value in source.read(None).items()} == values

    # credentials reads the names of the same file as a .env wrangler loads.
    (tmp_path / ".env.staging").write_text(dev_vars, encoding="utf-8")
    assert dotenv_names(tmp_path, "staging") == set(values)


def test_credentials_reads_names_as_wrangler_does(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# CLOUDFLARE_API_TOKEN=commented out\n"
        "MULTI='line one\nCLOUDFLARE_EMAIL=inside a value'\n"
        "export CLOUDFLARE_API_KEY: colon form\n"
        "1DIGIT=x\n"
        "not an assignment\n",
        encoding="utf-8",
    )
    assert dotenv_names(tmp_path, "production") == {"MULTI", "CLOUDFLARE_API_KEY", "1DIGIT"}
