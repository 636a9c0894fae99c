"""The one source of the current time: naive UTC for timestamps (both databases store it that way),
and the calendar day of the service's time zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Return the current time in UTC without tzinfo, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_today(zone: str) -> date:
    """Return the calendar day in a time zone (the service's day, not Greenwich's)."""
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
