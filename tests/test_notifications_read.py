"""Reading her messages changes nothing; only her own "mark as read" does (no GET changes state).

A page that marks messages read on GET lets a prefetching browser, a link preview or a
cross-site <img> swallow an emergency notice before she has seen it.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from counsel.extensions import db
from counsel.models.safety import Notification
from counsel.models.user import User


def notice(user: User, actor: str = "Carla Kollegin") -> Notification:
    item = Notification(user_id=user.id, kind="emergency_access", case_number="DO-2026-0001", actor_name=actor)
    db.session.add(item)
    db.session.commit()
    return item


def unread(user: User) -> list[int]:
    return list(db.session.scalars(select(Notification.id).where(Notification.user_id == user.id,
                                                                 Notification.read_at.is_(None))))


def newest_shown(html: str) -> str:
    match = re.search(r'name="newest" value="(\d+)"', html)
    assert match, "no mark-as-read button"
    return match.group(1)


def test_viewing_messages_leaves_them_unread(adviser, signed_in):
    first = notice(adviser)
    browser = signed_in(adviser)
    for _ in range(2):
        page = browser.get("/notifications")
        assert page.status_code == 200 and 'class="unread"' in page.get_data(as_text=True)
    assert unread(adviser) == [first.id]


def test_mark_as_read_is_a_post_that_spares_a_message_she_has_not_seen(adviser, signed_in):
    seen = notice(adviser)
    browser = signed_in(adviser)
    shown = newest_shown(browser.get("/notifications").get_data(as_text=True))
    later = notice(adviser, actor="Eva Notfall")  # arrives while the page is open
    response = browser.submit("/notifications/read", {"newest": shown})
    assert response.status_code == 302 and response.location.endswith("/notifications")
    assert unread(adviser) == [later.id] and seen.id not in unread(adviser)


def test_no_one_marks_another_persons_messages_or_does_it_without_a_token(adviser, make_user, signed_in):
    mine = notice(adviser)
    assert signed_in(make_user("carla")).submit("/notifications/read", {"newest": str(mine.id)}).status_code == 302
    assert signed_in(adviser).post("/notifications/read", data={"newest": str(mine.id)}).status_code == 400
    assert unread(adviser) == [mine.id]
