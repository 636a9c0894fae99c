"""Flask extensions, created unbound and bound to an app in the factory."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import CursorResult, Executable, MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names, so migrations agree across databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CounselSession(FlaskSession):
    """Session that carries the app's vault, so encrypted model fields find their keys."""

    def __init__(self, db: SQLAlchemy, **options: Any) -> None:
        super().__init__(db, **options)
        self.info["vault"] = current_app.extensions.get("counsel.vault")


db = SQLAlchemy(model_class=Base, session_options={"class_": CounselSession})


def changed_rows(statement: Executable) -> int:
    """Run an UPDATE or DELETE in the current session and return how many rows it touched."""
    result = cast(CursorResult[Any], db.session.execute(statement))
    return result.rowcount


def upsert(table: Any) -> Any:
    """Start an INSERT that can say ON CONFLICT, in the dialect of the database in use (both have it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
