"""The one source of the current time, as naive UTC (both databases store it that way)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC without tzinfo, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)
