"""Forms a user fills in about her own account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FieldList, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from counsel.forms_common import CounselForm

LANGUAGE_CHOICES = [SelectChoice("de", "Deutsch"), SelectChoice("en", "English")]


class LanguageForm(CounselForm):
    locale = SelectField(_l("Language of the interface"), choices=LANGUAGE_CHOICES)


class PasswordForm(CounselForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), validators=[DataRequired()],
                        description=_l("At least 12 characters. A sentence of several words is easy to "
                                       "remember and hard to guess."),
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class TotpConfirmForm(CounselForm):
    code = StringField(_l("Six-digit code from the app"), validators=[DataRequired(), Length(min=6, max=8)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class CounselLanguagesForm(CounselForm):
    tags = FieldList(StringField(_l("Language"), validators=[Optional(), Length(max=60)],
                                 render_kw={"list": "language-options", "autocomplete": "off"}),
                     min_entries=6, max_entries=6)


class PledgeForm(CounselForm):
    """Her "I accept": it names the version she was shown, so a text changed meanwhile is not accepted unread."""

    version = HiddenField(validators=[DataRequired(), Length(max=64)])
    next = HiddenField()
