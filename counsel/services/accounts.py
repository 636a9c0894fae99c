"""Accounts and sites: creation, roles, deactivation and resets, with the last-admin rule.

Each change is checked against counsel.access here, whoever calls (a view, the command line, a
confirmed request), and each writes its own event on the audit trail. The actor is a signed-in
person or the operator on the server, named for the trail (she holds the keys anyway;
docs/security.md). A change carried out for a request that a second person confirmed takes
its authority from that request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from counsel import audit
from counsel.access import (
    AccountChange,
    manages_accounts,
    may_change_account,
    needs_second_person,
    roles_needing_confirmation,
)
from counsel.clock import utcnow
from counsel.errors import Conflict, CounselError, NotPermitted
from counsel.extensions import db
from counsel.models.change_request import ChangeRequest, RequestKind, RequestStatus
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


# A signed-in person, or the operator on the server named for the trail (audit.OPERATOR).
Actor = User | str

REFUSALS = {
    AccountChange.PROFILE: _l("Only administrators manage accounts and sites."),
    AccountChange.ACCESS: _l("Nobody changes her own roles or sites: another administrator does."),
    AccountChange.SECOND_FACTOR: _l("Nobody resets her own second factor here: use your recovery codes, or ask "
                                    "another administrator."),
    AccountChange.PASSWORD: _l("Change your own password on your account page."),
    AccountChange.ACTIVE: _l("You cannot do this to your own account."),
}


# Which kind of request, once confirmed, carries out which change.
CONFIRMS = {AccountChange.ACCESS: RequestKind.ROLES.value, AccountChange.SECOND_FACTOR: RequestKind.RESET_TOTP.value,
            AccountChange.PASSWORD: RequestKind.RESET_PASSWORD.value}


def authorise(actor: Actor, account: User | None, change: AccountChange,
              confirmed: ChangeRequest | None = None, *, asking: bool = False) -> None:
    """Raise NotPermitted unless this actor may make (or, `asking`, ask for) this change to this account.

    `account` None is a new account or a site. The operator is not checked: she runs the
    server. A confirmed request about this account carries the two people's authority
    (two_person checked who decided). Anyone else needs access.may_change_account, and a change
    that opens a way past her sign-in is only asked for, never made alone.
    """
    if isinstance(actor, str):
        return
    if confirmed is not None and account is not None:
        if (confirmed.status == RequestStatus.CONFIRMED.value and confirmed.account_id == account.id
                and confirmed.kind == CONFIRMS.get(change)):
            return
        raise NotPermitted(_l("This request has not been confirmed."))
    allowed = manages_accounts(actor) if account is None else may_change_account(actor, account, change)
    if not allowed:
        raise NotPermitted(REFUSALS[change])
    if not asking and account is not None and needs_second_person(account, change):
        raise NotPermitted(_l("This change waits for a second person: ask for it, and another administrator or "
                              "a coordinator of the site confirms it."))


def _refuse_roles_alone(actor: Actor, current: set[Role], wanted: set[Role]) -> None:
    if not isinstance(actor, str) and roles_needing_confirmation(current, wanted):
        raise NotPermitted(_l("This role waits for a second person: ask for it, and another administrator or a "
                              "coordinator of the site confirms it."))


@dataclass(frozen=True)
class NewAccount:
    user: User
    one_time_password: str | None


def create_site(code: str, name: str, *, actor: Actor) -> Site:
    """Create a site; the code becomes the prefix of its case numbers."""
    authorise(actor, None, AccountChange.PROFILE)
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
    audit.record("site_created", actor=actor, detail=site.code)
    return site


def update_site(site: Site, *, name: str, active: bool, actor: Actor) -> None:
    """Rename a site or close it (never delete: its cases and statistics keep its code)."""
    authorise(actor, None, AccountChange.PROFILE)
    name = name.strip()
    if not name:
        raise AccountError(_l("A site needs a name."))
    changes = [f"{label}={before}->{after}" for label, before, after in
               (("name", site.name, name), ("active", site.active, active)) if before != after]
    site.name, site.active = name, active
    if changes:
        audit.record("site_changed", actor=actor, detail=f"{site.code} " + "; ".join(changes))


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
    actor: Actor,
    password: str | None = None,
    locale: str = "de",
    supervised: set[int] | None = None,
    awaiting: set[Role] | None = None,
) -> NewAccount:
    """Create an account; without a password, a one-time password is generated and must be changed.

    `awaiting` are the roles asked for from a second person (two_person.request_roles): the
    account starts with `roles` only, possibly none.
    """
    authorise(actor, None, AccountChange.ACCESS)
    _refuse_roles_alone(actor, set(), roles)
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            _l("A user name has 3 to 64 characters: small letters, digits, dot, dash or underscore.")
        )
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_l("The user name %(name)s is taken.", name=username))
    if not roles and not awaiting:
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
    user.set_supervised_sites(supervised or set())
    db.session.add(user)
    db.session.flush()
    audit.record("user_created", actor=actor, target_user=user, detail="roles=" + _role_list(roles))
    return NewAccount(user, one_time)


def _role_list(roles: set[Role]) -> str:
    return ",".join(sorted(role.value for role in roles))


def _access_facts(user: User) -> dict[str, str]:
    """What access an account has, and where: the facts whose change the trail names."""
    return {"roles": _role_list(user.roles), "site": user.site.code,
            "supervises": ",".join(str(site_id) for site_id in sorted(user.supervised_site_ids - {user.site_id}))}


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


def update_user(user: User, *, display_name: str, site: Site, roles: set[Role], locale: str, actor: Actor,
                supervised: set[int] | None = None, awaiting: set[Role] | None = None,
                confirmed: ChangeRequest | None = None) -> None:
    """Change name, site, roles, supervised sites and language; the last active admin keeps the admin role.

    Access ends with its reason: a new site or new roles end her sessions, so nothing she opened
    under the old ones stays open, and leaving the site or the adviser role ends the shares she
    holds or gave (see cases.end_shares_of). `awaiting` are roles asked for from a second person
    (services.two_person): with them, she may hold none meanwhile. `confirmed` is the request
    whose confirmation this change carries out.
    """
    if not roles and not awaiting:
        raise AccountError(_l("Choose at least one role."))
    if locale not in LOCALES:
        raise AccountError(_l("Unknown language."))
    supervised = user.supervised_site_ids - {user.site_id} if supervised is None else supervised - {site.id}
    before = _access_facts(user)
    moved = site.id != user.site_id
    changed_roles = roles != user.roles
    new_scope = supervised != user.supervised_site_ids - {user.site_id}
    if moved or changed_roles or new_scope:
        authorise(actor, user, AccountChange.ACCESS, confirmed)
        if confirmed is None:
            _refuse_roles_alone(actor, user.roles, roles)
        elif roles - user.roles - confirmed.role_set or moved or new_scope:
            raise NotPermitted(_l("This request has not been confirmed."))  # it gave these roles, nothing else
    else:
        authorise(actor, user, AccountChange.PROFILE)
    left_advising = user.has_role(Role.ADVISER) and Role.ADVISER not in roles
    with _keeping_an_admin(user):
        user.display_name = display_name.strip() or user.username
        user.site = site
        user.locale = locale
        user.set_roles(roles)
        user.set_supervised_sites(supervised)
    if moved or left_advising:
        cases.end_shares_of(user, "site_changed" if moved else "adviser_role_removed", actor)
        safety.end_emergency_access(user)
    if moved or changed_roles:
        end_user_sessions(user.id)
    after = _access_facts(user)
    if changes := "; ".join(f"{name}={before[name]}->{after[name]}" for name in before if before[name] != after[name]):
        audit.record("user_changed", actor=actor, target_user=user, detail=changes)


def deactivate(user: User, *, actor: Actor) -> None:
    """Deactivate (never delete), end every session and share of the user; the last active admin stays."""
    authorise(actor, user, AccountChange.ACTIVE)
    with _keeping_an_admin(user):
        user.active = False
        user.deactivated_at = utcnow()
        end_user_sessions(user.id)
        cases.end_shares_of(user, "deactivated", actor)
        safety.end_emergency_access(user)
    audit.record("deactivate", actor=actor, target_user=user)


def reactivate(user: User, *, actor: Actor) -> None:
    """Let a deactivated account sign in again; it no longer counts as deactivated.

    Ended shares and sessions stay ended: reactivating opens no case by itself.
    """
    authorise(actor, user, AccountChange.ACTIVE)
    user.active = True
    user.deactivated_at = None
    audit.record("reactivate", actor=actor, target_user=user)


def reset_password(user: User, settings: Settings, *, actor: Actor, confirmed: ChangeRequest | None = None) -> str:
    """Set a one-time password that must be changed at the next sign-in; end all sessions.

    Directly only where her second factor still guards her (access.needs_second_person). The
    trail names who reset it: she is told at her next sign-in (two_person.password_resets_since).
    """
    authorise(actor, user, AccountChange.PASSWORD, confirmed)
    one_time = passwords.one_time_password()
    user.password_hash = passwords.hash_password(one_time, settings)
    user.must_change_password = True
    user.password_changed_at = utcnow()
    end_user_sessions(user.id)
    audit.record("password_reset", actor=actor, target_user=user,
                 detail=f"confirmed by {confirmed.decided_by_name}" if confirmed else "")
    return one_time


def reset_totp(user: User, *, actor: Actor, confirmed: ChangeRequest | None = None) -> None:
    """Remove the second factor and its recovery codes; the user enrols again at next sign-in."""
    authorise(actor, user, AccountChange.SECOND_FACTOR, confirmed)
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_counter = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_user_sessions(user.id)
    audit.record("reset_totp", actor=actor, target_user=user)


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
