"""The offline D1 migration lint: real .sql files in a temporary directory, real SQLite.

Which migrations lose data is checked against a corpus in ``test_migrations_corpus.py``; these
tests cover file handling, messages and the replay's edges.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skclaw.errors import ExitCode, UsageError
from skclaw.migrations import (
    Finding,
    lint_migrations,
    list_migration_files,
    sha256_of,
    split_statements,
)

INIT = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), body TEXT);
"""


def write(directory: Path, files: dict[str, str | bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return directory


def lint(tmp_path: Path, pending_sql: str, *, init: str = INIT, **kwargs: object) -> list[Finding]:
    """Lint one pending file on top of one applied file."""
    directory = write(
        tmp_path / "migrations", {"0001_init.sql": init, "0002_next.sql": pending_sql}
    )
    return lint_migrations(directory, ["0001_init.sql"], ["0002_next.sql"], **kwargs)  # type: ignore[arg-type]


def codes(findings: list[Finding]) -> list[tuple[str, str | None, str | None]]:
    return [(f.code, f.table, f.column) for f in findings]


# --- file order -----------------------------------------------------------------------------------


def test_files_are_ordered_by_numeric_prefix_like_wrangler(tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "10_ten.sql": "",
            "2_two.sql": "",
            "1_one.sql": "",
            "0003.sql": "",  # no "_": parseInt("0003.sql") is 3
            "seed.sql": "",  # no number: after the numbered ones
            "README.md": "",
            "2_notes.txt": "",
        },
    )
    (directory / "archive").mkdir()
    assert list_migration_files(directory) == [
        "1_one.sql",
        "2_two.sql",
        "0003.sql",
        "10_ten.sql",
        "seed.sql",
    ]


def test_equal_numbers_keep_name_order_and_parse_int_rules_apply(tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "0002_b.sql": "",
            "2_a.sql": "",
            "0x10_hex.sql": "",  # parseInt("0x10") is 16
            "-1_neg.sql": "",
            "zeta.sql": "",
            "alpha.sql": "",
            "12abc_x.sql": "",  # leading digits only
            " 5_space.sql": "",  # parseInt skips leading white space
            "9" * 200 + "_huge.sql": "",  # beyond 2**53: a float, as in JS
        },
    )
    assert list_migration_files(directory) == [
        "-1_neg.sql",
        "0002_b.sql",
        "2_a.sql",
        " 5_space.sql",
        "12abc_x.sql",
        "0x10_hex.sql",
        "9" * 200 + "_huge.sql",
        "alpha.sql",
        "zeta.sql",
    ]


def test_a_directory_named_like_a_migration_is_listed_but_cannot_be_linted(
    tmp_path: Path,
) -> None:
    (tmp_path / "2_dir.sql").mkdir()
    write(tmp_path, {"1_a.sql": "SELECT 1;"})
    assert list_migration_files(tmp_path) == ["1_a.sql", "2_dir.sql"]  # as wrangler lists it
    with pytest.raises(UsageError, match=r"cannot read migration 2_dir\.sql"):
        lint_migrations(tmp_path, ["1_a.sql"], ["2_dir.sql"])


def test_a_file_is_not_a_migrations_directory(tmp_path: Path) -> None:
    write(tmp_path, {"migrations": "not a directory"})
    with pytest.raises(UsageError, match="cannot read the migrations directory"):
        list_migration_files(tmp_path / "migrations")
    with pytest.raises(UsageError, match="No migrations present"):
        lint_migrations(tmp_path / "migrations", [], [])


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No migrations present") as listing:
        list_migration_files(tmp_path / "nope")
    assert listing.value.exit_code == ExitCode.USAGE
    with pytest.raises(UsageError, match="No migrations present"):
        lint_migrations(tmp_path / "nope", [], [])


# --- schema findings ------------------------------------------------------------------------------


def test_drop_table(tmp_path: Path) -> None:
    findings = lint(tmp_path, "DROP TABLE posts;")
    assert codes(findings) == [("drop-table", "posts", None)]
    assert findings[0].destructive
    assert findings[0].file == "0002_next.sql"
    assert findings[0].message == "drops table posts: DROP TABLE posts (line 1)"
    assert (findings[0].line, findings[0].statement) == (1, "DROP TABLE posts")


def test_drop_table_if_exists_of_a_missing_table_is_not_a_finding(tmp_path: Path) -> None:
    assert lint(tmp_path, "DROP TABLE IF EXISTS never_created;") == []


