"""D1 migrations offline: wrangler's file order, SQL statements, and the canary replay that
decides whether pending migrations lose data (DESIGN.md, "Safety policy").

``order``     wrangler's file order, checksums, reading files
``sql``       SQLite's lexical structure: statements, names, renames
``replay``    the verdict: pending migrations replayed over canary rows
``canaries``  canary rows that fit a table's types and constraints
``findings``  what is reported, with stable codes
"""

from skclaw.migrations.findings import Finding
from skclaw.migrations.order import list_migration_files, sha256_of
from skclaw.migrations.replay import lint_migrations
from skclaw.migrations.sql import Statement, split_statements

__all__ = [
    "Finding",
    "Statement",
    "lint_migrations",
    "list_migration_files",
    "sha256_of",
    "split_statements",
]
