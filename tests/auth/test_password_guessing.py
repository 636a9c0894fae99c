"""Guessing is guessing everywhere: wrong current passwords on the account page count like failed sign-ins.

The attack from issue 11: someone at an unlocked computer guesses the current password on
/account/password, twelve times, and is answered with 200 while the session lives on.
"""

from __future__ import annotations

from sqlalchemy import select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from tests.conftest import PASSWORD

NEW = "a completely new sentence 2026"


def change(client, current, token):
    return client.post("/account/password", data={"current": current, "new": NEW, "confirm": NEW,
                                                  "csrf_token": token})


def test_five_wrong_current_passwords_end_the_session_and_pause_sign_in(adviser, signed_in, new_client):
    client = signed_in(adviser)
    other_session = signed_in(adviser)
    token = client.csrf_token()
    for guess in range(4):
        assert change(client, f"guess number {guess}", token).status_code == 200
    locked = change(client, "guess number 4", token)
    assert locked.status_code == 302 and locked.location == "/login?m=throttled"
    for session in (client, other_session):
        response = session.get("/account/")
        assert response.status_code == 302 and response.location.startswith("/login")
    refused = new_client().sign_in(adviser.username, PASSWORD)  # even the right password waits now
    assert refused.status_code == 429


def test_four_wrong_then_the_right_one_changes_the_password(adviser, signed_in, new_client):
    client = signed_in(adviser)
    token = client.csrf_token()
    for guess in range(4):
        assert change(client, f"guess number {guess}", token).status_code == 200
    done = change(client, PASSWORD, token)
    assert done.status_code == 302 and done.location == "/login?m=changed"
    assert new_client().sign_in(adviser.username, NEW).status_code == 302


def test_the_right_password_clears_the_count(adviser, signed_in):
    """As after a sign-in, a correct password starts the count afresh: five more typos are needed."""
    client = signed_in(adviser)
    token = client.csrf_token()
    for guess in range(4):
        change(client, f"guess number {guess}", token)
    assert client.post("/account/password", data={"current": PASSWORD, "new": "short", "confirm": "short",
                                                   "csrf_token": token}).status_code == 200
    for guess in range(4):
        assert change(client, f"guess number {guess}", token).status_code == 200


def test_wrong_current_passwords_are_audited_like_failed_sign_ins(adviser, signed_in):
    client = signed_in(adviser)
    token = client.csrf_token()
    for guess in range(2):
        change(client, f"guess number {guess}", token)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in_failed")).all()
    assert [(e.actor_id, e.detail, e.ip) for e in events] == [(adviser.id, "current_password", "127.0.0.1")] * 2
    assert all("guess" not in e.detail for e in events)
