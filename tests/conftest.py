"""Fixtures: a fresh app and database per test (SQLite file or PostgreSQL), factories, a client.

The database comes from COUNSEL_DATABASE_URL when it names PostgreSQL (CI runs the suite on
both); otherwise each test gets its own SQLite file. Tables are made with create_all here, the
one place allowed to; tests/test_migrations.py proves the migrations build the same schema.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from counsel import create_app
from counsel.audit import OPERATOR
from counsel.clock import utcnow
from counsel.crypto import KeyRing
from counsel.extensions import db
from counsel.models.change_request import ChangeRequest
from counsel.models.pledge import PledgeAcceptance
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.services import accounts
from counsel.settings import PROJECT_ROOT, Settings, load

__all__ = ["PROJECT_ROOT"]

PASSWORD = "correct horse battery staple 42"
SERVER_URL = os.environ.get("COUNSEL_DATABASE_URL", "")
ON_POSTGRES = SERVER_URL.startswith("postgresql")
# Each test run gets a database of its own on the server, so parallel runs never meet.
POSTGRES_URL = (
    make_url(SERVER_URL).set(database=f"{make_url(SERVER_URL).database}_{os.getpid()}")
    .render_as_string(hide_password=False) if ON_POSTGRES else ""
)
CSRF_PATTERN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')

_pg_tables_ready = False


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    key_file = tmp_path / "keys.json"
    if not key_file.exists():
        KeyRing.create_file(key_file)
    values: dict[str, Any] = {
        "env": "test",
        "instance_path": str(tmp_path),
        "key_file": str(key_file),
        "database_url": POSTGRES_URL if ON_POSTGRES else f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "master_keys": "",
    }
    values.update(overrides)
    return load(values, environ={})


@pytest.fixture(scope="session", autouse=True)
def postgres_database() -> Iterator[None]:
    """Create this run's PostgreSQL database and drop it at the end."""
    if not ON_POSTGRES:
        yield
        return
    name = make_url(POSTGRES_URL).database
    server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _reset_postgres() -> None:
    global _pg_tables_ready
    if not _pg_tables_ready:
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        _pg_tables_ready = True
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Test settings; `@pytest.mark.settings(name=value)` changes some for one test."""
    marker = request.node.get_closest_marker("settings")
    return make_settings(tmp_path, **(marker.kwargs if marker else {}))


@contextmanager
def running(settings: Settings) -> Iterator[Flask]:
    """Run an app on these settings inside its context; close every connection afterwards."""
    app = create_app(settings)
    app.test_client_class = Client
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    with running(settings) as app:
        if ON_POSTGRES:
            _reset_postgres()
        else:
            db.create_all()
        yield app


class Client(FlaskClient):
    """A test browser that fetches a CSRF token from a page before it posts a form.

    Each request runs in its own thread, so it gets its own app context, `g` and database
    session, as in production, instead of reusing the test's (which would let Flask-Login's
    cached user or the test's identity map leak between requests).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "test-request":  # a redirect followed inside a request
            return super().open(*args, **kwargs)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["response"] = super(Client, self).open(*args, **kwargs)
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="test-request")
        worker.start()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        db.session.expire_all()  # the request may have changed rows the test holds
        response = outcome["response"]
        response.get_data()  # read file responses now and close them, so no file handle is left open
        response.close()
        return response

    def csrf_token(self) -> str:
        html = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = CSRF_PATTERN.search(html)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        form = dict(data or {})
        form.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=form, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
        return self.submit("/login", {"username": username, "password": password}, **kwargs)


@pytest.fixture
def client(app: Flask) -> Client:
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def new_client(app: Flask) -> Any:
    """Make further independent browsers (a colleague, an attacker)."""
    return lambda: app.test_client()


@pytest.fixture
def site(app: Flask) -> Site:
    site = accounts.create_site("DO", "Dortmund", actor=OPERATOR)
    db.session.commit()
    return site


@pytest.fixture
def make_user(app: Flask, settings: Settings, site: Site) -> Any:
    """Create an active user with a known password; roles, site and second factor on request.

    She has accepted the current confidentiality pledge (a row, as if she had; no event on the
    trail) unless `pledged=False`: the pledge's own tests start without it.
    """

    def factory(username: str | None = None, *roles: Role, at: Site | None = None, totp_secret: str | None = None,
                must_change: bool = False, password: str = PASSWORD, name: str | None = None,
                pledged: bool = True) -> User:
        username = username or f"user{uuid.uuid4().hex[:8]}"
        created = accounts.create_user(settings, username=username, display_name=name or username.title(),
                                       site=at or site, roles=set(roles) or {Role.ADVISER}, password=password,
                                       actor=OPERATOR)
        user = created.user
        user.created_at = utcnow() - timedelta(days=365)  # an established colleague (a new one asks for emergencies)
        user.must_change_password = must_change
        if totp_secret:
            user.totp_secret = totp_secret
            user.totp_enabled = True
        if pledged:
            db.session.add(PledgeAcceptance(user_id=user.id, version=settings.pledge_in_force))
        db.session.commit()
        return user

    return factory


@pytest.fixture
def admin(make_user: Any) -> User:
    user: User = make_user("admin", Role.ADMIN, name="Ada Admin")
    return user


@pytest.fixture
def adviser(make_user: Any) -> User:
    user: User = make_user("berta", Role.ADVISER, name="Berta Beraterin")
    return user


@pytest.fixture
def supervisor(make_user: Any) -> User:
    user: User = make_user("sven", Role.SUPERVISOR, name="Sven Koordination")
    return user


@pytest.fixture
def second_person(make_user: Any, signed_in: Any) -> Any:
    """Decide the newest waiting request as a second person (by default another admin, made here)."""

    def decide(decider: User | None = None, decision: str = "confirm") -> Any:
        if decider is None:
            decider = db.session.scalars(select(User).where(User.username == "zora")).first() or make_user(
                "zora", Role.ADMIN, name="Zora Zweitadmin")
        waiting = db.session.scalars(select(ChangeRequest).where(ChangeRequest.status == "pending")
                                     .order_by(ChangeRequest.requested_at.desc())).first()
        assert waiting is not None, "no request is waiting"
        return signed_in(decider).submit(f"/requests/{waiting.id}/{decision}")

    return decide


@pytest.fixture
def signed_in(new_client: Any) -> Any:
    """Return a fresh client signed in as the given user (no second factor)."""

    def sign_in(user: User, password: str = PASSWORD) -> Client:
        browser: Client = new_client()
        response = browser.sign_in(user.username, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return sign_in


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()