def test_table_names_compare_case_insensitively(tmp_path: Path) -> None:
    assert codes(lint(tmp_path, "DROP TABLE USERS;")) == [("drop-table", "users", None)]
    findings = lint(tmp_path / "b", "ALTER TABLE Users DROP COLUMN NAME;")
    assert codes(findings) == [("drop-column", "users", "name")]


def test_alter_table_drop_column(tmp_path: Path) -> None:
    findings = lint(tmp_path, "ALTER TABLE users DROP COLUMN name;")
    assert codes(findings) == [("drop-column", "users", "name")]
    assert findings[0].destructive


def test_rebuild_that_loses_a_column_is_a_drop_column(tmp_path: Path) -> None:
    rebuild = """
    PRAGMA foreign_keys = OFF;
    CREATE TABLE new_users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
    INSERT INTO new_users (id, email) SELECT id, email FROM users;
    DROP TABLE users;
    ALTER TABLE new_users RENAME TO users;
    PRAGMA foreign_keys = ON;
    """
    findings = lint(tmp_path, rebuild)
    assert codes(findings) == [("drop-column", "users", "name")]
    # Blamed on the statement after which the values exist nowhere.
    assert findings[0].message == "drops column name of table users: DROP TABLE users (line 5)"


def test_rebuild_that_keeps_every_column_is_not_a_finding(tmp_path: Path) -> None:
    rebuild = """
    CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);
    INSERT INTO users_new SELECT * FROM users;
    DROP TABLE users;
    ALTER TABLE users_new RENAME TO users;
    """
    assert lint(tmp_path, rebuild) == []


def test_create_table_as_select_counts_as_a_copy(tmp_path: Path) -> None:
    rebuild = """
    CREATE TABLE tmp AS SELECT id, user_id FROM posts;
    DROP TABLE posts;
    ALTER TABLE tmp RENAME TO posts;
    """
    assert codes(lint(tmp_path, rebuild)) == [("drop-column", "posts", "body")]


def test_drop_and_recreate_without_copying_rows_is_a_drop_table(tmp_path: Path) -> None:
    findings = lint(
        tmp_path,
        "DROP TABLE posts;\nCREATE TABLE posts (id INTEGER PRIMARY KEY, user_id, body TEXT);",
    )
    assert codes(findings) == [("drop-table", "posts", None)]
    assert "creates it again without its rows" in findings[0].message


def test_rename_table_is_informational(tmp_path: Path) -> None:
    findings = lint(tmp_path, "ALTER TABLE posts RENAME TO articles;")
    assert codes(findings) == [("rename-table", "posts", None)]
    assert findings[0].message.startswith("renames table posts to articles: ALTER TABLE")
    assert not findings[0].destructive


def test_rename_then_add_column_is_still_only_a_rename(tmp_path: Path) -> None:
    findings = lint(
        tmp_path,
        "ALTER TABLE posts RENAME TO articles;\nALTER TABLE articles ADD COLUMN title TEXT;",
    )
    assert codes(findings) == [("rename-table", "posts", None)]


def test_rename_then_drop_column_reports_both(tmp_path: Path) -> None:
    findings = lint(
        tmp_path, "ALTER TABLE posts RENAME TO articles;\nALTER TABLE articles DROP COLUMN body;"
    )
    assert codes(findings) == [("rename-table", "posts", None), ("drop-column", "posts", "body")]
    assert [f.destructive for f in findings] == [False, True]


def test_rename_column_is_not_a_drop_column(tmp_path: Path) -> None:
    findings = lint(tmp_path, "ALTER TABLE posts RENAME COLUMN body TO content;")
    assert codes(findings) == [("rename-column", "posts", "body")]
    assert findings[0].message.startswith("renames column body of table posts to content: ")
    assert not findings[0].destructive


def test_tables_created_and_dropped_in_the_same_file_are_not_findings(tmp_path: Path) -> None:
    sql = "CREATE TABLE scratch (x);\nALTER TABLE scratch DROP COLUMN x;\nDROP TABLE scratch;"
    with pytest.raises(UsageError):  # SQLite refuses to drop a table's only column
        lint(tmp_path, sql)
    assert lint(tmp_path / "b", "CREATE TABLE scratch (x, y);\nDROP TABLE scratch;") == []


def test_fts_virtual_table_drop_is_one_finding(tmp_path: Path) -> None:
    findings = lint(
        tmp_path,
        "DROP TABLE search;",
        init="CREATE VIRTUAL TABLE search USING fts5(title, body);",
    )
    assert codes(findings) == [("drop-table", "search", None)]


