"""Passwords: argon2id hashing with OWASP parameters, and a policy by length and common lists.

No composition rules (NIST SP 800-63B): length, a list of common passwords, and not the user
name. Anything longer than the maximum is refused before hashing, so a megabyte "password"
costs nothing.
"""

from __future__ import annotations

import secrets
import string
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

from counsel.errors import CounselError
from counsel.settings import Settings


class PasswordRejected(CounselError):
    """The password breaks the policy; the message says which rule."""


def hasher(settings: Settings) -> PasswordHasher:
    """Return the argon2id hasher for the configured parameters."""
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
    )


@lru_cache(maxsize=8)
def dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    """A hash to verify against for unknown users, so they cost the same time as known ones."""
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_hex(16))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("counsel").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_policy(password: str, settings: Settings, username: str = "") -> None:
    """Raise PasswordRejected if the password is too short, too long, common or the user name."""
    if len(password) > settings.password_max_length:
        raise PasswordRejected(
            _l("The password is longer than %(max)d characters.", max=settings.password_max_length)
        )
    if len(password) < settings.password_min_length:
        raise PasswordRejected(
            _l("The password needs at least %(min)d characters.", min=settings.password_min_length)
        )
    folded = password.casefold()
    if folded in common_passwords() or len(set(folded)) < 4:
        raise PasswordRejected(_l("This password is too common or too simple. Please choose another."))
    if username and username.casefold() in folded:
        raise PasswordRejected(_l("The password must not contain the user name."))


def hash_password(password: str, settings: Settings) -> str:
    return hasher(settings).hash(password)


def verify(password_hash: str | None, password: str, settings: Settings) -> bool:
    """Check a password in constant work whether or not the account exists."""
    if len(password) > settings.password_max_length:
        return False
    target = password_hash or dummy_hash(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
    try:
        ok = hasher(settings).verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str, settings: Settings) -> bool:
    return hasher(settings).check_needs_rehash(password_hash)


def one_time_password() -> str:
    """Generate a readable one-time password (about 100 bits) for new accounts and resets."""
    alphabet = string.ascii_lowercase + string.digits
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)
