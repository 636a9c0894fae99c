"""counsel: confidential case management for counselling services."""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from counsel.settings import PROJECT_ROOT, Settings, load

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from checked settings: extensions, vault, sessions, security, blueprints."""
    # Imported here so that `import counsel.crypto` or `counsel.settings` stays free of Flask.
    from counsel import errors, extensions, i18n, security, templating
    from counsel.keystore import KeyStore
    from counsel.reporting import facts  # noqa: F401 - keeps the statistics' copy current on every flush
    from counsel.sessions import ServerSessionInterface
    from counsel.vault import Vault, load_keyring

    settings = settings or load()
    app = Flask(__name__, instance_path=str(settings.instance_dir), template_folder=settings.templates_path)
    app.config.from_mapping(
        COUNSEL=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.sqlalchemy_url),
        SESSION_COOKIE_NAME="counsel_session",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_STORAGE_OPTIONS={"wrap_exceptions": True},  # a storage failure is a StorageError
        RATELIMIT_HEADERS_ENABLED=False,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    logging.getLogger("counsel").setLevel(settings.log_level)
    if settings.sqlalchemy_url.startswith("sqlite:///"):
        settings.instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_private_sqlite_file(settings.sqlalchemy_url)

    app.extensions["counsel.vault"] = Vault(load_keyring(settings), KeyStore(settings.key_store_sqlalchemy_url),
                                            settings.blind_index_bits)
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.babel.init_app(app, locale_selector=i18n.select_locale)
    extensions.limiter.init_app(app)
    extensions.login_manager.init_app(app)
    app.session_interface = ServerSessionInterface()

    with app.app_context():
        if extensions.db.engine.dialect.name == "sqlite":
            event.listen(extensions.db.engine, "connect", sqlite_pragmas)
    app.before_request(app.extensions["counsel.vault"].refresh_keys)
    security.init_app(app)
    templating.init_app(app)
    errors.register_error_pages(app)
    register_blueprints(app)
    return app


def engine_options(url: str) -> dict[str, object]:
    """SQLite waits for locks and may serve threaded workers; PostgreSQL checks pooled connections."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite would, with the umask's mode (often 0644).

    SQLite gives the -wal and -shm files the database file's mode, so they follow; an existing
    database keeps the mode it has.
    """
    path = make_url(url).database
    if not path or path == ":memory:":
        return
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Enforce foreign keys, let readers and the session writer work side by side (WAL), and zero what is deleted.

    Without secure_delete an erased case's rows would stay in the file's free pages until reused.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def register_blueprints(app: Flask) -> None:
    # Importing a view module registers its routes on its blueprint.
    import counsel.admin.retention
    import counsel.admin.transfers
    import counsel.admin.views
    import counsel.cases.retention_views
    import counsel.cases.safety_views
    import counsel.cases.views
    import counsel.confirmations.views
    import counsel.erasures.views  # noqa: F401
    from counsel.account.views import bp as account_bp
    from counsel.admin import bp as admin_bp
    from counsel.admin_audit.views import bp as admin_audit_bp
    from counsel.auth.views import bp as auth_bp
    from counsel.cases import bp as cases_bp
    from counsel.confirmations import bp as confirmations_bp
    from counsel.erasures import bp as erasures_bp
    from counsel.main.views import bp as main_bp
    from counsel.reports.views import bp as reports_bp

    for blueprint in (main_bp, auth_bp, account_bp, admin_bp, admin_audit_bp, cases_bp, reports_bp,
                      confirmations_bp, erasures_bp):
        app.register_blueprint(blueprint)
