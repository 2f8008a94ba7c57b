"""skclaw's dotenv dialect (parse, format, update) and wrangler's (.dev.vars), the latter proved
against wrangler's own loader (its bundled npm dotenv), not against a re-implementation."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skclaw.errors import UsageError
from skclaw.secrets.dotenv import (
    format_dev_vars,
    format_dotenv,
    is_dotenv_key,
    parse_dotenv,
    update_dotenv,
)

if TYPE_CHECKING:
    from tests.backends import WranglerDevVars



CANARY = f"canary-{secrets.token_hex(8)}"

# Characters that break naive dotenv writers and readers.
NASTY = [*"'\"`\\=#$ \t\n\r\v\f{}", "\\n", "\\r", "\u00a0", "\u2028", "\u2029", "\ufeff"]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8")), max_size=30).map("".join)
any_text = st.one_of(st.text(), nasty_text)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


def parse(text: str) -> dict[str, str]:
    return parse_dotenv(text, filename="test.env").values


# ------------------------------------------------------------------------- skclaw's dialect


def test_comments_blank_lines_and_export() -> None:
    text = "# a comment\n\n   # indented comment\nexport A=1\n  B = two  \nexport\tC=3\n"
    assert parse(text) == {"A": "1", "B": "two", "C": "3"}


def test_unquoted_values_are_trimmed_and_cut_at_a_comment() -> None:
    text = "A=  spaced value  \nB=value # comment\nC=a#b\nD=\nE= # only a comment\nF=x=y\n"
    assert parse(text) == {
        "A": "spaced value",
        "B": "value",
        "C": "a#b",
        "D": "",
        "E": "",
        "F": "x=y",
    }


def test_single_quotes_are_literal() -> None:
    assert parse("A='x \\n \"y\" # z'\n") == {"A": 'x \\n "y" # z'}


def test_double_quotes_understand_escapes() -> None:
    text = 'A="1\\n2\\r3\\t4\\"5\\\\6\\x"\n'
    assert parse(text) == {"A": '1\n2\r3\t4"5\\6\\x'}


def test_backticks_are_literal() -> None:
    assert parse('A=`it\'s "quoted"`\n') == {"A": 'it\'s "quoted"'}


def test_quoted_values_span_lines_and_allow_a_trailing_comment() -> None:
    text = "A='line 1\nline 2' # comment\nB=\"x\n\ny\"\nC=`\n`\nD=after\n"
    assert parse(text) == {"A": "line 1\nline 2", "B": "x\n\ny", "C": "\n", "D": "after"}


def test_crlf_and_byte_order_mark() -> None:
    assert parse("\ufeffA=1\r\nB='x\r\ny'\r\nC=3\r") == {"A": "1", "B": "x\ny", "C": "3"}


def test_duplicates_last_wins_and_are_reported() -> None:
    parsed = parse_dotenv("A=1\nB=2\nA=3\nA=4\nB=5\n", filename="f")
    assert parsed.values == {"A": "4", "B": "5"}
    assert parsed.duplicates == ["A", "B"]


def test_parse_result_does_not_show_values() -> None:
    parsed = parse_dotenv(f"A={CANARY}\n", filename="f")
    assert CANARY not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (f"A=1\n{CANARY}\n", 2, "expected KEY=value"),
        (f"A=1\n\n1BAD={CANARY}\n", 3, "expected KEY=value"),
        (f"A=1\nB='{CANARY}\n", 2, "never closed"),
        (f'A="{CANARY}\\"\n', 1, "never closed"),
        (f"A=`{CANARY}", 1, "never closed"),
        (f"A='x'{CANARY}\n", 1, "unexpected text after the quoted value of A"),
        (f"A='x\ny' {CANARY}\n", 2, "unexpected text after the quoted value of A"),
        (f"export {CANARY}\n", 1, "expected KEY=value"),
    ],
    # fixed ids: the canary is random, and xdist needs every worker to collect the same names
    ids=["no-equals", "bad-key", "open-single", "open-double", "open-backtick", "after-quote",
         "after-multiline-quote", "bare-export"],
)
def test_invalid_lines_name_file_and_line_never_the_value(text: str, line: int, what: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_dotenv(text, filename="/p/.secrets/staging.env")
    message = str(caught.value)
    assert f"/p/.secrets/staging.env, line {line}:" in message
    assert what in message
    assert CANARY not in message and CANARY not in repr(caught.value)


@given(st.dictionaries(keys, any_text, max_size=8))
@example({"A": "", "B": " ", "C": "\\", "D": '"', "E": "'", "F": "`", "G": "#", "H": "\r\n"})
@example({"A": "\\n", "B": '\\"', "C": "x\\", "D": "\ufeff", "E": "a #b", "F": "=\n="})
def test_format_then_parse_gives_the_values_back(values: dict[str, str]) -> None:
    assert parse(format_dotenv(values)) == values


def test_format_writes_a_header_as_comments() -> None:
    text = format_dotenv({"A": "1"}, header="first\nsecond")
    assert text == '# first\n# second\nA="1"\n'
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
    text = "# header\nexport A='one' # why\nB=old\n\nC=\"multi\nline\"  # trailing\nB=older-duplicate-is-last\nD=4\n"
    updated = update_dotenv(
        text,
        {"B": "new", "C": "c2", "C__PREVIOUS": "multi\nline", "E": "5"},
        filename="f",
        place_after={"C__PREVIOUS": "C"},
    )
    assert updated == ('# header\nexport A=\'one\' # why\n\nC="c2"\nC__PREVIOUS="multi\\nline"\nB="new"\nD=4\nE="5"\n')


def test_update_of_an_empty_or_unterminated_last_line() -> None:
    assert update_dotenv("", {"A": "1"}, filename="f") == 'A="1"\n'
    assert update_dotenv("X=1", {"A": "1"}, filename="f") == 'X=1\nA="1"\n'
    assert update_dotenv("A=0", {"A": "1"}, filename="f") == 'A="1"'


@given(
    st.dictionaries(keys, any_text, max_size=6),
    st.dictionaries(keys, any_text, max_size=4),
)
def test_update_then_parse_gives_the_merged_values(before: dict[str, str], updates: dict[str, str]) -> None:
    text = format_dotenv(before, header="comment")
    assert parse(update_dotenv(text, updates, filename="f")) == {**before, **updates}


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


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), any_text))
def test_what_format_dev_vars_accepts_wrangler_reads_back_exactly(
    wrangler_dev_vars: WranglerDevVars, values: dict[str, str]
) -> None:
    try:
        text = format_dev_vars(values)
    except UsageError:
        return  # refusals are covered below; hypothesis finds plenty of accepted values
    assert wrangler_dev_vars.load_text(text) == values


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