def test_internal_and_ignored_tables_are_not_reported(tmp_path: Path) -> None:
    init = "CREATE TABLE cache (k, v);"
    # The replay creates wrangler's migrations table, under its configured name.
    sql = "DROP TABLE cache;\nDROP TABLE d1_migrations;"
    assert lint(tmp_path, sql, init=init, ignore_tables=["CACHE"]) == []
    assert lint(tmp_path / "b", "DROP TABLE d1_mig;", migrations_table="d1_mig") == []
    assert codes(lint(tmp_path / "c", sql, init=init)) == [("drop-table", "cache", None)]


# --- row findings (the replay: canary rows in every pre-existing table) ----------------------------


def test_delete_without_where(tmp_path: Path) -> None:
    findings = lint(tmp_path, "DELETE FROM posts;")
    assert codes(findings) == [("delete-rows", "posts", None)]
    assert findings[0].destructive
    assert "line 1" in findings[0].message


def test_delete_with_schema_and_quotes_names_the_table(tmp_path: Path) -> None:
    findings = lint(tmp_path, 'DELETE FROM main."posts" RETURNING id;')
    assert codes(findings) == [("delete-rows", "posts", None)]


def test_a_where_that_matches_no_canary_row_is_not_a_finding(tmp_path: Path) -> None:
    assert lint(tmp_path, "DELETE FROM posts WHERE user_id IS NULL;") == []
    assert lint(tmp_path / "b", "DELETE FROM posts WHERE id = 42;") == []


def test_a_where_that_matches_every_row_is_a_finding(tmp_path: Path) -> None:
    sql = "delete from posts where id in (select id from posts);"
    assert codes(lint(tmp_path, sql)) == [("delete-rows", "posts", None)]


def test_delete_after_with_clause(tmp_path: Path) -> None:
    sql = "WITH old AS (SELECT id FROM posts WHERE id < 10) DELETE FROM posts;"
    assert codes(lint(tmp_path, sql)) == [("delete-rows", "posts", None)]
    sql = "WITH old AS (SELECT id FROM posts WHERE id < 10) DELETE FROM posts WHERE id IN old;"
    assert lint(tmp_path / "b", sql) == []


def test_update_with_where_only_inside_a_subquery_is_a_finding(tmp_path: Path) -> None:
    sql = "UPDATE posts SET body = (SELECT email FROM users WHERE users.id = posts.user_id);"
    findings = lint(tmp_path, sql)
    assert codes(findings) == [("change-values", "posts", "body")]
    assert findings[0].destructive


def test_update_with_top_level_where_is_not_a_finding(tmp_path: Path) -> None:
    sql = "UPDATE posts SET body = (SELECT email FROM users WHERE id = 1) WHERE body IS NULL;"
    assert lint(tmp_path, sql) == []


def test_update_or_replace_without_where_names_the_table(tmp_path: Path) -> None:
    findings = lint(tmp_path, "UPDATE OR REPLACE users SET name = lower(name);")
    assert codes(findings) == [("change-values", "users", "name")]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE users SET email = trim(email);",
        "UPDATE users SET email = lower(email) WHERE email <> lower(email);",
    ],
)
def test_normalising_values_in_place_changes_them(tmp_path: Path, sql: str) -> None:
    assert codes(lint(tmp_path, sql)) == [("change-values", "users", "email")]


def test_canary_values_stay_distinctive_under_a_check_that_forbids_spaces(
    tmp_path: Path,
) -> None:
    init = "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE CHECK (name = trim(name)));"
    findings = lint(tmp_path, "UPDATE tags SET name = lower(name);", init=init)
    assert codes(findings) == [("change-values", "tags", "name")]


def test_dropping_a_referenced_table_is_judged_as_if_nothing_referenced_it(
    tmp_path: Path,
) -> None:
    # With foreign keys on, the canary posts make DROP TABLE users fail in SQLite. Production
    # may have users without posts, so the replay runs it again with foreign keys off.
    findings = lint(tmp_path, "DROP TABLE users;")
    assert codes(findings) == [("drop-table", "users", None)]


def test_a_loss_through_a_trigger_says_so(tmp_path: Path) -> None:
    sql = """
    CREATE TRIGGER posts_cleanup AFTER UPDATE ON users BEGIN DELETE FROM posts; END;
    UPDATE users SET name = name;
    """
    findings = lint(tmp_path, sql)
    assert codes(findings) == [("delete-rows", "posts", None)]
    assert findings[0].line == 3 and findings[0].statement == "UPDATE users SET name = name"
    assert "(through a trigger or a foreign key action)" in findings[0].message


