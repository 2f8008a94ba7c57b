"""Times as people read them: "5 minutes ago (2026-11-30 07:00 UTC)"."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(value: object, now: datetime | None = None) -> str:
    """Relative time with the absolute one beside it; the input as it is when it is no time."""
    moment = parse_iso(value)
    if moment is None:
        return str(value or "?")
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 0:
        relative = "in the future"
    elif seconds < 60:
        relative = "just now"
    else:
        for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"),
                           (60, "minute")):
            if seconds >= size:
                count = seconds // size
                relative = f"{count} {unit}{'s' if count != 1 else ''} ago"
                break
    return f"{relative} ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
