"""The one source of the current time: naive UTC for timestamps (both databases store it that way),
and the calendar day of the service's time zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """Return the current time in UTC without tzinfo, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_today(zone: str) -> date:
    """Return the calendar day in a time zone (the service's day, not Greenwich's)."""
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


def today() -> date:
    """The service's calendar day, on which consents, shares, follow-ups and dates on forms turn.

    In its own time zone: a consent that expired yesterday must stop at local midnight, not at
    one or two in the morning when Greenwich's day ends.
    """
    zone = current_app.config["COUNSEL"].timezone if has_app_context() else "UTC"
    return local_today(zone)
