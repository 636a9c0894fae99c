"""Forms of the administration pages. Only the fields declared here are ever read."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from counsel.account.forms import LANGUAGE_CHOICES
from counsel.forms_common import CheckboxList, CounselForm
from counsel.i18n import ROLE_LABELS


class UserForm(CounselForm):
    display_name = StringField(_l("Name shown to colleagues"), validators=[DataRequired(), Length(max=120)])
    site_id = SelectField(_l("Site"), coerce=int)
    roles = CheckboxList(_l("Roles"), choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()],
                         validators=[DataRequired(message=_l("Choose at least one role."))])
    locale = SelectField(_l("Language of the interface"), choices=LANGUAGE_CHOICES)
    supervised_sites = CheckboxList(_l("Further sites whose statistics she may see (supervision only)"),
                                    coerce=int)


class NewUserForm(UserForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(min=3, max=64)],
                           description=_l("Small letters, digits, dot, dash or underscore; e.g. a.yilmaz"),
                           render_kw={"autocapitalize": "none", "spellcheck": "false"})


class SiteForm(CounselForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(min=2, max=8)],
                       description=_l("2 to 8 capital letters; prefix of case numbers, e.g. DO"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])


class SiteEditForm(CounselForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(_l("Active"))


class UserFilterForm(CounselForm):
    class Meta:
        csrf = False

    site = SelectField(_l("Site"), coerce=int, validators=[Optional()])
    role = SelectField(_l("Role"), validators=[Optional()], choices=[SelectChoice("", _l("all roles"))]
                       + [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[
        SelectChoice("active", _l("active")), SelectChoice("inactive", _l("deactivated")),
        SelectChoice("all", _l("all"))])


class TransferForm(CounselForm):
    source = SelectField(_l("Cases held by"), validators=[DataRequired()])
    case_ids = CheckboxList(_l("Cases"), validators=[DataRequired(message=_l("Choose at least one case."))])
    target = SelectField(_l("Hand over to"), validators=[DataRequired()])
