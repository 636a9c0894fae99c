"""Helpers every template may call: navigation by role, language names, session timing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from counsel.i18n import ROLE_LABELS, language_name
from counsel.models.user import Role
from counsel.security import settings


@dataclass(frozen=True)
class NavItem:
    label: Any
    url: str
    current: bool


# (endpoint, label, role that sees it); a user sees the items of all her roles.
NAVIGATION: list[tuple[str, Any, Role | None]] = [
    ("main.index", _l("Start"), None),
    ("admin.users", _l("Accounts"), Role.ADMIN),
    ("admin.sites", _l("Sites"), Role.ADMIN),
]


def main_navigation() -> list[NavItem]:
    items = []
    for endpoint, label, role in NAVIGATION:
        if role is None or current_user.has_role(role):
            url = url_for(endpoint)
            items.append(NavItem(label, url, request.path == url))
    return items


def role_names(roles: Iterable[Role]) -> str:
    return ", ".join(str(ROLE_LABELS[role]) for role in sorted(roles))


def init_app(app: Flask) -> None:
    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "current_locale": lambda: str(get_locale() or "de"),
            "idle_seconds": lambda: settings().session_idle_minutes * 60,
            "main_navigation": main_navigation,
            "role_names": role_names,
            "language_name": language_name,
        }
