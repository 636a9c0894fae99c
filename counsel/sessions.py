"""Server-side sessions in the `web_sessions` table.

The cookie carries only a random id; the data, the owner and the timestamps live on the
server, so sign-out, "Lock now", a password change or a deactivation end a session for good:
a cookie captured earlier finds nothing. Idle and absolute lifetimes are checked on every
request against `counsel.clock`. Writes go through their own short transaction, never through
the request's ORM session, so a view's uncommitted work is never committed by accident.

A visitor who has not yet given a password holds nothing worth ending: a form's CSRF token,
a language, a message to show. That stays in a signed, time-limited cookie, so that anonymous
requests (a sign-in form, a 404 page) write no rows. The moment a session holds anything else
(a password accepted, awaiting the second factor; a user signed in) it moves to the server
under a fresh random id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, insert, or_, select, update
from werkzeug.datastructures import CallbackDict

from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.web_session import WebSession
from counsel.settings import Settings

TOUCH_INTERVAL = timedelta(seconds=30)
# What a session may hold and still live in the visitor's cookie: Flask-WTF's token, the chosen
# language, flashed messages, and Flask-Login's mark that no sign-in is fresh.
ANONYMOUS_KEYS = frozenset({"csrf_token", "locale", "_flashes", "_fresh"})


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus the bookkeeping the interface needs."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        sid: str | None = None,
        last_seen_at: datetime | None = None,
        ended: bool = False,
    ) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.last_seen_at = last_seen_at
        self.ended = ended
        self.modified = False
        self.rotate = False

    def regenerate(self) -> None:
        """Give the session a fresh id on the next save (at sign-in and privilege changes)."""
        self.rotate = True
        self.modified = True


def hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def end_user_sessions(user_id: uuid.UUID) -> None:
    """End every session of a user, inside the caller's transaction (password change, deactivation)."""
    db.session.execute(delete(WebSession).where(WebSession.user_id == user_id))


class ServerSessionInterface(SessionInterface):
    def _settings(self, app: Flask) -> Settings:
        settings: Settings = app.config["COUNSEL"]
        return settings

    def _signer(self, app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(app.secret_key or "", salt="counsel-anonymous-session")

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid:
            return ServerSession()
        settings = self._settings(app)
        if "." in sid:  # a signed anonymous session; a server id never holds a dot
            return self._open_anonymous(app, settings, sid)
        now = utcnow()
        with db.engine.begin() as conn:
            row = conn.execute(select(WebSession).where(WebSession.id_hash == hash_sid(sid))).first()
            if row is None:
                return ServerSession(ended=True)
            if self._expired(settings, row.created_at, row.last_seen_at, now):
                conn.execute(delete(WebSession).where(WebSession.id_hash == hash_sid(sid)))
                return ServerSession(ended=True)
        return ServerSession(json.loads(row.data), sid, row.last_seen_at)

    def _open_anonymous(self, app: Flask, settings: Settings, cookie: str) -> ServerSession:
        """Read an anonymous session back; a forged, altered or idle one is simply gone."""
        try:
            data, signed_at = self._signer(app).loads(cookie, return_timestamp=True)
        except BadSignature:
            return ServerSession(ended=True)
        last_seen = signed_at.replace(tzinfo=None)
        if not isinstance(data, dict) or not set(data) <= ANONYMOUS_KEYS or not (
                timedelta(0) <= utcnow() - last_seen < timedelta(minutes=settings.session_idle_minutes)):
            return ServerSession(ended=True)
        return ServerSession(data, last_seen_at=last_seen)

    @staticmethod
    def _expired(settings: Settings, created: datetime, last_seen: datetime, now: datetime) -> bool:
        idle = timedelta(minutes=settings.session_idle_minutes)
        lifetime = timedelta(hours=settings.session_absolute_hours)
        return now - last_seen >= idle or now - created >= lifetime

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # noqa: S101 - set by open_session
        name = self.get_cookie_name(app)
        now = utcnow()
        user_id = _user_uuid(session.get("_user_id"))
        data = json.dumps(dict(session))
        with db.engine.begin() as conn:
            if session.sid and (session.rotate or not session):
                conn.execute(delete(WebSession).where(WebSession.id_hash == hash_sid(session.sid)))
                session.sid = None
            if not session:
                if session.ended or name in request.cookies:
                    self._drop_cookie(app, response)
                return
            if session.sid is None and set(session) <= ANONYMOUS_KEYS:
                if session.modified or session.last_seen_at is None or now - session.last_seen_at >= TOUCH_INTERVAL:
                    self._set_cookie(app, response, self._signer(app).dumps(dict(session)))
                return
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
                self._purge_expired(conn, self._settings(app), now)
                conn.execute(
                    insert(WebSession).values(
                        id_hash=hash_sid(session.sid), user_id=user_id, data=data, created_at=now, last_seen_at=now
                    )
                )
                self._set_cookie(app, response, session.sid)
                return
            if session.modified or session.last_seen_at is None or now - session.last_seen_at >= TOUCH_INTERVAL:
                result = conn.execute(
                    update(WebSession)
                    .where(WebSession.id_hash == hash_sid(session.sid))
                    .values(data=data, user_id=user_id, last_seen_at=now)
                )
                if result.rowcount == 0:  # ended meanwhile (signed out elsewhere, password changed)
                    self._drop_cookie(app, response)

    def _purge_expired(self, conn: Any, settings: Settings, now: datetime) -> None:
        idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
        life_cutoff = now - timedelta(hours=settings.session_absolute_hours)
        conn.execute(
            delete(WebSession).where(
                or_(WebSession.last_seen_at < idle_cutoff, WebSession.created_at < life_cutoff)
            )
        )

    def _set_cookie(self, app: Flask, response: Response, sid: str) -> None:
        response.set_cookie(
            self.get_cookie_name(app),
            sid,
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite="Strict",
            path=self.get_cookie_path(app),
        )
        response.vary.add("Cookie")

    def _drop_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite="Strict",
        )


def _user_uuid(value: Any) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