def test_comments_are_not_statements(tmp_path: Path) -> None:
    sql = """
    -- DELETE FROM posts;
    /* UPDATE users SET name = NULL;
       DELETE FROM users; */
    CREATE TABLE tags (name TEXT); -- DROP TABLE users;
    """
    assert lint(tmp_path, sql) == []


def test_semicolons_and_keywords_inside_strings(tmp_path: Path) -> None:
    sql = """
    INSERT INTO posts (body) VALUES ('DELETE FROM posts; -- not a comment');
    INSERT INTO posts (body) VALUES ('it''s; UPDATE users SET name = 1;');
    CREATE TABLE "odd;name" ([semi;colon] TEXT, `back;tick` TEXT);
    """
    assert lint(tmp_path, sql) == []
    statements = split_statements(sql)
    assert len(statements) == 3
    assert statements[0].text.strip().endswith("('DELETE FROM posts; -- not a comment');")
    assert statements[2].line == 4


def test_delete_inside_a_trigger_body_is_not_run_now(tmp_path: Path) -> None:
    sql = """
    CREATE TRIGGER users_gone AFTER DELETE ON users BEGIN
      DELETE FROM posts;
      UPDATE users SET name = NULL;
    END;
    """
    assert lint(tmp_path, sql) == []
    assert len(split_statements(sql)) == 1


def test_not_null_without_default(tmp_path: Path) -> None:
    findings = lint(tmp_path, "ALTER TABLE users ADD COLUMN age INTEGER NOT NULL;")
    assert codes(findings) == [("not-null-without-default", "users", "age")]
    assert "without a DEFAULT" in findings[0].message


@pytest.mark.parametrize(
    "column",
    ["age INTEGER NOT NULL DEFAULT 0", "age INTEGER DEFAULT 'x' NOT NULL", "age INTEGER"],
)
def test_add_column_that_is_fine(tmp_path: Path, column: str) -> None:
    assert lint(tmp_path, f"ALTER TABLE users ADD COLUMN {column};") == []


@pytest.mark.parametrize(
    ("column", "error"),
    [
        ("age INTEGER CHECK (age IS NOT NULL)", "CHECK constraint failed"),
        ("age INTEGER NOT NULL DEFAULT (1 + 1)", "non-constant default"),
    ],
)
def test_add_column_that_fails_when_the_table_has_rows_is_a_note(
    tmp_path: Path, column: str, error: str
) -> None:
    # SQLite accepts these on an empty table only; D1 would refuse the file, losing nothing.
    findings = lint(tmp_path, f"ALTER TABLE users ADD COLUMN {column};\nDROP TABLE posts;")
    assert codes(findings) == [("fails-with-rows", None, None), ("drop-table", "posts", None)]
    assert error in findings[0].message and not findings[0].destructive


@pytest.mark.parametrize("default", ["DEFAULT NULL", "DEFAULT (NULL)", ""])
def test_a_null_default_is_no_default(tmp_path: Path, default: str) -> None:
    findings = lint(tmp_path, f"ALTER TABLE users ADD age INTEGER NOT NULL {default};")
    assert codes(findings) == [("not-null-without-default", "users", "age")]


def test_not_null_without_default_on_a_table_with_rows_keeps_linting(tmp_path: Path) -> None:
    # SQLite refuses this statement because the replayed table has a row; the finding stands
    # and the rest of the file is still checked.
    init = INIT + "INSERT INTO users (email) VALUES ('a@example.com');"
    sql = "ALTER TABLE users ADD COLUMN age INTEGER NOT NULL;\nDROP TABLE posts;"
    findings = lint(tmp_path, sql, init=init)
    assert codes(findings) == [
        ("not-null-without-default", "users", "age"),
        ("drop-table", "posts", None),
    ]


def test_a_new_table_with_not_null_columns_is_fine(tmp_path: Path) -> None:
    assert lint(tmp_path, "CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL);") == []


# --- replay ---------------------------------------------------------------------------------------


def test_broken_sql_is_a_usage_error_naming_file_and_sqlite_message(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        lint(tmp_path, "CREATE TABLE ok (x);\nINSERT INTO missing VALUES (1);")
    error = raised.value
    assert error.exit_code == ExitCode.USAGE
    assert "0002_next.sql" in error.message
    assert "no such table: missing" in error.message
    assert "line 2" in error.message
    assert error.hint is not None and "0002_next.sql" in error.hint


def test_syntax_error_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"0002_next\.sql.*syntax error"):
        lint(tmp_path, "CREAT TABLE x (a);")


