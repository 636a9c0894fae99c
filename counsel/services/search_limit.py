"""How many names an adviser may search for in an hour.

A name search tells whether a woman is counselled here and by whom, so a colleague must not
test name after name. The count lives in the rate-limit storage (Redis in production), so all
worker processes count the same searches; it is keyed by her account, not by her address.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask_babel import LazyString, format_time
from flask_babel import lazy_gettext as _l
from limits import RateLimitItemPerHour

from counsel.errors import CounselError
from counsel.extensions import limiter
from counsel.models.user import User


class SearchLimitReached(CounselError):
    """She has searched for as many names this hour as the service allows; the message says until when."""

    status = 429


def count(actor: User) -> None:
    """Count one name search of hers, refusing it once the hour's limit is reached."""
    per_hour: int = current_app.config["COUNSEL"].name_search_per_hour
    limit = RateLimitItemPerHour(per_hour)
    if not limiter.limiter.hit(limit, "name-search", str(actor.id)):
        reset = limiter.limiter.get_window_stats(limit, "name-search", str(actor.id)).reset_time
        until = datetime.fromtimestamp(reset, UTC).replace(tzinfo=None)
        raise SearchLimitReached(_l("Name searches are limited to %(count)d an hour, because each search tells "
                                    "who holds a case. You can search again at %(time)s.", count=per_hour,
                                    time=LazyString(format_time, until, "short")))  # shown in her time zone
