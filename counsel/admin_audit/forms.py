"""The filter form of the audit trail: a GET form, so a filtered view can be bookmarked and shared."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from counsel.forms_common import CounselForm, DateBounds


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


IP_MESSAGE = _l("Digits, letters a to f, dots and colons only.")


class AuditFilterForm(CounselForm):
    class Meta:
        csrf = False

    action = SelectField(_l("Action"), validators=[Optional()])
    actor = SelectField(_l("Who"), validators=[Optional()])
    case_number = StringField(_l("Case number"), filters=[_strip], validators=[Optional(), Length(max=24)],
                              render_kw={"autocapitalize": "characters", "spellcheck": "false"})
    date_from = DateField(_l("From (date)"), validators=[Optional(), DateBounds()], render_kw=DateBounds().render_kw)
    date_to = DateField(_l("To (date)"), validators=[Optional(), DateBounds()], render_kw=DateBounds().render_kw)
    ip = StringField(_l("Address begins with"), filters=[_strip],
                     validators=[Optional(), Length(max=45), Regexp(r"^[0-9A-Fa-f:.]+$", message=IP_MESSAGE)],
                     description=_l("e.g. 10.1. or 2001:db8:"),
                     render_kw={"autocapitalize": "none", "spellcheck": "false"})

    def validate_date_to(self, field: DateField) -> None:
        """Refuse a range that ends before it starts instead of silently showing nothing."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