def test_broken_applied_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"applied migration 0001_init\.sql does not replay"):
        lint(tmp_path, "SELECT 1;", init="CREATE TABLE (;")


def test_applied_files_are_replayed_before_pending_ones(tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "1_users.sql": "CREATE TABLE users (id, name);",
            "2_rename.sql": "ALTER TABLE users RENAME TO people;",
            "10_drop.sql": "DROP TABLE people;",
        },
    )
    files = list_migration_files(directory)
    assert files == ["1_users.sql", "2_rename.sql", "10_drop.sql"]
    findings = lint_migrations(directory, files[:2], files[2:])
    assert codes(findings) == [("drop-table", "people", None)]
    # Without the applied history, the pending file cannot run.
    with pytest.raises(UsageError, match="no such table: people"):
        lint_migrations(directory, [], files[2:])


def test_rows_written_between_pending_files_count(tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "1_a.sql": "CREATE TABLE a (x, y);",
            "2_b.sql": "CREATE TABLE new_a (x); INSERT INTO new_a SELECT x FROM a;",
            "3_c.sql": "DROP TABLE a; ALTER TABLE new_a RENAME TO a;",
        },
    )
    findings = lint_migrations(directory, ["1_a.sql"], ["2_b.sql", "3_c.sql"])
    # Canary rows are placed before each file: those written after 2_b.sql's copy are lost by
    # 3_c.sql, and so is column y of the earlier ones.
    assert [(f.file, f.code, f.table, f.column, f.line) for f in findings] == [
        ("3_c.sql", "drop-table", "a", None, 1),
        ("3_c.sql", "drop-column", "a", "y", 1),
    ]
    # Tables the pending set creates hold no canary rows: nothing of theirs counts.
    assert lint_migrations(directory, [], ["1_a.sql", "2_b.sql", "3_c.sql"]) == []


def test_missing_applied_file_is_a_usage_error(tmp_path: Path) -> None:
    directory = write(tmp_path, {"2_b.sql": "DROP TABLE IF EXISTS users;"})
    with pytest.raises(UsageError, match=r"applied migration 1_a\.sql is not in") as raised:
        lint_migrations(directory, ["1_a.sql"], ["2_b.sql"])
    assert raised.value.hint is not None and "restore" in raised.value.hint


@pytest.mark.parametrize("name", ["../outside.sql", "", "sub/x.sql", ".."])
def test_names_must_be_plain_file_names(tmp_path: Path, name: str) -> None:
    write(tmp_path, {"outside.sql": "SELECT 1;"})
    directory = write(tmp_path / "migrations", {"1_a.sql": "SELECT 1;"})
    with pytest.raises(UsageError, match="not a file name"):
        lint_migrations(directory, [name], ["1_a.sql"])


def test_invalid_utf8_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    directory = write(tmp_path, {"1_bad.sql": b"SELECT '\xff\xfe';"})
    with pytest.raises(UsageError, match=r"1_bad\.sql is not valid UTF-8"):
        lint_migrations(directory, [], ["1_bad.sql"])


def test_utf8_with_bom_and_crlf_is_read(tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "1_a.sql": "\ufeffCREATE TABLE é (x);\r\n".encode(),
            "2_b.sql": "\ufeff\r\nDELETE FROM é;\r\n".encode(),
        },
    )
    findings = lint_migrations(directory, ["1_a.sql"], ["2_b.sql"])
    assert codes(findings) == [("delete-rows", "é", None)]
    assert findings[0].line == 2


def test_attach_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "leak.db"
    for sql in (f"ATTACH DATABASE '{target}' AS leak;", f"VACUUM INTO '{target}';"):
        with pytest.raises(UsageError, match="too many attached databases"):
            lint(tmp_path / "m", sql)
    assert not target.exists()


def test_a_runaway_query_is_stopped(tmp_path: Path) -> None:
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n;"
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"took longer than 0\.3 s"):
        lint(tmp_path, sql, timeout=0.3)
    assert time.monotonic() - started < 10


def test_finding_json_and_destructive() -> None:
    finding = Finding("drop-column", "3_x.sql", "drops column c of table t", table="t", column="c")
    assert finding.to_json() == {
        "code": "drop-column",
        "file": "3_x.sql",
        "message": "drops column c of table t",
        "table": "t",
        "column": "c",
        "line": None,
        "statement": None,
        "destructive": True,
    }
    assert finding.destructive
    assert not Finding("rename-table", "3_x.sql", "renames table a to b").destructive


