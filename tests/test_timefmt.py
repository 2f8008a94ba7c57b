"""Times as people read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skclaw.timefmt import ago

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T11:59:30Z", "just now (2026-11-30 11:59 UTC)"),
        ("2026-11-30T11:54:59.5Z", "5 minutes ago (2026-11-30 11:54 UTC)"),
        ("2026-11-30T11:00:00+00:00", "1 hour ago (2026-11-30 11:00 UTC)"),
        ("2026-11-28T12:00:00Z", "2 days ago (2026-11-28 12:00 UTC)"),
        ("2025-10-01T00:00:00Z", "1 year ago (2025-10-01 00:00 UTC)"),
        ("2026-12-01T00:00:00Z", "in the future (2026-12-01 00:00 UTC)"),
        ("not a time", "not a time"),
        (None, "?"),
    ],
)
def test_relative_times_keep_the_absolute_one_beside(value: object, expected: str) -> None:
    assert ago(value, now=NOW) == expected
