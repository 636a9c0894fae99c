"""Sign-in: password check, temporary lock-out, and the same answer for every failure.

Lock-out is counted per typed user name (as a keyed hash), whether or not the account exists:
an unknown name locks exactly like a real one, so the lock-out message reveals nothing, and
the unknown name costs the same argon2 work as a wrong password.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, delete, select

from counsel import audit
from counsel.clock import utcnow
from counsel.extensions import db, upsert
from counsel.models.user import LoginThrottle, User
from counsel.services import passwords
from counsel.settings import Settings


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    user: User | None = None
    locked_until: datetime | None = None


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def throttle_key(username: str, settings: Settings) -> str:
    """Key a typed user name under the app secret, so the table holds no typed names (or typos of passwords)."""
    return hmac.new(
        settings.secret_key.encode(), b"login|" + normalise_username(username).encode(), hashlib.sha256
    ).hexdigest()


def find_user(username: str) -> User | None:
    return db.session.scalars(select(User).where(User.username == normalise_username(username))).first()


def locked_until(key: str) -> datetime | None:
    """Return until when a typed name is locked, or None."""
    until = db.session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))
    return until if until is not None and until > utcnow() else None


def check_password(username: str, password: str, settings: Settings) -> Attempt:
    """Verify user name and password; count failures; rehash when the parameters changed."""
    key = throttle_key(username, settings)
    until = locked_until(key)
    if until is not None:
        return Attempt(Outcome.LOCKED, locked_until=until)
    user = find_user(username)
    ok = passwords.verify(user.password_hash if user else None, password, settings)
    if not ok or user is None or not user.active:
        return record_failure(key, settings)
    if passwords.needs_rehash(user.password_hash, settings):
        user.password_hash = passwords.hash_password(password, settings)
    return Attempt(Outcome.OK, user=user)


def record_failure(key: str, settings: Settings) -> Attempt:
    """Count a failed attempt atomically; lock the name when the threshold is reached."""
    now = utcnow()
    lock_at = settings.login_lockout_threshold
    lock_for = now + timedelta(minutes=settings.login_lockout_minutes)
    table = cast(Table, LoginThrottle.__table__)
    expired = table.c.locked_until.is_not(None) & (table.c.locked_until <= now)
    failures = case((expired, 1), else_=table.c.failures + 1)
    statement = upsert(table).values(
        key=key, failures=1, last_failure_at=now, locked_until=lock_for if lock_at <= 1 else None
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": failures,
            "last_failure_at": now,
            "locked_until": case((failures >= lock_at, lock_for), (expired, None), else_=table.c.locked_until),
        },
    )
    db.session.execute(statement)
    return Attempt(Outcome.FAILED, locked_until=locked_until(key))


def clear_failures(key: str) -> None:
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def record_refusal(typed_name: str, *, locked: bool, second_factor: bool = False) -> None:
    """Record a failed sign-in; a name that matches no account is not stored (it may be a password)."""
    user = find_user(typed_name) if typed_name else None
    detail = "locked" if locked else ("second_factor" if second_factor else "password")
    audit.record("sign_in_failed", actor=user, actor_name=None if user else "(unknown name)", detail=detail)