def test_sha256_of(tmp_path: Path) -> None:
    path = tmp_path / "1_a.sql"
    path.write_bytes(b"CREATE TABLE a (x);\n" * 10_000)
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(UsageError, match="cannot read"):
        sha256_of(tmp_path / "missing.sql")


# --- robustness -----------------------------------------------------------------------------------

SQLISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "DELETE FROM users",
                "UPDATE posts SET body = 1",
                "DROP TABLE posts",
                "ALTER TABLE users ADD COLUMN c INT NOT NULL",
                "ALTER TABLE users DROP COLUMN name",
                "CREATE TABLE t (a)",
                "WHERE",
                "(",
                ")",
                ";",
                "'",
                '"',
                "--",
                "/*",
                "*/",
                "[",
                "`",
                "BEGIN",
                "END",
                "CREATE TRIGGER x AFTER INSERT ON users BEGIN",
                "\n",
                " ",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=20),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), SQLISH))
def test_any_ascii_text_gives_findings_or_a_usage_error(sql: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = write(Path(tmp), {"0001_init.sql": INIT})
        (directory / "0002_x.sql").write_bytes(sql.encode("ascii"))
        try:
            findings = lint_migrations(directory, ["0001_init.sql"], ["0002_x.sql"], timeout=2)
        except UsageError as error:
            assert "0002_x.sql" in error.message
        else:
            assert all(isinstance(f, Finding) and f.file == "0002_x.sql" for f in findings)


SAFE_STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS posts_user ON posts (user_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email)",
    "DROP INDEX IF EXISTS posts_user",
    "ALTER TABLE users ADD COLUMN nickname TEXT",
    "ALTER TABLE users ADD COLUMN score INTEGER NOT NULL DEFAULT 0",
    "CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
    "INSERT OR IGNORE INTO tags (name) VALUES ('news')",
    "CREATE VIEW IF NOT EXISTS post_counts AS SELECT user_id, count(*) AS n FROM posts GROUP BY 1",
    "INSERT INTO users (email, name) VALUES ('new@example.com', 'New')",
    "UPDATE users SET name = name WHERE id > 0",
    "DELETE FROM users WHERE email = 'nobody@example.com'",
    "PRAGMA foreign_key_check",
    "SELECT count(*) FROM posts",
]


# Also fine after each loss below (they use neither posts nor users.name).
SAFE_AFTER = [
    s
    for s in SAFE_STATEMENTS
    if not any(word in s for word in ("posts", "name = name", "'New'", "ADD COLUMN"))
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SAFE_STATEMENTS), max_size=8, unique=True))
def test_statements_that_keep_every_row_and_value_are_never_destructive(
    statements: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sql = "".join(f"{s};\n" for s in statements)
        directory = write(Path(tmp), {"0001_init.sql": INIT, "0002_x.sql": sql})
        findings = lint_migrations(directory, ["0001_init.sql"], ["0002_x.sql"])
        assert [f for f in findings if f.destructive] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(st.sampled_from(SAFE_STATEMENTS), max_size=4, unique=True),
    loss=st.sampled_from(
        [
            ("DELETE FROM posts WHERE 1 = 1", "delete-rows", "posts"),
            ("DELETE FROM users WHERE id IS NOT NULL", "delete-rows", "users"),
            ("UPDATE posts SET body = NULL WHERE true", "change-values", "posts"),
            ("DROP TABLE posts", "drop-table", "posts"),
            ("ALTER TABLE users DROP COLUMN name", "drop-column", "users"),
        ]
    ),
    after=st.lists(st.sampled_from(SAFE_AFTER), max_size=4, unique=True),
)
def test_a_loss_is_found_and_blamed_whatever_surrounds_it(
    before: list[str], loss: tuple[str, str, str], after: list[str]
) -> None:
    statement, code, table = loss
    with tempfile.TemporaryDirectory() as tmp:
        sql = "".join(f"{s};\n" for s in [*before, statement, *after])
        directory = write(Path(tmp), {"0001_init.sql": INIT, "0002_x.sql": sql})
        findings = lint_migrations(directory, ["0001_init.sql"], ["0002_x.sql"])
        line = sql[: sql.index(statement)].count("\n") + 1
        blamed = [(f.code, f.table, f.line) for f in findings if f.destructive]
        assert (code, table, line) in blamed
        assert {blamed_line for _, _, blamed_line in blamed} == {line}
