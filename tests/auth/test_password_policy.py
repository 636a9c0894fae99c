"""The password policy, where people choose passwords: their own account page and `users create`.

Length (12 to 256), no common password, not the user name. A refused password changes nothing,
says which rule it broke, and never reaches argon2 (an overlong one would cost server time).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from counsel.cli import cli
from counsel.extensions import db
from counsel.models.user import User
from tests.conftest import PASSWORD

NAME = "berta"
SENTENCE = "quiet rivers carry old stones home "


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    output: str


def through_the_account_page(make_user, signed_in, password: str) -> Outcome:
    user = make_user(NAME)
    user.locale = "en"  # so the messages read as in the rules below
    db.session.commit()
    client = signed_in(user)
    before = user.password_hash
    response = client.submit("/account/password", {"current": PASSWORD, "new": password, "confirm": password})
    db.session.refresh(user)
    accepted = response.status_code == 302 and response.location == "/login?m=changed"
    assert accepted == (user.password_hash != before)  # refused means unchanged
    assert accepted != (client.get("/").status_code == 200)  # a change ends the session, a refusal keeps it
    return Outcome(accepted, response.get_data(as_text=True))


def through_users_create(app, password: str) -> Outcome:
    result = app.test_cli_runner().invoke(cli, ["users", "create", NAME, "--role", "adviser", "--site", "DO",
                                                "--password-stdin"], input=password + "\n")
    created = db.session.scalars(select(User).where(User.username == NAME)).first() is not None
    assert created == (result.exit_code == 0)  # refused means no account
    return Outcome(created, result.output)


@pytest.fixture(params=["account page", "users create"])
def choose(request, app, site, make_user, signed_in, new_client):
    """Choose a password for the account `berta` one way or the other; return what happened."""

    def choose(password: str) -> Outcome:
        if request.param == "account page":
            return through_the_account_page(make_user, signed_in, password)
        outcome = through_users_create(app, password)
        if outcome.accepted:
            assert new_client().sign_in(NAME, password).status_code == 302
        return outcome

    return choose


@pytest.fixture
def argon2_inputs(monkeypatch) -> list[str]:
    """Record every password argon2 hashes or verifies."""
    seen: list[str] = []
    hash_, verify = PasswordHasher.hash, PasswordHasher.verify

    def spy_hash(self, password, *args, **kwargs):
        seen.append(password)
        return hash_(self, password, *args, **kwargs)

    def spy_verify(self, stored, password):
        seen.append(password)
        return verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "hash", spy_hash)
    monkeypatch.setattr(PasswordHasher, "verify", spy_verify)
    return seen


@pytest.mark.parametrize("password", ["mild autumns", (SENTENCE * 8)[:128], (SENTENCE * 8)[:256]],
                         ids=["12 characters", "128 characters", "256 characters"])
def test_passwords_from_12_to_256_characters_are_accepted(choose, password):
    assert choose(password).accepted


@pytest.mark.settings(default_locale="en")
@pytest.mark.parametrize(("password", "message"), [
    ("mild autumn", "The password needs at least 12 characters."),
    ((SENTENCE * 8)[:257], "The password is longer than 256 characters."),
    ("Passwort1234", "This password is too common or too simple. Please choose another."),
    ("my friend Berta at the river", "The password must not contain the user name."),
], ids=["11 characters", "257 characters", "common", "contains the user name"])
def test_a_password_breaking_a_rule_is_refused_with_its_reason_before_hashing(choose, argon2_inputs, password,
                                                                            message):
    outcome = choose(password)
    assert not outcome.accepted
    assert message in outcome.output
    assert password not in argon2_inputs
