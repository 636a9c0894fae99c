"""The report's filter: a GET form, so a report can be bookmarked and exported with the same address."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Optional, Regexp

from counsel.forms_common import CheckboxList, CounselForm

RUN = "run"
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MONTH_MESSAGE = _l("A month as year and month, e.g. 2026-07.")


class ReportForm(CounselForm):
    class Meta:
        csrf = False

    period = SelectField(_l("Period"), validate_choice=False)
    start = StringField(_l("From month"), validators=[Optional(), Regexp(MONTH_PATTERN, message=MONTH_MESSAGE)],
                        render_kw={"type": "month", "placeholder": "2026-01"})
    end = StringField(_l("To month"), validators=[Optional(), Regexp(MONTH_PATTERN, message=MONTH_MESSAGE)],
                      render_kw={"type": "month", "placeholder": "2026-06"})
    sites = CheckboxList(_l("Sites"), coerce=int, validate_choice=False)
