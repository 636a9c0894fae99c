"""Accounts and sites: creation, roles, deactivation and resets, with the last-admin rule."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from counsel import audit
from counsel.clock import utcnow
from counsel.errors import Conflict, CounselError, NotPermitted
from counsel.extensions import db
from counsel.models.site import Site
from counsel.models.user import RecoveryCode, Role, User, UserRole
from counsel.services import cases, passwords, safety
from counsel.services.signin import clear_failures, normalise_username, record_failure, throttle_key
from counsel.sessions import end_user_sessions
from counsel.settings import Settings

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
SITE_CODE_PATTERN = re.compile(r"^[A-Z]{2,8}$")
LOCALES = ("de", "en")


class AccountError(CounselError):
    """An account change was refused; the message says why."""


class LockedOut(AccountError):
    """Too many wrong passwords: sign-in for her name is paused and every session of hers has ended."""


@dataclass(frozen=True)
class NewAccount:
    user: User
    one_time_password: str | None


def create_site(code: str, name: str) -> Site:
    """Create a site; the code becomes the prefix of its case numbers."""
    code = code.strip().upper()
    name = name.strip()
    if not SITE_CODE_PATTERN.match(code):
        raise AccountError(_l("A site code has 2 to 8 capital letters, e.g. DO."))
    if not name:
        raise AccountError(_l("A site needs a name."))
    if db.session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(_l("A site with the code %(code)s exists already.", code=code))
    site = Site(code=code, name=name, active=True)
    db.session.add(site)
    db.session.flush()
    return site


def site_by_code(code: str) -> Site:
    site = db.session.scalars(select(Site).where(Site.code == code.strip().upper())).first()
    if site is None:
        raise AccountError(_l("There is no site with the code %(code)s.", code=code))
    return site


def create_user(
    settings: Settings,
    *,
    username: str,
    display_name: str,
    site: Site,
    roles: set[Role],
    password: str | None = None,
    locale: str = "de",
) -> NewAccount:
    """Create an account; without a password, a one-time password is generated and must be changed."""
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            _l("A user name has 3 to 64 characters: small letters, digits, dot, dash or underscore.")
        )
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_l("The user name %(name)s is taken.", name=username))
    if not roles:
        raise AccountError(_l("Choose at least one role."))
    if locale not in LOCALES:
        raise AccountError(_l("Unknown language."))
    one_time = None
    if password is None:
        one_time = passwords.one_time_password()
        password = one_time
    else:
        passwords.check_policy(password, settings, username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        site=site,
        password_hash=passwords.hash_password(password, settings),
        must_change_password=one_time is not None,
        active=True,
        locale=locale,
    )
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    return NewAccount(user, one_time)


def _active_admin_ids(*, lock: bool = False) -> set[uuid.UUID]:
    query = (
        select(User.id)
        .where(User.active.is_(True), User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.ADMIN.value)))
        .order_by(User.id)
    )
    if lock:
        query = query.with_for_update()  # SQLite leaves the clause out; its single writer serialises instead
    return set(db.session.scalars(query))


def active_admin_count() -> int:
    """Count the active accounts that hold the admin role."""
    return len(_active_admin_ids())


@contextmanager
def _keeping_an_admin(user: User) -> Iterator[None]:
    """Apply a change to `user`, then refuse it (rolling the transaction back) if no active admin is left.

    Counting first and changing afterwards lets two admins remove each other at the same moment.
    So the change is made and flushed, and the admins are counted again in the same transaction.
    On PostgreSQL the admin rows are locked first, so a concurrent removal waits for this one and
    then counts what it committed; on SQLite the flush takes the database's single write lock.
    """
    _active_admin_ids(lock=True)  # wait until a concurrent change of the admins has committed
    was_admin = user.id in _active_admin_ids()  # a fresh statement sees what that change committed
    yield
    db.session.flush()
    if was_admin and not _active_admin_ids():
        db.session.rollback()
        raise NotPermitted(_l("This is the last active administrator; name another one first."))


def update_user(user: User, *, display_name: str, site: Site, roles: set[Role], locale: str,
                actor: User | None = None, awaiting: set[Role] | None = None) -> None:
    """Change name, site, roles and language; the last active admin keeps the admin role.

    Access ends with its reason: a new site or new roles end her sessions, so nothing she opened
    under the old ones stays open, and leaving the site or the adviser role ends the shares she
    holds or gave (see cases.end_shares_of). `actor` is who made the change, for the trail.
    `awaiting` are roles asked for from a second person (services.two_person): with them, she may
    hold none meanwhile.
    """
    if not roles and not awaiting:
        raise AccountError(_l("Choose at least one role."))
    if locale not in LOCALES:
        raise AccountError(_l("Unknown language."))
    moved = site.id != user.site_id
    changed_roles = roles != user.roles
    left_advising = user.has_role(Role.ADVISER) and Role.ADVISER not in roles
    with _keeping_an_admin(user):
        user.display_name = display_name.strip() or user.username
        user.site = site
        user.locale = locale
        user.set_roles(roles)
    if moved or left_advising:
        cases.end_shares_of(user, "site_changed" if moved else "adviser_role_removed", actor)
        safety.end_emergency_access(user)
    if moved or changed_roles:
        end_user_sessions(user.id)


def deactivate(user: User, *, actor: User | None = None) -> None:
    """Deactivate (never delete), end every session and share of the user; the last active admin stays."""
    with _keeping_an_admin(user):
        user.active = False
        user.deactivated_at = utcnow()
        end_user_sessions(user.id)
        cases.end_shares_of(user, "deactivated", actor)
        safety.end_emergency_access(user)


def reactivate(user: User, *, actor: User | None = None) -> None:  # noqa: ARG001 - called like `deactivate`
    """Let a deactivated account sign in again; it no longer counts as deactivated.

    Ended shares and sessions stay ended: reactivating opens no case by itself.
    """
    user.active = True
    user.deactivated_at = None


def reset_password(user: User, settings: Settings) -> str:
    """Set a one-time password that must be changed at the next sign-in; end all sessions."""
    one_time = passwords.one_time_password()
    user.password_hash = passwords.hash_password(one_time, settings)
    user.must_change_password = True
    user.password_changed_at = utcnow()
    end_user_sessions(user.id)
    return one_time


def reset_totp(user: User) -> None:
    """Remove the second factor and its recovery codes; the user enrols again at next sign-in."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_counter = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_user_sessions(user.id)


def change_own_password(user: User, current: str, new: str, settings: Settings) -> None:
    """Change a password after checking the current one; every session of the user ends.

    A wrong current password is a guess like a failed sign-in: it counts towards the same lock-out
    of her name and is audited as one, and reaching the lock-out ends her sessions (LockedOut).
    The caller commits on AccountError too, so the count and the event stay.
    """
    key = throttle_key(user.username, settings)
    if not passwords.verify(user.password_hash, current, settings):
        attempt = record_failure(key, settings)
        audit.record("sign_in_failed", actor=user, detail="current_password")
        if attempt.locked_until is not None:
            end_user_sessions(user.id)
            raise LockedOut(_l("Too many failed attempts. The session was ended; please wait and sign in again."))
        raise AccountError(_l("The current password is not correct."))
    clear_failures(key)
    passwords.check_policy(new, settings, user.username)
    if passwords.verify(user.password_hash, new, settings):
        raise AccountError(_l("The new password must differ from the current one."))
    user.password_hash = passwords.hash_password(new, settings)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    end_user_sessions(user.id)
