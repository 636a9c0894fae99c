"""Interface language (German by default, English on request) and names of language tags."""

from __future__ import annotations

from flask import current_app, has_request_context, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from counsel import languages
from counsel.models.user import Role
from counsel.settings import UI_LOCALES as UI_LOCALES  # settings checks a pledge text for each

ROLE_LABELS = {
    Role.ADVISER: _l("Adviser"),
    Role.SUPERVISOR: _l("Supervision (statistics only)"),
    Role.ADMIN: _l("Administration"),
}


def select_locale() -> str:
    """Use the signed-in user's language, else the one chosen on the sign-in page, else the default."""
    if not has_request_context():
        return str(current_app.config["COUNSEL"].default_locale)
    if current_user.is_authenticated and current_user.locale in UI_LOCALES:
        return str(current_user.locale)
    chosen = session.get("locale")
    if chosen in UI_LOCALES:
        return str(chosen)
    return str(current_app.config["COUNSEL"].default_locale)


def language_name(tag: str, locale: str | None = None) -> str:
    """Name a BCP 47 tag in the interface language (CLDR data, see counsel.languages)."""
    return languages.language_name(tag, locale or str(get_locale() or "de"))
