"""`wrangler d1 migrations list | apply`, `d1 execute`, `d1 time-travel info`, and their output."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from skclaw.errors import FailedError
from skclaw.wrangler.core import (
    WranglerCore,
    WranglerResult,
    box_tables,
    flag,
    json_after_logs,
    positional,
    unreported,
)

# What wrangler 4.x prints (stdout, ANSI stripped by the core).
NO_PENDING_MARK = "No migrations to apply!"
PENDING_MARK = "Migrations to be applied:"
FAILED_MIGRATION_RE = re.compile(r"Migration (.+?) failed with the following errors:")
APPLIED, FAILED, NOT_RUN = "applied", "failed", "not-run"


def parse_pending(stdout: str) -> list[str]:
    """Pending migration names from `d1 migrations list` (wrangler lists only pending ones).
    Output skclaw does not recognise is an error, never "nothing pending"."""
    if NO_PENDING_MARK in stdout:
        return []
    if PENDING_MARK not in stdout:
        raise FailedError(
            "wrangler d1 migrations list printed neither a list nor 'No migrations to apply'",
            hint="Run it by hand to see what it says; skclaw understands wrangler 4.x output.",
        )
    tables = box_tables(stdout.split(PENDING_MARK, 1)[1])
    if not tables:
        raise FailedError("wrangler d1 migrations list printed no table of pending migrations")
    return [row[0] for row in tables[0] if row and row[0]]


def parse_apply_statuses(stdout: str) -> dict[str, str]:
    """Each migration's final status from `d1 migrations apply`: its last (name, status) table.

    wrangler 4.86 redraws the table after every migration: ✅ applied, ❌ failed, 🕒️ not run yet.
    A ❌ can come with exit 0 (a statement answered success:false), so ❌ is read here, not
    only the exit code.
    """
    tables = [rows for rows in box_tables(stdout) if rows and all(len(r) >= 2 for r in rows)]
    if not tables:
        return {}
    statuses = {}
    for name, status, *_ in tables[-1]:
        statuses[name] = APPLIED if "✅" in status else FAILED if "❌" in status else NOT_RUN
    return statuses


def parse_bookmark(stdout: str) -> str:
    try:
        data = json_after_logs(stdout, "{")
    except ValueError:
        data = None
    bookmark = data.get("bookmark") if isinstance(data, dict) else None
    if not isinstance(bookmark, str) or not bookmark:
        raise FailedError(
            "wrangler d1 time-travel info --json printed no bookmark",
            hint=stdout.strip()[:300] or None,
        )
    return bookmark


def parse_query_results(stdout: str) -> list[list[dict[str, Any]]]:
    """The rows of each statement of `d1 execute` output (a JSON list, one query result per statement)."""
    try:
        data = json_after_logs(stdout, "[")
    except ValueError:
        raise FailedError("wrangler d1 execute printed no JSON result") from None
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        raise FailedError("wrangler d1 execute printed an unexpected result")
    return [[row for row in item.get("results") or [] if isinstance(row, dict)] for item in data]


def parse_query_rows(stdout: str) -> list[dict[str, Any]]:
    """Rows of the last statement of `d1 execute` output."""
    return parse_query_results(stdout)[-1]


def quote_identifier(name: str) -> str:
    """An SQLite identifier in double quotes (as the newest wrangler quotes the ledger's name)."""
    return '"' + name.replace('"', '""') + '"'


def ledger_bootstrap_sql(table: str) -> str:
    """What `wrangler d1 migrations list | apply` sends first: the ledger table, if missing."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(table)}(\n\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,"
        "\n\t\tname TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n);"
    )


def ledger_select_sql(table: str) -> str:
    return f"SELECT name FROM {quote_identifier(table)} ORDER BY id;"


def failed_migration(detail: str) -> tuple[str | None, str]:
    """(file, database error) from the stderr summary of a failed `d1 migrations apply`."""
    match = FAILED_MIGRATION_RE.search(detail)
    if not match:
        return None, detail.strip()
    rest = detail[match.end() :].strip() or detail[: match.start()].strip()
    return match[1], rest or "no error message"


def _location(remote: bool) -> str:
    return "--remote" if remote else "--local"


class D1Commands(WranglerCore):
    def d1_pending(self, env: str, binding: str, *, remote: bool) -> list[str]:
        done = self.call(
            ["d1", "migrations", "list", positional(binding, "D1 binding"), _location(remote)],
            env=env, what=f"wrangler d1 migrations list {binding}",
        )
        return parse_pending(done.stdout)

    def d1_query(self, env: str, binding: str, sql: str, *, remote: bool, what: str) -> list[dict[str, Any]]:
        """Rows of a read-only query (`d1 execute --command`)."""
        return self.d1_query_all(env, binding, sql, remote=remote, what=what)[-1]

    def d1_query_all(self, env: str, binding: str, sql: str, *, remote: bool, what: str) -> list[list[dict[str, Any]]]:
        """The rows of each statement of ``sql``, run as one `d1 execute --command` (one request)."""
        # Without --json: with it, wrangler 4.86 prints errors as JSON on stdout only. Not a
        # terminal, so wrangler prints the result as JSON after its log lines anyway.
        done = self.call(
            ["d1", "execute", positional(binding, "D1 binding"), _location(remote), flag("--command", sql)],
            env=env, what=what,
        )
        return parse_query_results(done.stdout)

    def d1_applied(
        self, env: str, binding: str, *, table: str, remote: bool, also: Sequence[str] = (),
    ) -> tuple[list[str], list[list[dict[str, Any]]]]:
        """The names in the migrations ledger ``table``, oldest first, and the rows of the read-only
        statements ``also``: one wrangler start instead of `migrations list` plus a query.

        The ledger is read as `d1 migrations list` reads it, bootstrap included (it creates the
        table when missing, exactly like `migrations list | apply`), so files minus these names, in
        wrangler's file order, is what `d1 migrations apply` would apply.
        """
        sql = " ".join([ledger_bootstrap_sql(table), ledger_select_sql(table), *also])
        results = self.d1_query_all(env, binding, sql, remote=remote, what=f"reading {table}")
        if len(results) != 2 + len(also):
            raise FailedError(
                f"wrangler d1 execute answered {len(results)} results for {2 + len(also)} statements"
            )
        names = [str(row["name"]) for row in results[1] if row.get("name") is not None]
        return names, results[2:]

    def d1_execute(self, env: str, binding: str, sql: str, *, remote: bool, what: str) -> WranglerResult:
        """A write (`d1 execute --yes --command`); callers make it idempotent, so it is retried."""
        done = self.call(
            ["d1", "execute", positional(binding, "D1 binding"), _location(remote), "--yes", flag("--command", sql)],
            env=env, what=what,
        )
        # Its result comes only once D1 answered (see `unreported`).
        try:
            parse_query_results(done.stdout)
        except FailedError:
            raise unreported(
                f"{what}: wrangler d1 execute exited 0 without printing its result (its process may have "
                "been killed); whether the write happened is unknown",
                done,
            ) from None
        return done

    def d1_bookmark(self, env: str, binding: str) -> str:
        done = self.call(
            ["d1", "time-travel", "info", positional(binding, "D1 binding"), "--json"],
            env=env, what="wrangler d1 time-travel info",
        )
        return parse_bookmark(done.stdout)

    def d1_apply(self, env: str, binding: str, *, remote: bool) -> WranglerResult:
        # Never retried: a migration may have been applied before the error.
        return self.call(
            ["d1", "migrations", "apply", positional(binding, "D1 binding"), _location(remote)],
            env=env, what="wrangler d1 migrations apply", retry=False,
        )
