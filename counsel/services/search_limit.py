"""How many names an adviser may search for in an hour.

A name search tells whether a woman is counselled here and by whom, so a colleague must not
test name after name. The count lives in the rate-limit storage (Redis in production), so all
worker processes count the same searches; it is keyed by her account, not by her address.
A search refused over the limit is on the trail too. When the count cannot be kept (Redis
down), the search is refused rather than left unlimited.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from flask_babel import LazyString, format_time
from flask_babel import lazy_gettext as _l
from limits import RateLimitItemPerHour
from limits.errors import StorageError

from counsel import audit
from counsel.errors import CounselError
from counsel.extensions import limiter
from counsel.models.user import User

log = logging.getLogger(__name__)


class SearchRefused(CounselError):
    """The search was not made; the message says why and when she can search again."""


class SearchLimitReached(SearchRefused):
    """She has searched for as many names this hour as the service allows; the message says until when."""

    status = 429


class SearchUnavailable(SearchRefused):
    """The count of searches cannot be kept (its storage is down): no search until it can."""

    status = 503


def count(actor: User) -> None:
    """Count one name search of hers, refusing it once the hour's limit is reached."""
    per_hour: int = current_app.config["COUNSEL"].name_search_per_hour
    limit = RateLimitItemPerHour(per_hour)
    try:
        allowed = limiter.limiter.hit(limit, "name-search", str(actor.id))
    except StorageError:
        log.exception("the name search count cannot be kept; searches are refused until it can")
        audit.record("name_search_refused", actor=actor, detail="count_unavailable")
        raise SearchUnavailable(_l("The name search is paused: the number of searches cannot be counted right "
                                   "now. Please try again in a few minutes; if it persists, tell your "
                                   "administration.")) from None
    if not allowed:
        audit.record("name_search_refused", actor=actor, detail=f"limit={per_hour}")
        reset = limiter.limiter.get_window_stats(limit, "name-search", str(actor.id)).reset_time
        until = datetime.fromtimestamp(reset, UTC).replace(tzinfo=None)
        raise SearchLimitReached(_l("Name searches are limited to %(count)d an hour, because each search tells "
                                    "who holds a case. You can search again at %(time)s.", count=per_hour,
                                    time=LazyString(format_time, until, "short")))  # shown in her time zone
